// Three `run --once` processes started at the same moment over fifty flagged credentials, sharing one Vault, one
// Salesforce and one audit file: the leases make each credential rotate exactly once, every credential ends
// clean, and the audit file the three processes appended to still verifies as one hash chain.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifyAuditChain } from "../../src/adapters/audit/audit-chain.ts";
import {
  type SalesforceSimulator,
  startSalesforceSimulator,
} from "../../src/simulator/salesforce/salesforce-simulator.ts";
import { expectRotatedClean } from "./e2e-invariants.ts";
import { type Credential, E2eWorld } from "./e2e-kit.ts";

let sim: SalesforceSimulator;
beforeAll(async () => {
  sim = await startSalesforceSimulator();
});
afterAll(async () => {
  await sim?.close();
});

const COUNT = 50;

describe("three run --once processes at once", () => {
  it(`rotate each of ${COUNT} flagged credentials exactly once, all clean, with one verifying audit file`, async () => {
    const w = await E2eWorld.create(sim, { verifyTimeout: "10s", leaseTtl: "60s" });
    const creds: Credential[] = [];
    for (let i = 0; i < COUNT; i++) {
      creds.push(
        await w.credential(`c${String(i).padStart(2, "0")}`, { rotate: "now", rotate_reason: "CHG-7" }),
      );
    }
    const before = sim.counters();

    const runs = await Promise.all([1, 2, 3].map(() => w.cli(["run", "--once"])));

    for (const run of runs) {
      expect(run.code, run.stdout + run.stderr).toBe(0);
      expect(run.stdout).toMatch(/ 0 waiting, 0 failed, 0 rolled back, /);
    }
    expect(sim.counters().promotions - before.promotions).toBe(COUNT);
    expect(sim.counters().stagedPosts - before.stagedPosts).toBe(COUNT);
    // Every credential completed in exactly one process; the others skipped it or found nothing left to do.
    const completions = runs.flatMap((r) =>
      r.stdout.split("\n").filter((l) => /\scompleted: KV version 2/.test(l)),
    );
    expect(completions).toHaveLength(COUNT);
    for (const cred of creds) {
      expect(completions.filter((l) => l.startsWith(`${cred.path} `))).toHaveLength(1);
    }
    for (const cred of creds) {
      // Each credential's own promotion: its pair changed once; the total above proves no second promotion.
      await expectRotatedClean(w, cred, sim.counters().promotions - 1);
    }
    const lines = w.auditLines();
    expect(verifyAuditChain(lines)).toMatchObject({ ok: true });
    const completed = lines
      .filter((l) => l !== "")
      .map((l) => JSON.parse(l) as { type: string; path: string });
    expect(completed.filter((e) => e.type === "rotation.completed")).toHaveLength(COUNT);
  }, 180_000);
});
