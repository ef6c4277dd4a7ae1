// The lease follows its owner: renewed in the background while a run holds it (through a verification much
// longer than the lease), lost when a renewal finds another owner or cannot be written before the lease ends,
// and then the run changes nothing more. A paused owner that passed its guard is stopped by the journal's cas.
// Every engine call leaves no renewal timer behind.
import { describe, expect, it } from "vitest";
import { RotatorError } from "../../../src/core/errors.ts";
import {
  expectRotatedCleanly,
  FLAG_START,
  Interceptor,
  MINUTE,
  makeEngine,
  makeWorld,
  onJournalWrite,
  PATH,
  passBackoff,
  type World,
} from "./rotation-world.ts";

const TTL = 30_000;
const LEASE = { leaseTtlMs: TTL, verifyTimeoutMs: 10 * MINUTE };

function snapshotAll(w: World): unknown {
  return structuredClone({
    issuer: w.issuer.snapshot(),
    store: w.store.snapshot(),
    state: w.state.snapshot(),
    audit: w.audit.events,
    notes: w.notifier.sent,
  });
}

/** Runs `during` once, when the staged pair's verification (the second verifyPair call) has waited `afterMs`. */
function duringStagedVerify(w: World, afterMs: number, during: () => void | Promise<void>): void {
  let calls = 0;
  const pass = w.issuer.passTime;
  const original = w.issuer.verifyPair.bind(w.issuer);
  w.issuer.verifyPair = (...args) => {
    calls += 1;
    if (calls === 2) {
      w.issuer.passTime = async (ms) => {
        w.issuer.passTime = pass;
        await w.scheduler.advance(Math.min(afterMs, ms));
        await during();
        await w.scheduler.advance(Math.max(0, ms - afterMs));
      };
    }
    return original(...args);
  };
}

const vaultDown = () => new RotatorError("VAULT_UNAVAILABLE", "connection refused", { retryable: true });

describe("rotation engine, leases that follow their owner", () => {
  it("keeps a 30 s lease through a 9-minute verification, renewing it every 10 s; nobody else gets in", async () => {
    const w = makeWorld({ metadata: { soak: "0s" }, propagationDelayMs: 9 * MINUTE });
    const refused: unknown[] = [];
    duringStagedVerify(w, 8 * MINUTE, async () => {
      const lease = w.state.lease(PATH);
      expect(lease?.owner).toBe("replica-a");
      expect(lease?.expiresAt.getTime()).toBeGreaterThan(w.clock.now().getTime() + 2 * (TTL / 3) - 1);
      refused.push(await makeEngine(w, { owner: "replica-b", settings: LEASE }).resume(PATH));
    });
    const out = await makeEngine(w, { settings: LEASE }).start(PATH, FLAG_START);
    expect(out).toMatchObject({ kind: "completed" });
    expect(refused).toEqual([expect.objectContaining({ kind: "skipped", code: "ROTATION_LEASE_HELD" })]);
    // A renewal every 10 s of the 9 minutes: each a cas write, none a read.
    const writes = w.state.calls.filter((c) => c === "writeLease").length;
    expect(writes).toBeGreaterThanOrEqual(54);
    expect(w.state.journal(PATH)).toBeUndefined();
    expectRotatedCleanly(w);
    expect(w.scheduler.pending).toBe(0);
  });

  it("stops before its next write once a renewal finds the lease taken over", async () => {
    const w = makeWorld({ metadata: { soak: "0s" }, propagationDelayMs: 2 * MINUTE });
    let snapshot: unknown;
    duringStagedVerify(w, 45_000, () => {
      // Another replica's claim lands on the lease (the cas race this owner then loses).
      const lease = w.state.lease(PATH);
      w.state.putLease(PATH, {
        owner: "replica-b",
        fence: (lease?.fence ?? 0) + 1,
        expiresAt: new Date(w.clock.now().getTime() + TTL),
      });
      snapshot = snapshotAll(w);
    });
    const out = await makeEngine(w, { settings: LEASE }).start(PATH, FLAG_START);
    expect(out).toMatchObject({ kind: "skipped", code: "ROTATION_LEASE_HELD" });
    expect(out.kind === "skipped" && out.reason).toContain("replica-b");
    // Nothing after the loss: the journal still says staged, no KV version, no Salesforce change, no lease write.
    const after = snapshotAll(w) as { state: { leases: unknown } };
    expect(after).toEqual(snapshot);
    expect(w.state.journal(PATH)?.step).toBe("staged");
    expect(w.scheduler.pending).toBe(0);
  });

  it("stops before its next write when Vault refuses its renewals until the lease has run out", async () => {
    const w = makeWorld({ metadata: { soak: "0s" }, propagationDelayMs: 2 * MINUTE });
    let versions = 0;
    let writes = 0;
    duringStagedVerify(w, 5_000, () => {
      w.state.failNext("writeLease", vaultDown(), { times: 1000 });
      versions = w.store.history(PATH).length;
      writes = w.state.calls.filter((c) => c === "writeJournal").length;
    });
    // The verification goes on for two minutes; the 30 s lease ran out about 40 s into it.
    const out = await makeEngine(w, { settings: LEASE }).start(PATH, FLAG_START);
    expect(out).toMatchObject({ kind: "skipped", code: "ROTATION_LEASE_HELD" });
    expect(out.kind === "skipped" && out.reason).toMatch(/could not renew .*VAULT_UNAVAILABLE/);
    expect(w.state.calls.filter((c) => c === "writeJournal")).toHaveLength(writes);
    expect(w.state.journal(PATH)?.step).toBe("staged");
    expect(w.store.history(PATH)).toHaveLength(versions);
    expect(w.issuer.promotions).toBe(0);
    expect(w.scheduler.pending).toBe(0);
  });

  it("refuses a paused owner's late journal write after another owner took over and finished (cas)", async () => {
    const w = makeWorld({ metadata: { soak: "0s" } });
    let paused = false;
    // Replica A passes its guard before journaling the verified and published pair (`promoting`, soak 0), then its
    // process stops for two minutes (no timer runs, the lease lapses); replica B takes the credential over and
    // finishes the rotation.
    const stalled = onJournalWrite(w, "promoting", "before", async () => {
      paused = true;
      w.clock.advance(2 * MINUTE);
      const b = await makeEngine(w, { owner: "replica-b", settings: LEASE }).resume(PATH);
      expect(b).toMatchObject({ kind: "completed" });
    });
    const a = await makeEngine(w, { owner: "replica-a", settings: LEASE, ports: { state: stalled } }).start(
      PATH,
      FLAG_START,
    );
    expect(paused).toBe(true);
    expect(a).toMatchObject({ kind: "skipped", code: "ROTATION_LEASE_HELD" });
    expectRotatedCleanly(w);
    expect(w.issuer.promotions).toBe(1);
    expect(w.scheduler.pending).toBe(0);
  });

  it("leaves no renewal timer behind, however a call ends", async () => {
    const ends: string[] = [];
    const check = async (w: World, call: () => Promise<{ kind: string }>) => {
      const out = await call();
      ends.push(out.kind);
      expect(w.scheduler.pending, out.kind).toBe(0);
      return out;
    };
    const soaking = makeWorld({ metadata: { soak: "15m" } });
    const e1 = makeEngine(soaking, { settings: LEASE });
    await check(soaking, () => e1.start(PATH, FLAG_START)); // waiting
    await check(soaking, () =>
      makeEngine(soaking, { owner: "replica-b", settings: LEASE }).rollback(PATH, { actor: "cli" }),
    );

    const failing = makeWorld({ metadata: { soak: "0s" } });
    failing.issuer.failNext(
      "promote",
      new RotatorError("SALESFORCE_UNAVAILABLE", "503", { retryable: true }),
    );
    const e2 = makeEngine(failing, { settings: LEASE });
    await check(failing, () => e2.start(PATH, FLAG_START)); // failed, will retry
    passBackoff(failing);
    failing.state.putLease(PATH, {
      owner: "replica-z",
      fence: 9,
      expiresAt: new Date(failing.clock.now().getTime() + TTL),
    });
    await check(failing, () => e2.resume(PATH)); // skipped: held
    failing.clock.advance(TTL);
    await check(failing, () => e2.resume(PATH)); // completed

    const crashing = makeWorld({ metadata: { soak: "0s" } });
    const dying = new Interceptor({ crashAfter: 12 });
    await check(crashing, () =>
      makeEngine(crashing, { settings: LEASE, interceptor: dying }).start(PATH, FLAG_START),
    );
    expect(ends).toEqual(["waiting", "rolled_back", "failed", "skipped", "completed", "failed"]);
  });
});
