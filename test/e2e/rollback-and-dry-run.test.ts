// `rollback PATH` during the soak, and `rotate --dry-run`, which must change nothing anywhere: every KV entry
// of the test (credentials, state, connection; versions and metadata included) and the simulator's pairs and
// counters are compared before and after.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type SalesforceSimulator,
  startSalesforceSimulator,
} from "../../src/simulator/salesforce/salesforce-simulator.ts";
import { admin } from "../support/vault-admin.ts";
import { E2eWorld, MOUNT } from "./e2e-kit.ts";

let sim: SalesforceSimulator;
beforeAll(async () => {
  sim = await startSalesforceSimulator();
});
afterAll(async () => {
  await sim?.close();
});

describe("eca-rotator rollback", () => {
  it("restores the old pair as the current KV version and deletes the staged set before promotion", async () => {
    const w = await E2eWorld.create(sim, { soak: "1h" });
    const cred = await w.credential("rollback");
    const before = sim.counters().promotions;
    const published = await w.cli(["rotate", cred.path, "--no-wait"]);
    expect(published.stdout).toMatch(/^waiting: /);
    expect(sim.validPairs(cred.app.appId, cred.app.consumerId)).toHaveLength(2);

    const run = await w.cli(["rollback", cred.path, "--reason", "consumer broke"]);

    expect(run.stdout).toBe(
      `rolled back: ${cred.path}: the staged pair is deleted and KV holds the old pair again (KV version 3); rolled back by cli: consumer broke\n`,
    );
    expect(run.code).toBe(0);
    const kv = await w.entry(cred.path);
    expect(kv?.version).toBe(3);
    expect(kv?.data).toMatchObject({
      client_id: cred.oldPair.key,
      api_key: cred.oldPair.secret,
      previous_client_id: "",
      previous_key: "",
    });
    // Only the old pair logs in: the staged set is gone and was never promoted.
    expect(sim.validPairs(cred.app.appId, cred.app.consumerId)).toEqual([
      { key: cred.oldPair.key, role: expect.any(String) },
    ]);
    expect(sim.primaryPair(cred.app.appId, cred.app.consumerId)).toEqual(cred.oldPair);
    expect(sim.counters().promotions).toBe(before);
    expect(kv?.meta["rotation_state"]).toBe("failed");
    expect(kv?.meta["last_rotation_error"]).toBe("rolled back by cli: consumer broke");
    expect(await w.journal(cred.path)).toBeUndefined();
    expect(await w.lease(cred.path)).toBeUndefined();
    expect(w.auditEvents().at(-1)).toMatchObject({ type: "rotation.rolled_back", kvVersion: 3 });
    w.expectNoLeak([cred.oldPair.secret, sim.adminApp.consumerSecret]);
  }, 60_000);

  it("refuses with exit 1 when there is no rotation to roll back", async () => {
    const w = await E2eWorld.create(sim);
    const cred = await w.credential("idle");
    const run = await w.cli(["rollback", cred.path]);
    expect(run.stdout).toBe(
      `failed: ${cred.path}: ROTATION_ROLLBACK_REFUSED: there is no rotation under way to roll back\n`,
    );
    expect(run.code).toBe(1);
  }, 60_000);
});

describe("eca-rotator rotate --dry-run", () => {
  it("prints the plan and the preflight checks and changes nothing in Vault or at Salesforce", async () => {
    const w = await E2eWorld.create(sim);
    const cred = await w.credential("dry", { rotate: "now" });
    const kvBefore = await w.snapshot();
    const simBefore = w.simState(cred.app);

    const run = await w.cli(["rotate", cred.path, "--dry-run"]);

    expect(run.stdout.split("\n")).toEqual([
      `dry run: rotate ${cred.path} (standard); nothing was changed`,
      "  CHECK  TOPIC       DETAIL",
      "  ok     journal     no rotation under way",
      "  ok     lease       free",
      "  ok     credential  KV version 1",
      "  ok     policy      provider salesforce-eca",
      `  ok     salesforce  app ${cred.app.appId}, consumer ${cred.app.consumerId} on sim`,
      "  ok     preflight   not self-rotation; KV matches Salesforce; nothing staged",
      "  ok     preflight   no path owns this consumer yet: this path becomes its owner once its pair logs in",
      "  ok     preflight   the pair in KV logs in at Salesforce (the path holds this consumer)",
      "steps: claimed → inspected → staging → staged → verified → published → promoting → promoted → verified_main → retired → closed",
      "soak: 0s between publishing and promoting",
      "would rotate: yes",
      "",
    ]);
    expect(run.code).toBe(0);
    expect(await w.snapshot()).toEqual(kvBefore); // not even the fingerprint key was created
    expect(w.simState(cred.app)).toEqual(simBefore);
  }, 60_000);

  it("reports a failed preflight with exit 1, still changing nothing", async () => {
    const w = await E2eWorld.create(sim);
    const cred = await w.credential("drifted");
    // KV no longer matches Salesforce: someone pasted another key into client_id.
    await admin().seedKv(MOUNT, cred.path, { client_id: "3MVG9-not-the-main-key", api_key: "x-y-z-w" });
    const kvBefore = await w.snapshot();
    const simBefore = w.simState(cred.app);

    const run = await w.cli(["rotate", cred.path, "--dry-run", "--emergency"]);

    expect(run.stdout).toMatch(/^dry run: rotate .* \(emergency\); nothing was changed$/m);
    expect(run.stdout).toMatch(/^ {2}FAIL {3}preflight {3}ROTATION_STATE_MISMATCH: /m);
    expect(run.stdout).toMatch(/^ {2}FAIL {3}preflight {3}ROTATION_POSSESSION_UNPROVEN: /m);
    expect(run.stdout).toMatch(/^would rotate: no \(2 check\(s\) failed\)$/m);
    expect(run.code).toBe(1);
    expect(await w.snapshot()).toEqual(kvBefore);
    expect(w.simState(cred.app)).toEqual(simBefore);
  }, 60_000);
});
