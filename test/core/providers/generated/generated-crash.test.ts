import { describe, expect, it } from "vitest";
import type { StartOptions } from "../../../../src/core/rotation/engine-deps.ts";
import { Crash, Interceptor } from "../../rotation/rotation-world.ts";
import {
  expectGeneratedCleanly,
  FLAG,
  GPATH,
  makeGeneratedEngine,
  makeGeneratedWorld,
  OLD_SECRET,
  settleGenerated,
} from "./generated-world.ts";

/** How many port calls a clean run makes, so the crash matrix covers every call boundary. */
async function callsOfCleanRun(start: StartOptions, metadata: Record<string, string>): Promise<number> {
  const w = makeGeneratedWorld({ metadata });
  const i = new Interceptor();
  await settleGenerated(w, () => makeGeneratedEngine(w, { interceptor: i }), start);
  return i.log.length;
}

const CASES: { name: string; start: StartOptions; metadata: Record<string, string> }[] = [
  { name: "standard with a soak", start: FLAG, metadata: {} },
  { name: "standard, soak 0", start: FLAG, metadata: { soak: "0s" } },
  {
    name: "emergency",
    start: { mode: "emergency", trigger: "flag", actor: "operator-flag" },
    metadata: { rotate: "emergency" },
  },
];

describe("provider=generated crash matrix", () => {
  for (const c of CASES) {
    for (const commit of [false, true]) {
      it(`${c.name}: a crash ${commit ? "after" : "before"} any port call resumes without a second secret or a second publication`, async () => {
        const total = await callsOfCleanRun(c.start, c.metadata);
        expect(total).toBeGreaterThan(8);
        for (let n = 0; n < total; n++) {
          const w = makeGeneratedWorld({ metadata: c.metadata });
          const i = new Interceptor({ crashAfter: n, commit });
          const first = await makeGeneratedEngine(w, { interceptor: i, owner: "dead" })
            .start(GPATH, c.start)
            .catch((e: unknown) => e);
          if (first instanceof Error) expect(first).toBeInstanceOf(Crash);
          const outcomes = await settleGenerated(w, () => makeGeneratedEngine(w, { owner: "next" }), c.start);
          // Completed now, or already before the crash (only the dead process's lease was left behind).
          const last = outcomes.at(-1);
          const closedBefore = last?.kind === "skipped" && last.reason.includes("already cleared");
          expect(last?.kind === "completed" || closedBefore, `call ${n}: ${JSON.stringify(outcomes)}`).toBe(
            true,
          );
          const secret = expectGeneratedCleanly(w);
          if (c.start.mode === "standard") {
            // The old secret was accepted beside the new one in exactly the versions of the overlap.
            const overlap = w.store.history(GPATH).filter((v) => v["rotation_phase"] === "dual-accept");
            expect(overlap.length).toBe(1);
            expect(overlap[0]?.["previous_secret"]).toBe(OLD_SECRET);
          }
          // A secret drawn but never journaled may be drawn again; one that reached KV is never replaced.
          expect(w.drawn.at(-1)).toBe(secret);
          expect(w.store.history(GPATH).length).toBe(c.start.mode === "standard" ? 3 : 2);
        }
      });
    }
  }
});
