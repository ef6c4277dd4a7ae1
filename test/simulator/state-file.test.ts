// The optional JSON state file: a restarted simulator keeps its apps, pairs, staged records and sessions.
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  type SalesforceSimulator,
  startSalesforceSimulator,
} from "../../src/simulator/salesforce/salesforce-simulator.ts";
import { adminLogin, api, tokenRequest, V } from "./sim-client.ts";

const running: SalesforceSimulator[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.close()));
});
async function start(stateFile: string) {
  const s = await startSalesforceSimulator({ stateFile });
  running.push(s);
  return s;
}

describe("the state file", () => {
  it("keeps apps, pairs, staged records and sessions across a restart", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "eca-sim-state-"));
    const file = path.join(dir, "org.json");
    const first = await start(file);
    const app = first.createApp("Persistent_App");
    const token = await adminLogin(first);
    const stagedUrl = `${V}/apps/oauth/credentials/${app.appId}/${app.consumerId}/staged`;
    const staged = (await api(first, token, "POST", stagedUrl, {})).json.stagedCredentials[0];
    await first.close();
    running.length = 0;
    expect(existsSync(file)).toBe(true);
    expect(readdirSync(dir)).toEqual(["org.json"]);

    const second = await start(file);
    expect(second.adminApp).toEqual(first.adminApp);
    expect(second.findApp("Persistent_App")).toEqual(app);
    expect(second.validPairs(app.appId, app.consumerId)).toEqual([
      { key: app.consumerKey, role: "primary" },
      { key: staged.key, role: "staged" },
    ]);
    expect((await api(second, token, "GET", stagedUrl)).json.stagedCredentials[0].id).toBe(staged.id);
    expect((await tokenRequest(second, staged.key, staged.secret)).status).toBe(200);
    expect(second.counters().stagedPosts).toBe(1);
  });

  it("refuses a state file that is not one, without quoting it", async () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), "eca-sim-state-")), "bad.json");
    writeFileSync(file, '{"secret":"test-secret-canary-statefile"');
    const err = await startSalesforceSimulator({ stateFile: file }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "CONFIG_INVALID" });
    expect(String((err as Error).message)).not.toContain("test-secret-canary");
    writeFileSync(file, '{"format":"something-else"}');
    await expect(startSalesforceSimulator({ stateFile: file })).rejects.toThrow(/not a .* file/);
  });
});
