// A real `eca-rotator rotate` process killed with SIGKILL right after Salesforce created the staged set (the
// test-only ECA_ROTATOR_TEST_CRASH_AT switch), then `run --once` takes the dead owner's lease over once it
// expires, adopts the staged set from the journal and completes: one staged POST, one promotion, KV equal to
// Salesforce's main pair. To extend to the full matrix, loop over every "<before|after>:<port method>[#N]"
// the engine calls (see test/core/rotation/rotation-engine-crash.test.ts for the list).
import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type SalesforceSimulator,
  startSalesforceSimulator,
} from "../../src/simulator/salesforce/salesforce-simulator.ts";
import { expectCompletedAudit, expectRotatedClean } from "./e2e-invariants.ts";
import { type CliRun, E2eWorld } from "./e2e-kit.ts";

let sim: SalesforceSimulator;
beforeAll(async () => {
  sim = await startSalesforceSimulator();
});
afterAll(async () => {
  await sim?.close();
});

const CLI = path.resolve(import.meta.dirname, "../../src/cli.ts");
const CRASH = { ECA_ROTATOR_TEST_CRASH_AT: "after:createStaged" };

describe("a rotation killed mid-way", () => {
  it("dies after POST staged; run --once resumes after the lease expires and completes exactly once", async () => {
    const w = await E2eWorld.create(sim, { verifyTimeout: "2s", leaseTtl: "3s" });
    const cred = await w.credential("crashing");
    const before = sim.counters();

    const dead = await w.cli(["rotate", cred.path], CRASH);

    expect(dead.signal, dead.stdout + dead.stderr).toBe("SIGKILL");
    expect(dead.stdout).toBe("");
    // The journal says `staging` (intent written before the POST); Salesforce holds a staged set it never saw.
    expect((await w.journal(cred.path))?.data["step"]).toBe("staging");
    expect(sim.validPairs(cred.app.appId, cred.app.consumerId)).toHaveLength(2);
    expect((await w.entry(cred.path))?.data["client_id"]).toBe(cred.oldPair.key);

    const runs = await runUntilSettled(w, cred.path);
    const last = runs.at(-1);
    expect(last?.stdout).toMatch(new RegExp(`${cred.path}\\s+resume\\s+completed: KV version 2`));
    expect(last?.code).toBe(0);
    // Runs before the lease expired left it alone, naming the dead owner's lease.
    for (const early of runs.slice(0, -1)) {
      expect(early.stdout).toMatch(
        new RegExp(`${cred.path}\\s+resume\\s+skipped: another process .* holds the lease`),
      );
    }
    await expectRotatedClean(w, cred, before.promotions);
    expect(sim.counters().stagedPosts - before.stagedPosts).toBe(1); // adopted, never staged twice
    expect(expectCompletedAudit(w, cred)).toContain("rotation.resumed");
  }, 90_000);

  it("has no crash switch of its own: the variable does nothing without the tests' preload", async () => {
    const w = await E2eWorld.create(sim);
    const cred = await w.credential("not-crashing");
    const before = sim.counters().promotions;

    // The product as shipped, started without the preload the crash tests add.
    // (Asynchronously: the simulator answers from this process.)
    const run = await promisify(execFile)(
      process.execPath,
      [CLI, "rotate", cred.path, "--config", w.configFile],
      {
        env: {
          PATH: process.env["PATH"] ?? "",
          HOME: process.env["HOME"] ?? "/tmp",
          VAULT_ADDR: w.vault.addr,
          VAULT_TOKEN: w.vault.token,
          ECA_ROTATOR_TEST_CRASH_AT: "after:createStaged",
          ECA_ROTATOR_TEST_MODE: "1",
        },
        encoding: "utf8",
        timeout: 60_000,
      },
    );
    w.outputs.push(run.stdout, run.stderr);

    // execFile rejects on a signal or a non-zero exit: getting here means exit 0.
    expect(run.stderr).not.toContain("ECA_ROTATOR_TEST");
    await expectRotatedClean(w, cred, before);
  }, 60_000);
});

/** `run --once` every second until the credential's row no longer says the lease is held (at most 15 runs). */
async function runUntilSettled(w: E2eWorld, credPath: string): Promise<CliRun[]> {
  const runs: CliRun[] = [];
  for (let i = 0; i < 15; i++) {
    const run = await w.cli(["run", "--once"]);
    runs.push(run);
    if (!new RegExp(`${credPath}\\s+resume\\s+skipped: another process`).test(run.stdout)) return runs;
    await new Promise((r) => setTimeout(r, 1_000));
  }
  return runs;
}
