// Three `run --once` processes started at the same moment over fifty flagged credentials, sharing one Vault, one
// Salesforce and one audit file: the leases make each credential rotate exactly once, every credential ends
// clean, and the audit file the three processes appended to still verifies as one hash chain. And two deployments
// that do not share a state_prefix: one never starts a rotation the other is running.
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifyAuditChain } from "../../src/adapters/audit/jsonl-file-audit-sink.ts";
import {
  type SalesforceSimulator,
  startSalesforceSimulator,
} from "../../src/simulator/salesforce/salesforce-simulator.ts";
import { expectRotatedClean } from "./e2e-invariants.ts";
import { type Credential, E2eWorld, MOUNT, runCli } from "./e2e-kit.ts";

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

describe("two deployments with different state_prefix", () => {
  it("a laptop's run --once with its own config never starts a rotation the other deployment is running", async () => {
    const w = await E2eWorld.create(sim, { rotationExtra: ["retire_after: 1h"] });
    // The deployment rotates both: one waits out its soak (new pair published), the other was promoted and
    // waits out retire_after (the old pair still lives). Their journals are under its state_prefix.
    const soaking = await w.credential("soaking", { rotate: "now", soak: "1h" });
    const retiring = await w.credential("retiring", { rotate: "now" });
    const first = await w.cli(["run", "--once"]);
    expect(first.stdout, first.stdout + first.stderr).toMatch(/2 waiting/);
    expect((await w.entry(soaking.path))?.meta["rotation_state"]).toBe("awaiting_promotion");
    expect((await w.entry(retiring.path))?.meta["rotation_state"]).toBe("in_progress");

    // A laptop: the same Vault, mount and prefixes, another state_prefix, so it cannot see those journals.
    const laptopConfig = path.join(w.dir, "laptop.yaml");
    writeFileSync(
      laptopConfig,
      readFileSync(w.configFile, "utf8").replace(
        `state_prefix: ${w.statePrefix}`,
        `state_prefix: ${w.statePrefix}-laptop`,
      ),
    );
    const laptop = (args: string[]) =>
      runCli([...args, "--config", laptopConfig], { VAULT_ADDR: w.vault.addr, VAULT_TOKEN: w.vault.token });
    const creds = [soaking, retiring];
    const before = { counters: sim.counters(), kv: await Promise.all(creds.map((c) => w.entry(c.path))) };
    // Someone sets emergency flags meanwhile; the laptop sees them first.
    for (const c of creds) {
      await w.admin.request(
        "PATCH",
        `${MOUNT}/metadata/${c.path}`,
        { custom_metadata: { rotate: "emergency", rotate_reason: "INC-3" } },
        { "Content-Type": "application/merge-patch+json" },
      );
    }

    const scan = JSON.parse((await laptop(["scan", "--json"])).stdout) as {
      items: Array<{ path: string; state: string; stuck: boolean; reason: string | null }>;
    };
    for (const [c, state] of [
      [soaking, "awaiting_promotion"],
      [retiring, "in_progress"],
    ] as const) {
      expect(scan.items.find((i) => i.path === c.path)).toMatchObject({
        state,
        stuck: true,
        reason: expect.stringMatching(/no journal for it: another deployment/),
      });
    }
    const cycle = await laptop(["run", "--once"]);
    expect(cycle.stdout.match(/no journal for it: another deployment/g)).toHaveLength(2);
    for (const c of creds) {
      const rotate = await laptop(["rotate", c.path, "--emergency"]);
      expect(rotate.code).toBe(1);
      expect(rotate.stdout).toMatch(/^skipped: .*no journal for it: another deployment/);
    }

    // Nothing happened at Salesforce or in KV data: no second POST (which would also have deleted the rotated
    // record early), no promotion; the deployment's rotations are intact.
    expect(sim.counters().stagedPosts).toBe(before.counters.stagedPosts);
    expect(sim.counters().promotions).toBe(before.counters.promotions);
    for (const [i, c] of creds.entries()) {
      const after = await w.entry(c.path);
      expect(after?.version).toBe(before.kv[i]?.version);
      expect(after?.data).toEqual(before.kv[i]?.data);
      expect(after?.meta["rotation_state"]).toBe(before.kv[i]?.meta["rotation_state"]);
      expect(await w.journal(c.path)).toBeDefined();
    }
    expect(sim.validPairs(retiring.app.appId, retiring.app.consumerId).map((p) => p.role)).toEqual([
      "primary",
      "rotated",
    ]);
  }, 90_000);
});
