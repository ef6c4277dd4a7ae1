import { describe, expect, it } from "vitest";
import { RotatorError } from "../../../src/core/errors.ts";
import { claimLease, LeaseHold } from "../../../src/core/rotation/lease.ts";
import type { Lease } from "../../../src/core/rotation/rotation-ports.ts";
import { FixedClock, systemScheduler } from "../../../src/core/time.ts";
import { InMemoryStateStore } from "../../fakes/in-memory-state-store.ts";
import { ManualScheduler } from "../../fakes/manual-scheduler.ts";

const T0 = new Date("2026-03-01T10:00:00Z");
const at = (s: number) => new Date(T0.getTime() + s * 1000);
const TTL = 120_000;

describe("claimLease", () => {
  it("grants a free credential with fence 1", () => {
    expect(claimLease(undefined, "replica-a", T0, TTL)).toEqual({
      ok: true,
      lease: { owner: "replica-a", expiresAt: at(120), fence: 1 },
      takeover: false,
    });
  });

  it("refuses a live lease held by someone else, saying who and until when", () => {
    const held: Lease = { owner: "replica-a", expiresAt: at(120), fence: 3 };
    expect(claimLease(held, "replica-b", at(60), TTL)).toEqual({
      ok: false,
      heldBy: "replica-a",
      until: at(120),
    });
  });

  it("renews the owner's own live lease without changing the fence", () => {
    const held: Lease = { owner: "replica-a", expiresAt: at(120), fence: 3 };
    expect(claimLease(held, "replica-a", at(60), TTL)).toEqual({
      ok: true,
      lease: { owner: "replica-a", expiresAt: at(180), fence: 3 },
      takeover: false,
    });
  });

  it("takes over an expired lease with a higher fence, so the old owner's late writes are refused", () => {
    const stale: Lease = { owner: "replica-a", expiresAt: at(120), fence: 3 };
    const claim = claimLease(stale, "replica-b", at(120), TTL);
    expect(claim).toEqual({
      ok: true,
      lease: { owner: "replica-b", expiresAt: at(240), fence: 4 },
      takeover: true,
    });
  });

  it("bumps the fence even when the same owner comes back after its lease expired (it may have been paused)", () => {
    const stale: Lease = { owner: "replica-a", expiresAt: at(120), fence: 3 };
    expect(claimLease(stale, "replica-a", at(500), TTL)).toMatchObject({
      ok: true,
      lease: { fence: 4 },
      takeover: false,
    });
  });
});

const PATH = "api-credentials/team-a/crm";
const SECOND = 1_000;

/** A hold on a fresh 30 s lease, as claimFor leaves it: written with cas 0, renewals armed. */
async function held(ttlMs = 30 * SECOND) {
  const clock = new FixedClock(T0);
  const scheduler = new ManualScheduler(clock);
  const state = new InMemoryStateStore();
  const lease: Lease = { owner: "replica-a", expiresAt: new Date(T0.getTime() + ttlMs), fence: 1 };
  const version = await state.writeLease(PATH, lease, 0);
  const hold = new LeaseHold({ state, clock, scheduler, owner: "replica-a", ttlMs }, PATH, lease, version);
  state.calls.length = 0;
  return { clock, scheduler, state, hold };
}

const vaultDown = () => new RotatorError("VAULT_UNAVAILABLE", "connection refused", { retryable: true });

describe("LeaseHold", () => {
  it("renews every third of the TTL with cas, so the lease outlives its TTL for as long as it is held", async () => {
    const { clock, scheduler, state, hold } = await held();
    await scheduler.advance(10 * 60 * SECOND);
    // 10 minutes of a 30 s lease: a renewal every 10 s, each a cas write on the version before.
    expect(state.calls.filter((c) => c === "writeLease")).toHaveLength(60);
    expect(state.calls).not.toContain("readLease");
    const lease = state.lease(PATH);
    expect(lease).toMatchObject({ owner: "replica-a", fence: 1 });
    expect(lease?.expiresAt.getTime()).toBe(clock.now().getTime() + 30 * SECOND);
    await hold.check();
    expect(state.calls).not.toContain("readLease"); // the guard reads nothing
    expect(claimLease(lease, "replica-b", clock.now(), 30 * SECOND)).toMatchObject({ ok: false });
  });

  it("is lost when a renewal finds another owner's lease, and then stops renewing", async () => {
    const { clock, scheduler, state, hold } = await held();
    await scheduler.advance(5 * SECOND);
    state.putLease(PATH, {
      owner: "replica-b",
      fence: 2,
      expiresAt: new Date(clock.now().getTime() + 30 * SECOND),
    });
    await scheduler.advance(5 * SECOND);
    expect(hold.lost).toBe(true);
    await expect(hold.check()).rejects.toMatchObject({
      code: "ROTATION_LEASE_HELD",
      message: expect.stringContaining("replica-b"),
    });
    expect(scheduler.pending).toBe(0);
    expect(state.lease(PATH)?.owner).toBe("replica-b");
    await hold.release(true);
    expect(state.lease(PATH)?.owner).toBe("replica-b"); // releasing a lost lease touches nothing
  });

  it("takes back its own renewal whose answer was lost instead of giving up", async () => {
    const { scheduler, state, hold } = await held();
    state.failNext("writeLease", vaultDown(), { commit: true });
    await scheduler.advance(10 * SECOND); // written, answer lost
    await scheduler.advance(1 * SECOND); // the retry's cas conflicts; the read shows our own record
    expect(hold.lost).toBe(false);
    expect(state.calls).toContain("readLease");
    await scheduler.advance(60 * SECOND);
    await hold.check();
  });

  it("stops the run before the lease runs out while Vault does not answer, and is lost once it has", async () => {
    const { clock, scheduler, state, hold } = await held();
    state.failNext("writeLease", vaultDown(), { times: 1000 });
    await scheduler.advance(15 * SECOND);
    await hold.check(); // 15 s of 30 left: more than a third
    await scheduler.advance(5 * SECOND);
    // 10 s left: the guard tries a renewal itself, which fails, so it refuses.
    await expect(hold.check()).rejects.toMatchObject({
      code: "ROTATION_LEASE_HELD",
      message: expect.stringContaining("VAULT_UNAVAILABLE"),
    });
    expect(hold.lost).toBe(false);
    await scheduler.advance(10 * SECOND);
    expect(clock.now().getTime()).toBe(T0.getTime() + 30 * SECOND);
    expect(hold.lost).toBe(true);
    expect(scheduler.pending).toBe(0);
    // Vault is back: the lease lapsed, so nothing is renewed and the guard keeps refusing.
    await expect(hold.check()).rejects.toMatchObject({ code: "ROTATION_LEASE_HELD" });
  });

  it("rides out one failed renewal: the next attempt keeps the lease and the guard never refuses", async () => {
    const { scheduler, state, hold } = await held();
    state.failNext("writeLease", vaultDown());
    await scheduler.advance(10 * SECOND);
    await hold.check();
    await scheduler.advance(SECOND);
    await hold.check();
    await scheduler.advance(2 * 60 * SECOND);
    await hold.check();
    expect(hold.lost).toBe(false);
  });

  it("waits for a late renewal in the guard when the timer did not run (a blocked event loop)", async () => {
    const { clock, state, hold } = await held();
    clock.advance(25 * SECOND); // no timer ran
    await hold.check();
    expect(state.calls).toEqual(["writeLease"]);
    expect(state.lease(PATH)?.expiresAt.getTime()).toBe(clock.now().getTime() + 30 * SECOND);
  });

  it("releases in place with one cas write, or deletes, and leaves no timer behind", async () => {
    const a = await held();
    await a.scheduler.advance(12 * SECOND);
    a.state.calls.length = 0;
    await a.hold.release(true);
    expect(a.state.calls).toEqual(["writeLease"]);
    expect(a.state.lease(PATH)?.expiresAt).toEqual(a.clock.now());
    expect(a.scheduler.pending).toBe(0);
    await expect(a.hold.check()).rejects.toMatchObject({ code: "ROTATION_LEASE_HELD" });

    const b = await held();
    await b.hold.release(false);
    expect(b.state.calls).toEqual(["deleteLease"]);
    expect(b.state.lease(PATH)).toBeUndefined();
    expect(b.scheduler.pending).toBe(0);

    const c = await held();
    c.hold.stop();
    expect(c.scheduler.pending).toBe(0);
    await c.scheduler.advance(60 * SECOND);
    expect(c.state.calls).toEqual([]);
  });

  it("deletes a lease near its end only after reading that it is still its own", async () => {
    const { clock, state, hold } = await held();
    clock.advance(31 * SECOND);
    state.putLease(PATH, {
      owner: "replica-b",
      fence: 2,
      expiresAt: new Date(clock.now().getTime() + 30 * SECOND),
    });
    await hold.release(false);
    expect(state.lease(PATH)?.owner).toBe("replica-b");
  });
});

describe("the system scheduler", () => {
  it("never keeps the process alive: its timers are unref'd, and a cancelled one is gone", async () => {
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;
    const before = timers();
    let ran = false;
    const long = systemScheduler.schedule(() => {
      ran = true;
    }, 3_600_000);
    expect(timers()).toBe(before); // a ref'd timer would be listed as an active resource
    systemScheduler.cancel(long);
    const short = new Promise<void>((resolve) => systemScheduler.schedule(resolve, 5));
    await short;
    expect(ran).toBe(false);
  });
});
