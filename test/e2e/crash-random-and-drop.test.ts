// Crashes that no switch names: a `run --once` process SIGKILLed after a random delay while the simulator is
// slow (seeded, so a failure reproduces from the seed in the test name), and Salesforce committing a POST staged
// or PATCH rotate and then dropping the connection before it answers. Each settles into one clean rotation.
import { describe, expect, it } from "vitest";
import { crashWorld, expectSettledClean, type Semantics, settle } from "./crash-matrix-kit.ts";

/** mulberry32: a tiny seeded PRNG, so the kill moment of a seed is the same on every run. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const RANDOM_RUNS: Array<{ seed: number; semantics: Semantics }> = [
  { seed: 7, semantics: "overlap" },
  { seed: 1009, semantics: "overlap" },
  { seed: 424242, semantics: "immediate" },
  { seed: 90210, semantics: "immediate" },
  { seed: 31337, semantics: "overlap" },
  { seed: 2718, semantics: "immediate" },
];

describe("a rotation killed at a random moment with a slow Salesforce", () => {
  for (const { seed, semantics } of RANDOM_RUNS) {
    // A rotation takes ~1-5s here (process start ~1s, then ~20 Salesforce calls at 200ms).
    const delayMs = 1_200 + Math.floor(seeded(seed)() * 3_600);
    it.concurrent(`seed ${seed} (${semantics}): SIGKILL after ${delayMs}ms, then run --once settles it cleanly`, async () => {
      const cw = await crashWorld("standard", semantics);
      try {
        cw.sim.addFault({ latencyMs: 200 });
        const dead = await cw.w.cli(["run", "--once"], {}, delayMs);
        const diedAt = Date.now();
        cw.sim.clearFaults();
        // The process may (rarely) finish first; then there is nothing to settle, and the checks still hold.
        const runs = await settle(cw.w, cw.cred.path, diedAt);
        expect(runs.at(-1)?.code ?? dead.code).toBe(0);
        await expectSettledClean(cw);
      } finally {
        await cw.sim.close();
      }
    }, 90_000);
  }
});

describe("Salesforce commits a write and drops the connection before answering", () => {
  const CASES = [
    { name: "POST staged", fault: { method: "POST", path: "/staged" } },
    { name: "PATCH rotate", fault: { method: "PATCH" } },
  ];
  for (const { name, fault } of CASES) {
    for (const semantics of ["overlap", "immediate"] as Semantics[]) {
      it.concurrent(`${semantics}: ${name} committed then dropped; re-read state, staged and promoted once`, async () => {
        const dropped: string[] = []; // status 0: the simulator did the work and destroyed the socket
        const cw = await crashWorld("standard", semantics, {
          onRequest: (e) => e.status === 0 && dropped.push(`${e.method} ${e.path}`),
        });
        try {
          const before = cw.sim.counters();
          cw.sim.addFault({ ...fault, commitThenDrop: true, times: 1 });
          await cw.w.cli(["run", "--once"]);
          const runs = await settle(cw.w, cw.cred.path, Date.now());
          expect(runs.at(-1)?.code).toBe(0);
          await expectSettledClean(cw);
          expect(dropped).toEqual([
            expect.stringMatching(fault.method === "POST" ? /^POST .*\/staged$/ : /^PATCH /),
          ]);
          expect(cw.sim.counters().stagedPosts - before.stagedPosts).toBe(1);
          expect(cw.sim.counters().promotions - before.promotions).toBe(1);
        } finally {
          await cw.sim.close();
        }
      }, 90_000);
    }
  }
});
