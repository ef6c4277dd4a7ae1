// The crash matrix's shared machinery: one `run --once` process killed with SIGKILL at a named port call (the
// test-only ECA_ROTATOR_TEST_CRASH_AT switch), then `run --once` repeated until the rotation settled, then the
// invariants. Every case gets its own simulator (the promotion counter and the rotate semantics are per
// simulator) and its own world, so cases in one file run concurrently.
import { expect } from "vitest";
import {
  type SalesforceSimulator,
  type SimulatorOptions,
  startSalesforceSimulator,
} from "../../src/simulator/salesforce/salesforce-simulator.ts";
import { ROTATE_SEMANTICS, type RotateSemantics } from "../../src/simulator/salesforce/sim-settings.ts";
import { expectRotatedClean } from "./e2e-invariants.ts";
import { type CliRun, type Credential, E2eWorld } from "./e2e-kit.ts";

export type Semantics = RotateSemantics;
export type Mode = "standard" | "emergency";

/** Short enough for a quick takeover of a dead owner's lease; verify_timeout must stay below it. */
export const LEASE_TTL_MS = 3_000;
const WORLD = { verifyTimeout: "2s", leaseTtl: `${LEASE_TTL_MS / 1000}s` } as const;

/**
 * How often a clean rotation calls each irreversible or state-changing port method: the engine's call log (see
 * test/core/rotation/rotation-engine-crash.test.ts) less the soak wait and its resume, which soak: 0s skips.
 * writeLease counts the claim only: renewals depend on how long the run takes. A boundary the process never
 * reaches fails. Every rotate semantics makes the same calls: retire deletes the `rotated` record whatever key it
 * shows.
 */
const STANDARD_CALLS = {
  createStaged: 1,
  promote: 1,
  deleteStaged: 1,
  writeFields: 2,
  patchMetadata: 2,
  writeJournal: 6,
  writeLease: 1,
  deleteJournal: 1,
  deleteLease: 1,
};
const EMERGENCY_CALLS = { createStaged: 1, promote: 1, deleteStaged: 1, writeFields: 1, deleteJournal: 1 };

function perSemantics(counts: Record<string, number>): Record<Semantics, Record<string, number>> {
  return Object.fromEntries(ROTATE_SEMANTICS.map((s) => [s, counts])) as Record<
    Semantics,
    Record<string, number>
  >;
}

export const CALLS: Record<Mode, Record<Semantics, Record<string, number>>> = {
  standard: perSemantics(STANDARD_CALLS),
  emergency: perSemantics(EMERGENCY_CALLS),
};

/**
 * The boundaries to kill at: right after every call of `counts` (the call took effect, its answer was lost), and
 * right before the first lease write and before each Salesforce call (the journal's intent is written, the call
 * never made). "Before" any other call leaves exactly what "after" the previous state-changing call left (only
 * reads lie between; a SIGKILL keeps no memory), so those cases would repeat others at ~4 CPU-seconds each.
 */
export function boundaries(counts: Record<string, number>): string[] {
  const out: string[] = [];
  for (const [method, n] of Object.entries(counts)) {
    for (let i = 1; i <= n; i++) {
      if (BEFORE_TOO.has(`${method}#${i}`)) out.push(`before:${method}#${i}`);
      out.push(`after:${method}#${i}`);
    }
  }
  return out;
}

const BEFORE_TOO = new Set(["writeLease#1", "createStaged#1", "promote#1", "deleteStaged#1"]);

export interface CrashWorld {
  readonly sim: SalesforceSimulator;
  readonly w: E2eWorld;
  readonly cred: Credential;
  readonly promotionsBefore: number;
}

/** A fresh simulator and world with one credential flagged for rotation (rotate=now or rotate=emergency). */
export async function crashWorld(
  mode: Mode,
  semantics: Semantics,
  simOptions: SimulatorOptions = {},
): Promise<CrashWorld> {
  const sim = await startSalesforceSimulator({ ...simOptions, rotateSemantics: semantics });
  const w = await E2eWorld.create(sim, WORLD);
  const cred = await w.credential("crash", {
    rotate: mode === "emergency" ? "emergency" : "now",
    rotate_reason: "CHG-crash",
  });
  return { sim, w, cred, promotionsBefore: sim.counters().promotions };
}

/**
 * `run --once` until this credential has no journal and no live lease (at most 12 runs). A lease left by a killed
 * process is waited out: the next run starts once it must have expired, and skipped runs are retried shortly.
 */
export async function settle(w: E2eWorld, credPath: string, diedAt: number): Promise<CliRun[]> {
  const runs: CliRun[] = [];
  for (let i = 0; i < 12; i++) {
    const [journal, lease] = [await w.journal(credPath), await w.lease(credPath)];
    const leaseLive = lease !== undefined && Date.parse(String(lease.data["expires_at"])) > Date.now();
    if (i > 0 && journal === undefined && !leaseLive) break;
    if (lease !== undefined) {
      // The dead owner's lease ends at its expires_at (written before the death, so never after diedAt + TTL).
      const expires = Math.min(Date.parse(String(lease.data["expires_at"])), diedAt + LEASE_TTL_MS);
      const wait = expires + 150 - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
    const run = await w.cli(["run", "--once"]);
    runs.push(run);
    expect(run.signal, run.stdout + run.stderr).toBeNull();
    if (/skipped: another process/.test(run.stdout)) await new Promise((r) => setTimeout(r, 400));
  }
  return runs;
}

/** Kills `run --once` at `spec`, settles, and checks the invariants; closes the simulator either way. */
export async function crashAndSettle(spec: string, mode: Mode, semantics: Semantics): Promise<void> {
  const cw = await crashWorld(mode, semantics);
  try {
    const { w, cred } = cw;
    const dead = await w.cli(["run", "--once"], { ECA_ROTATOR_TEST_CRASH_AT: spec });
    const diedAt = Date.now();
    expect(dead.signal, `${spec} never reached:\n${dead.stdout}${dead.stderr}`).toBe("SIGKILL");
    const runs = await settle(w, cred.path, diedAt);
    const last = runs.at(-1);
    expect(last?.code, last?.stdout ?? "").toBe(0);
    await expectSettledClean(cw);
  } finally {
    await cw.sim.close();
  }
}

/** The invariants of a settled crash: one clean rotation, the audit chain intact. */
export async function expectSettledClean(cw: CrashWorld): Promise<void> {
  await expectRotatedClean(cw.w, cw.cred, cw.promotionsBefore, { expiredLeaseMayLinger: true });
  const events = cw.w.auditEvents().filter((e) => e.path === cw.cred.path);
  expect(events.at(-1)?.type).toBe("rotation.completed");
}
