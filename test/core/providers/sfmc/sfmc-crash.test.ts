import { describe, expect, it } from "vitest";
import { Crash, Interceptor } from "../../rotation/rotation-world.ts";
import { expectSfmcCleanly, FLAG, MPATH, makeSfmcEngine, makeSfmcWorld, settleSfmc } from "./sfmc-world.ts";

describe("provider=sfmc crash matrix", () => {
  for (const commit of [false, true]) {
    it(`a crash ${commit ? "after" : "before"} any port call resumes and publishes the staged secret exactly once`, async () => {
      const clean = makeSfmcWorld();
      const counter = new Interceptor();
      await settleSfmc(clean, () => makeSfmcEngine(clean, { interceptor: counter }));
      expectSfmcCleanly(clean);
      const total = counter.log.length;
      expect(total).toBeGreaterThan(8);
      for (let n = 0; n < total; n++) {
        const w = makeSfmcWorld();
        const i = new Interceptor({ crashAfter: n, commit });
        const first = await makeSfmcEngine(w, { interceptor: i, owner: "dead" })
          .start(MPATH, FLAG)
          .catch((e: unknown) => e);
        if (first instanceof Error) expect(first).toBeInstanceOf(Crash);
        const outcomes = await settleSfmc(w, () => makeSfmcEngine(w, { owner: "next" }));
        const last = outcomes.at(-1);
        const closedBefore = last?.kind === "skipped" && last.reason.includes("already cleared");
        expect(last?.kind === "completed" || closedBefore, `call ${n}: ${JSON.stringify(outcomes)}`).toBe(
          true,
        );
        expectSfmcCleanly(w);
      }
    });
  }
});
