// Fault injection over real sockets: latency, 503 maintenance pages, and "commit then drop".
import { afterEach, describe, expect, it } from "vitest";
import {
  type SalesforceSimulator,
  startSalesforceSimulator,
} from "../../src/simulator/salesforce/salesforce-simulator.ts";
import { adminLogin, api, V } from "./sim-client.ts";

let sim: SalesforceSimulator | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

async function setup() {
  sim = await startSalesforceSimulator();
  const s = sim;
  const app = s.createApp("Faulty_App");
  const token = await adminLogin(s);
  const stagedUrl = `${V}/apps/oauth/credentials/${app.appId}/${app.consumerId}/staged`;
  return { s, app, token, stagedUrl };
}

async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const started = performance.now();
  const value = await fn();
  return { ms: performance.now() - started, value };
}

describe("faults", () => {
  it("delays matching calls by latencyMs, only as many times as asked", async () => {
    const { s, token } = await setup();
    s.addFault({ path: "/apps/oauth/usage", latencyMs: 400, times: 1 });
    const slow = await timed(() => api(s, token, "GET", `${V}/apps/oauth/usage`));
    expect(slow.value.status).toBe(200);
    expect(slow.ms).toBeGreaterThanOrEqual(390);
    const fast = await timed(() => api(s, token, "GET", `${V}/apps/oauth/usage`));
    expect(fast.ms).toBeLessThan(slow.ms - 200);
    const other = await timed(() => api(s, token, "GET", `${V}/limits`));
    expect(other.ms).toBeLessThan(slow.ms - 200);
  });

  it("answers 503 with an HTML maintenance page without doing the work", async () => {
    const { s, token, stagedUrl } = await setup();
    s.addFault({ method: "POST", path: /\/staged$/, status5xxRate: 1, times: 2 });
    for (let i = 0; i < 2; i++) {
      const res = await api(s, token, "POST", stagedUrl, {});
      expect(res.status).toBe(503);
      expect(res.headers.get("content-type")).toMatch(/^text\/html/);
      expect(res.text).toMatch(/^<!DOCTYPE html>.*Service Unavailable/s);
      expect(res.json).toBeUndefined();
    }
    expect(s.counters().stagedPosts).toBe(0);
    expect((await api(s, token, "GET", stagedUrl)).json.stagedCredentials).toEqual([]);
    expect((await api(s, token, "POST", stagedUrl, {})).status).toBe(201);
  });

  it("fails about the asked share of calls with status5xxRate", async () => {
    const { s, token } = await setup();
    s.addFault({ path: "/limits", status5xxRate: 0.5 });
    let failed = 0;
    for (let i = 0; i < 100; i++) {
      if ((await api(s, token, "GET", `${V}/limits`)).status === 503) failed++;
    }
    expect(failed).toBeGreaterThan(15);
    expect(failed).toBeLessThan(85);
    s.clearFaults();
    expect((await api(s, token, "GET", `${V}/limits`)).status).toBe(200);
  });

  it("commits a staged POST, then drops the connection: the client sees a socket error, the set exists", async () => {
    const { s, app, token, stagedUrl } = await setup();
    s.addFault({ method: "POST", path: "/staged", commitThenDrop: true, times: 1 });
    await expect(api(s, token, "POST", stagedUrl, {})).rejects.toThrow(/fetch failed|socket|terminated/i);
    const after = await api(s, token, "GET", stagedUrl);
    expect(after.json.stagedCredentials).toHaveLength(1);
    expect(after.json.stagedCredentials[0].state).toBe("active");
    expect(s.counters().stagedPosts).toBe(1);
    expect(s.validPairs(app.appId, app.consumerId).map((p) => p.role)).toEqual(["primary", "staged"]);
  });

  it("commits a PATCH rotate, then drops the connection: the promotion happened", async () => {
    const { s, app, token, stagedUrl } = await setup();
    const staged = (await api(s, token, "POST", stagedUrl, {})).json.stagedCredentials[0];
    s.addFault({ method: "PATCH", commitThenDrop: true, times: 1 });
    await expect(api(s, token, "PATCH", staged.url, { command: "rotate" })).rejects.toThrow();
    expect(s.counters().promotions).toBe(1);
    expect(s.primaryPair(app.appId, app.consumerId).key).toBe(staged.key);
    expect((await api(s, token, "GET", staged.url)).json.state).toBe("rotated");
  });
});
