// Several replicas at once, and several deaths in one rotation: whatever the interleaving, the credential is
// promoted exactly once and ends clean. Leases are the default 30 s and verifications take longer than that, so
// a live owner keeps its lease only by renewing it in the background, and a dead one's lease lapses.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { RotationOutcome } from "../../../src/core/rotation/rotation-outcome.ts";
import { ROTATE_SEMANTICS } from "../../../src/simulator/salesforce/sim-settings.ts";
import {
  everythingVisible,
  expectRotatedCleanly,
  FLAG_START,
  Interceptor,
  MINUTE,
  makeEngine,
  makeWorld,
  PATH,
  settle,
} from "./rotation-world.ts";

const LEASE_TTL_MS = 30_000;
const SHORT_LEASE = { settings: { leaseTtlMs: LEASE_TTL_MS } };

describe("rotation engine, concurrency", () => {
  it("three replicas acting on one flag at the same moment rotate the credential once", async () => {
    for (const soak of ["0s", "15m"]) {
      // Each verification waits 90 s for the new pair, three times the lease.
      const w = makeWorld({ metadata: { soak }, propagationDelayMs: 90_000 });
      const owners = ["replica-a", "replica-b", "replica-c"];
      const replicas = owners.map((owner) => makeEngine(w, { owner, ...SHORT_LEASE }));
      // While a verification waits, the other replicas keep trying every 5 s: the owner's renewals hold them off.
      // (The owner itself does not: within one process the daemon never runs a path twice.)
      const refusals: string[] = [];
      w.issuer.passTime = async (ms) => {
        for (let t = 0; t < ms; t += 5_000) {
          await w.scheduler.advance(Math.min(5_000, ms - t));
          const busy = w.state.lease(PATH)?.owner;
          for (const [i, e] of replicas.entries()) {
            if (owners[i] === busy) continue;
            const out = await e.resume(PATH);
            if (out.kind === "skipped" && out.code === "ROTATION_LEASE_HELD") refusals.push(out.reason);
          }
        }
      };
      const first = await Promise.all(replicas.map((e) => e.start(PATH, FLAG_START)));
      expect(first.filter((o) => o.kind === "skipped" && o.code === "ROTATION_LEASE_HELD")).toHaveLength(2);
      expect(w.issuer.stagedPosts).toBe(1);
      expect(refusals.length).toBeGreaterThanOrEqual(2 * 17);
      // Each keeps acting on what it sees until nothing is left to do.
      for (let round = 0; round < 6 && w.state.journal(PATH) !== undefined; round++) {
        w.clock.advance(16 * MINUTE);
        await Promise.all(replicas.map((e) => e.resume(PATH)));
      }
      await Promise.all(replicas.map((e) => e.start(PATH, FLAG_START)));
      expectRotatedCleanly(w);
      expect(w.issuer.stagedPosts).toBe(1);
      expect(w.notifier.sent).toHaveLength(1);
    }
  });

  it("survives any sequence of deaths, answers lost and takeovers, in every semantics, mode and POST answer", async () => {
    const death = fc.record({
      after: fc.nat({ max: 90 }),
      commit: fc.boolean(),
      owner: fc.constantFrom("replica-a", "replica-b", "replica-c"),
      // Shorter than the lease (the dead owner's lease is still held), or longer.
      pauseMs: fc.constantFrom(0, 10_000, 5 * MINUTE, 20 * MINUTE),
    });
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...ROTATE_SEMANTICS),
        fc.constantFrom("standard", "emergency" as const),
        fc.array(death, { minLength: 1, maxLength: 4 }),
        fc.constantFrom(0, 90_000),
        // Whether Salesforce refuses a POST while a staged set is active or replaces the set (unsettled): a
        // stale owner's late POST must never replace a set the live owner published.
        fc.constantFrom("error", "replace" as const),
        async (semantics, mode, deaths, propagationDelayMs, stagedPostWhenActive) => {
          const w = makeWorld({ semantics, propagationDelayMs, stagedPostWhenActive });
          const start = { ...FLAG_START, mode: mode as "standard" | "emergency" };
          const outcomes: RotationOutcome[] = [];
          for (const d of deaths) {
            const dying = new Interceptor({ crashAfter: d.after, commit: d.commit });
            for (let i = 0; i < 6 && !dying.crashed; i++) {
              const engine = makeEngine(w, { owner: d.owner, interceptor: dying, ...SHORT_LEASE });
              const hasJournal = w.state.journal(PATH) !== undefined;
              const out = hasJournal ? await engine.resume(PATH) : await engine.start(PATH, start);
              outcomes.push(out);
              if (out.kind === "waiting") w.clock.advance(out.until.getTime() - w.clock.now().getTime());
              else if (out.kind === "skipped" && out.code === "ROTATION_LEASE_HELD")
                w.clock.advance(16 * MINUTE);
              else if (out.kind !== "failed") break;
            }
            w.clock.advance(d.pauseMs);
          }
          outcomes.push(
            ...(await settle(w, () => makeEngine(w, { owner: "replica-z", ...SHORT_LEASE }), start)),
          );
          // However the calls ended, none left a renewal timer behind.
          expect(w.scheduler.pending).toBe(0);
          const lease = w.state.lease(PATH);
          expectRotatedCleanly(w, { leaseOwnerMayLinger: lease?.owner });
          if (lease !== undefined) expect(lease.owner).not.toBe("replica-z");
          expect(everythingVisible(w, outcomes)).not.toContain("test-secret-canary");
        },
      ),
      { numRuns: 300 },
    );
  });
});
