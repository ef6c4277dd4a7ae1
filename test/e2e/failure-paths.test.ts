// Failure paths end to end (the real CLI, the run's OpenBao, the simulator over HTTP): a staged set deleted in
// Setup during the soak, KV set back to the old pair during the soak, and an emergency whose retire meets a
// Salesforce outage right after promotion. KV and the simulator are polled while each fault plays out: the pair
// KV's current version names logs in at every poll (outside the revoke-first window, which ends with the publish
// right after promotion), nothing is promoted twice, and state, audit and chat say what happened.
import { afterEach, describe, expect, it } from "vitest";
import { SalesforceClient } from "../../src/adapters/salesforce/salesforce-client.ts";
import { SecretValue } from "../../src/core/secret-value.ts";
import {
  type SalesforceSimulator,
  startSalesforceSimulator,
} from "../../src/simulator/salesforce/salesforce-simulator.ts";
import { type Credential, E2eWorld, MOUNT } from "./e2e-kit.ts";

let sim: SalesforceSimulator | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

/** KV's current pair logs in at the simulator right now. */
async function kvPairLogsIn(w: E2eWorld, cred: Credential, s: SalesforceSimulator): Promise<boolean> {
  const kv = await w.entry(cred.path);
  const key = String(kv?.data["client_id"]);
  return s.validPairs(cred.app.appId, cred.app.consumerId).some((p) => p.key === key);
}

/** A person with the admin app deletes the consumer's staged set in Setup (through the same REST API). */
async function personDeletesStaged(s: SalesforceSimulator, cred: Credential): Promise<void> {
  const client = new SalesforceClient({
    connection: {
      myDomainUrl: s.url,
      apiVersion: "v65.0",
      auth: "client_credentials",
      jwtUsername: undefined,
      jwtPrivateKeyFile: undefined,
    },
    clientId: s.adminApp.consumerKey,
    clientSecret: SecretValue.of(s.adminApp.consumerSecret),
  });
  try {
    for (const staged of await client.listStaged(cred.app.appId, cred.app.consumerId)) {
      await client.deleteStaged(cred.app.appId, cred.app.consumerId, staged.id);
    }
  } finally {
    await client.close();
  }
}

describe("failure paths, with the fault polled while it plays out", () => {
  it("a staged set deleted in Setup during the soak: the rotation rolls back to the old pair and says so", async () => {
    sim = await startSalesforceSimulator({ rotateSemantics: "overlap" });
    const w = await E2eWorld.create(sim, { soak: "2s" });
    const cred = await w.credential("vanished");
    const publish = await w.cli(["rotate", cred.path, "--no-wait"]);
    expect(publish.stdout).toMatch(/^waiting: /);
    expect(await kvPairLogsIn(w, cred, sim)).toBe(true);
    const staged = String((await w.entry(cred.path))?.data["api_key"]);

    await personDeletesStaged(sim, cred);
    // The person's deletion killed the pair KV names; the rotator repairs that at the end of the soak.
    await new Promise((r) => setTimeout(r, 2_100));
    const run = await w.cli(["run", "--once"]);
    expect(run.stdout).toMatch(/resume +ROLLED BACK: ROTATION_STATE_MISMATCH: the staged set is gone/);
    expect(await kvPairLogsIn(w, cred, sim)).toBe(true);
    const kv = await w.entry(cred.path);
    expect(kv?.data["client_id"]).toBe(cred.oldPair.key);
    expect(kv?.meta["rotation_state"]).toBe("failed");
    expect(sim.counters().promotions).toBe(0);
    expect(await w.journal(cred.path)).toBeUndefined();
    expect(w.auditEvents().map((e) => e.type)).toContain("rotation.rolled_back");
    // Nothing more happens on its own; the next run leaves it alone until an operator asks.
    const again = await w.cli(["run", "--once"]);
    expect(again.stdout).toMatch(/the last rotation failed: set rotate=now to try again/);
    expect(await kvPairLogsIn(w, cred, sim)).toBe(true);
    w.expectNoLeak([cred.oldPair.secret, staged, sim.adminApp.consumerSecret]);
  }, 90_000);

  it("KV set back to the old pair during the soak (immediate semantics): not promoted over, rolled back", async () => {
    sim = await startSalesforceSimulator({ rotateSemantics: "immediate" });
    const w = await E2eWorld.create(sim, { soak: "2s" });
    const cred = await w.credential("reverted");
    expect((await w.cli(["rotate", cred.path, "--no-wait"])).stdout).toMatch(/^waiting: /);
    // A sync job whose source of truth still has the old pair writes it back.
    const cur = await w.entry(cred.path);
    await w.admin.seedKv(MOUNT, cred.path, {
      ...(cur?.data as Record<string, string>),
      client_id: cred.oldPair.key,
      api_key: cred.oldPair.secret,
      previous_client_id: "",
      previous_key: "",
    });
    await new Promise((r) => setTimeout(r, 2_100));
    const run = await w.cli(["run", "--once"]);
    expect(run.stdout).toMatch(
      /resume +ROLLED BACK: ROTATION_STATE_MISMATCH: KV was set back to the old pair/,
    );
    expect(sim.counters().promotions).toBe(0);
    expect(await kvPairLogsIn(w, cred, sim)).toBe(true);
    expect(sim.validPairs(cred.app.appId, cred.app.consumerId).map((p) => p.key)).toEqual([cred.oldPair.key]);
    w.expectNoLeak([cred.oldPair.secret, String(cur?.data["api_key"]), sim.adminApp.consumerSecret]);
  }, 90_000);

  it("an emergency whose retire meets a Salesforce outage right after promotion: KV names the new pair throughout", async () => {
    let promoted = false;
    let s: SalesforceSimulator | undefined;
    s = await startSalesforceSimulator({
      rotateSemantics: "immediate",
      onRequest: (e) => {
        if (!promoted && e.method === "PATCH" && e.status === 200) {
          promoted = true;
          // From the moment the old pair dies, every staged listing and DELETE answers 503: the retire step's
          // first call (the DELETE of the rotated record, by id right after promotion; a listing on a resume).
          s?.addFault({ method: "GET", path: "/staged", status5xxRate: 1 });
          s?.addFault({ method: "DELETE", path: "/staged/", status5xxRate: 1 });
        }
      },
    });
    sim = s;
    const w = await E2eWorld.create(s, { verifyTimeout: "2s", rotationExtra: ["max_attempts: 3"] });
    const cred = await w.credential("emergency-outage", { rotate: "emergency", rotate_reason: "INC-1" });
    const polls: boolean[] = [];
    for (let i = 0; i < 4; i++) {
      await w.cli(["run", "--once"]);
      if (promoted) polls.push(await kvPairLogsIn(w, cred, s));
    }
    // Promoted once, published at once: every poll after promotion finds a KV pair that logs in.
    expect(promoted).toBe(true);
    expect(polls.length).toBeGreaterThan(0);
    expect(polls.every((ok) => ok)).toBe(true);
    const main = s.primaryPair(cred.app.appId, cred.app.consumerId);
    expect((await w.entry(cred.path))?.data["client_id"]).toBe(main.key);
    expect(s.counters().promotions).toBe(1);
    // Once Salesforce answers again, an operator's rotate=now finishes the retirement.
    s.clearFaults();
    await w.admin.request(
      "PATCH",
      `${MOUNT}/metadata/${cred.path}`,
      { custom_metadata: { rotate: "now" } },
      {
        "Content-Type": "application/merge-patch+json",
      },
    );
    const finish = await w.cli(["run", "--once"]);
    expect(finish.stdout).toMatch(/completed/);
    expect(s.validPairs(cred.app.appId, cred.app.consumerId).map((p) => p.key)).toEqual([main.key]);
    expect(await kvPairLogsIn(w, cred, s)).toBe(true);
    w.expectNoLeak([cred.oldPair.secret, main.secret, s.adminApp.consumerSecret]);
  }, 120_000);
});
