// A soak_until=readers rotation driven from the command line promotes on the evidence serve's replicas share:
// `rotate --no-wait` publishes, `run --once` holds while a reader still reads the old version (as the shard
// entries under the state prefix say), and promotes once the shared entries show it read the new one.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type SalesforceSimulator,
  startSalesforceSimulator,
} from "../../src/simulator/salesforce/salesforce-simulator.ts";
import { shareReads } from "../support/shared-reads.ts";
import { E2eWorld, MOUNT } from "./e2e-kit.ts";

const OLD = "test-secret-canary-readers-soak-old-7e2a";

let sim: SalesforceSimulator;
beforeAll(async () => {
  sim = await startSalesforceSimulator();
});
afterAll(async () => {
  await sim?.close();
});

describe("soak_until=readers from the CLI", () => {
  it("run --once waits while a reader lags and promotes once the shared entries show it moved", async () => {
    const w = await E2eWorld.create(sim, {
      rotationExtra: ["soak_until: readers", "soak_max: 1h"],
      extraYaml: ["readers:", "  file: /nonexistent/eca-audit.log", "  window: 7d"],
    });
    const p = `${w.prefix}/hook`;
    await w.admin.seedKv(
      MOUNT,
      p,
      { current_secret: OLD, endpoint: "https://hooks.example.com" },
      { provider: "generated", credential_type: "webhook_secret" },
    );
    const share = (version: number) =>
      shareReads(w.vault, { statePrefix: w.statePrefix, prefixes: [w.prefix] }, [
        { path: p, version, name: "approle", role: "billing-sync", entity: "e-billing", at: new Date() },
      ]);
    expect(await share(1)).toBe(1);

    const first = await w.cli(["rotate", p, "--no-wait"]);
    expect(first.code).toBe(0);
    const published = await w.entry(p);
    expect(published?.version).toBe(2);
    expect(published?.data["rotation_phase"]).toBe("dual-accept");

    const held = await w.cli(["run", "--once"]);
    expect(held.code).toBe(0);
    expect(held.stdout).toMatch(new RegExp(`${p}\\s+resume\\s+.*approle \\(billing-sync\\)`));
    expect((await w.entry(p))?.data["previous_secret"]).toBe(OLD);

    expect(await share(2)).toBe(1);
    const moved = await w.cli(["run", "--once"]);
    expect(moved.stdout).toMatch(new RegExp(`${p}\\s+resume\\s+completed`));
    const done = await w.entry(p);
    expect(done?.data["previous_secret"]).toBe("");
    expect(done?.data["rotation_phase"]).toBe("complete");
    // generated ends its overlap with rotation.retired, carrying what the promotion went by.
    const retired = w.auditEvents().find((e) => e.path === p && e.type === "rotation.retired");
    expect(JSON.stringify(retired)).toContain("all-moved");
    w.expectNoLeak([OLD]);
  }, 90_000);
});
