import { describe, expect, it } from "vitest";
import {
  expectRotatedCleanly,
  FLAG_START,
  Interceptor,
  MINUTE,
  makeEngine,
  makeWorld,
  PATH,
} from "./rotation-world.ts";

describe("rotation engine, pausing for shutdown", () => {
  it("stops at the next step boundary, releases the lease, and another owner resumes and finishes", async () => {
    const w = makeWorld({ semantics: "overlap" });
    let stopping = false;
    // The stop arrives while the first Salesforce write (createStaged) is in flight.
    const interceptor = new Interceptor({
      before: (call) => {
        if (call === "issuer.createStaged") stopping = true;
      },
    });
    const engine = makeEngine(w, { owner: "replica-a", interceptor, shouldPause: () => stopping });

    const paused = await engine.start(PATH, FLAG_START);
    expect(paused).toMatchObject({ kind: "skipped" });
    if (paused.kind !== "skipped") return;
    expect(paused.reason).toMatch(/^paused at staged because the rotator is stopping/);
    // The step that was running finished and was journalled; nothing after it ran.
    expect(w.issuer.validPairs().map((p) => p.role)).toEqual(["main", "staged"]);
    const journal = await w.state.readJournal(PATH);
    expect(journal?.value.step).toBe("staged");
    const lease = await w.state.readLease(PATH);
    expect(lease === undefined || lease.value.expiresAt.getTime() <= w.clock.now().getTime()).toBe(true);

    // A new process (another owner) picks it up at once: no waiting for a lease to expire.
    const next = makeEngine(w, { owner: "replica-b" });
    expect(await next.resume(PATH)).toMatchObject({ kind: "waiting", waiting: "soak" });
    w.clock.advance(20 * MINUTE);
    expect(await next.resume(PATH)).toMatchObject({ kind: "completed" });
    expectRotatedCleanly(w);
  });

  it("does not pause before the first step: a stop that came first leaves nothing started", async () => {
    const w = makeWorld({ semantics: "overlap" });
    const engine = makeEngine(w, { shouldPause: () => true });
    const outcome = await engine.start(PATH, FLAG_START);
    // The first step (inspect) runs, then the engine hands the credential back.
    expect(outcome).toMatchObject({ kind: "skipped" });
    expect(w.issuer.validPairs().map((p) => p.role)).toEqual(["main"]);
  });
});
