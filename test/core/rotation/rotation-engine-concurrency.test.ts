// Several replicas at once, and several deaths in one rotation: whatever the interleaving, the credential is
// promoted exactly once and ends clean.
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

describe("rotation engine, concurrency", () => {
  it("three replicas acting on one flag at the same moment rotate the credential once", async () => {
    for (const soak of ["0s", "15m"]) {
      const w = makeWorld({ metadata: { soak } });
      const replicas = ["replica-a", "replica-b", "replica-c"].map((owner) => makeEngine(w, { owner }));
      const first = await Promise.all(replicas.map((e) => e.start(PATH, FLAG_START)));
      expect(first.filter((o) => o.kind === "skipped" && o.code === "ROTATION_LEASE_HELD")).toHaveLength(2);
      expect(w.issuer.stagedPosts).toBe(1);
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

  it("survives any sequence of deaths, answers lost and takeovers, in both semantics and modes", async () => {
    const death = fc.record({
      after: fc.nat({ max: 90 }),
      commit: fc.boolean(),
      owner: fc.constantFrom("replica-a", "replica-b", "replica-c"),
      pauseMs: fc.constantFrom(0, 5 * MINUTE, 20 * MINUTE),
    });
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...ROTATE_SEMANTICS),
        fc.constantFrom("standard", "emergency" as const),
        fc.array(death, { minLength: 1, maxLength: 4 }),
        async (semantics, mode, deaths) => {
          const w = makeWorld({ semantics });
          const start = { ...FLAG_START, mode: mode as "standard" | "emergency" };
          const outcomes: RotationOutcome[] = [];
          for (const d of deaths) {
            const dying = new Interceptor({ crashAfter: d.after, commit: d.commit });
            for (let i = 0; i < 6 && !dying.crashed; i++) {
              const engine = makeEngine(w, { owner: d.owner, interceptor: dying });
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
          outcomes.push(...(await settle(w, () => makeEngine(w, { owner: "replica-z" }), start)));
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
