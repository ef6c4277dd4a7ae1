// The process dies at every port-call boundary of a rotation (before the call, or after the call took effect
// and before its answer arrived: "journal intent written, Salesforce call not made" and "Salesforce call made,
// answer lost" are both among them). A new engine, the same owner restarted or another replica after the lease
// expired, then settles the rotation. Whatever the moment, the result is one clean rotation.
import { describe, expect, it } from "vitest";
import { errorFromRestAnswer, errorFromTransport } from "../../../src/adapters/salesforce/salesforce-http.ts";
import type { StartOptions } from "../../../src/core/rotation/engine-deps.ts";
import type { RotationOutcome } from "../../../src/core/rotation/rotation-outcome.ts";
import { ROTATE_SEMANTICS } from "../../../src/simulator/salesforce/sim-settings.ts";
import type { RotateSemantics } from "../../fakes/in-memory-credential-issuer.ts";
import {
  everythingVisible,
  expectRotatedCleanly,
  FLAG_START,
  Interceptor,
  makeEngine,
  makeWorld,
  PATH,
  passBackoff,
  settle,
  type World,
} from "./rotation-world.ts";

const SCENARIOS: Array<{ mode: "standard" | "emergency"; semantics: RotateSemantics }> = (
  ["standard", "emergency"] as const
).flatMap((mode) => ROTATE_SEMANTICS.map((semantics) => ({ mode, semantics })));

/** Runs with the interceptor until the rotation completes or the process died; moves the clock over soaks. */
async function runUntilDeath(w: World, interceptor: Interceptor, start: StartOptions): Promise<void> {
  for (let i = 0; i < 10 && !interceptor.crashed; i++) {
    const engine = makeEngine(w, { interceptor });
    const hasJournal = w.state.journal(PATH) !== undefined;
    const out: RotationOutcome = hasJournal ? await engine.resume(PATH) : await engine.start(PATH, start);
    if (out.kind === "completed") return;
    if (out.kind === "waiting") w.clock.advance(out.until.getTime() - w.clock.now().getTime());
  }
}

/** The number of port calls a clean rotation makes. */
async function cleanCallCount(mode: "standard" | "emergency", semantics: RotateSemantics): Promise<string[]> {
  const w = makeWorld({ semantics });
  const interceptor = new Interceptor();
  await runUntilDeath(w, interceptor, { ...FLAG_START, mode });
  expectRotatedCleanly(w);
  return interceptor.log;
}

describe("rotation engine, killed at every step boundary", () => {
  for (const { mode, semantics } of SCENARIOS) {
    for (const commit of [false, true]) {
      for (const successor of ["replica-a", "replica-b"]) {
        const when = commit ? "right after" : "right before";
        it(`${mode}/${semantics}: dies ${when} each port call, then ${successor} settles it cleanly`, async () => {
          const calls = await cleanCallCount(mode, semantics);
          expect(calls.length).toBeGreaterThan(30);
          for (let k = 0; k < calls.length; k++) {
            const w = makeWorld({ semantics });
            const start = { ...FLAG_START, mode };
            const dying = new Interceptor({ crashAfter: k, commit });
            await runUntilDeath(w, dying, start);
            // This deployment's own crashes never leave a rotation state that no journal explains (the journal
            // is written before in_progress, and idle or failed is stamped before it is deleted): the guard
            // against another deployment's rotation can never lock this one out.
            if (w.state.journal(PATH) === undefined) {
              expect(w.store.current(PATH).metadata["rotation_state"] ?? "idle").toMatch(/^(idle|failed)$/);
            }
            const outcomes = await settle(w, () => makeEngine(w, { owner: successor }), start);
            const context = `crash ${when} call ${k} (${dying.log[k] ?? "?"})`;
            const last = outcomes.at(-1);
            expect(last?.kind === "completed" || last?.kind === "skipped", context).toBe(true);
            try {
              expectRotatedCleanly(w, { leaseOwnerMayLinger: "replica-a" });
            } catch (err) {
              throw new Error(`${context}: ${String(err)}`);
            }
            // One rotation: one id in every event and notification, at least one "completed" message.
            const ids = new Set([...w.audit.events, ...w.notifier.sent].map((e) => e.rotationId));
            expect(ids.size, context).toBe(1);
            expect(w.notifier.sent.length, context).toBeGreaterThanOrEqual(1);
            expect(new Set(w.notifier.sent.map((n) => n.kind)).size, context).toBe(1);
            expect(everythingVisible(w, outcomes), context).not.toContain("test-secret-canary");
          }
        });
      }
    }
  }
});

describe("rotation engine, uncertain Salesforce answers", () => {
  // The Salesforce adapter's own errors (salesforce-http.ts): a 503, or a connection reset after the request
  // went out, on POST staged / PATCH rotate is uncertain and therefore not retryable until a re-read settles it.
  const call = (method: "POST" | "PATCH") => ({
    step: method === "POST" ? "create staged" : "rotate staged",
    method,
    path: "/services/data/v65.0/x",
    idempotent: false,
  });
  const unavailable = (method: "POST" | "PATCH") => errorFromRestAnswer(call(method), 503, undefined);
  const dropped = (method: "POST" | "PATCH") =>
    errorFromTransport(
      call(method),
      "https://acme.my.salesforce.com",
      Object.assign(new Error("socket hang up"), { code: "ECONNRESET" }),
    );

  it("uses the adapter's shape: uncertain, not retryable", () => {
    for (const err of [unavailable("POST"), dropped("PATCH")]) {
      expect(err).toMatchObject({ code: "SALESFORCE_UNAVAILABLE", retryable: false });
      expect(err.context["uncertain"]).toBe(true);
    }
  });

  for (const semantics of ROTATE_SEMANTICS) {
    it(`${semantics}: adopts the staged set a POST made before its answer was lost`, async () => {
      const w = makeWorld({ semantics, metadata: { soak: "0s" } });
      w.issuer.failNext("createStaged", dropped("POST"), { commit: true });
      expect(await makeEngine(w).start(PATH, FLAG_START)).toMatchObject({ kind: "completed" });
      expect(w.issuer.stagedPosts).toBe(1);
      expectRotatedCleanly(w);
    });

    it(`${semantics}: backs off, then posts again, when the list shows the uncertain POST did not happen`, async () => {
      const w = makeWorld({ semantics, metadata: { soak: "0s" } });
      w.issuer.failNext("createStaged", unavailable("POST"), { commit: false });
      const engine = makeEngine(w);
      expect(await engine.start(PATH, FLAG_START)).toMatchObject({
        kind: "failed",
        willRetry: true,
        attempts: 1,
        code: "SALESFORCE_UNAVAILABLE",
      });
      expect(w.state.journal(PATH)?.step).toBe("staging");
      expect(w.state.journal(PATH)?.lastError).toContain("re-read: no staged set exists");
      expect(await engine.resume(PATH)).toMatchObject({ kind: "waiting", waiting: "retry" });
      expect(w.issuer.calls.filter((c) => c === "createStaged")).toHaveLength(1);
      passBackoff(w);
      expect(await engine.resume(PATH)).toMatchObject({ kind: "completed" });
      expect(w.issuer.stagedPosts).toBe(1);
      expectRotatedCleanly(w);
    });

    it(`${semantics}: reads the main key back after an uncertain PATCH that happened, and promotes once`, async () => {
      const w = makeWorld({ semantics, metadata: { soak: "0s" } });
      w.issuer.failNext("promote", dropped("PATCH"), { commit: true });
      expect(await makeEngine(w).start(PATH, FLAG_START)).toMatchObject({ kind: "completed" });
      expect(w.issuer.promotions).toBe(1);
      expectRotatedCleanly(w);
    });

    it(`${semantics}: leaves the second PATCH to the next attempt, after the backoff and a fresh re-read`, async () => {
      const w = makeWorld({ semantics, metadata: { soak: "0s" } });
      w.issuer.failNext("promote", unavailable("PATCH"), { commit: false });
      const engine = makeEngine(w);
      expect(await engine.start(PATH, FLAG_START)).toMatchObject({
        kind: "failed",
        willRetry: true,
        step: "promoting",
      });
      // No PATCH sent right after the uncertain one: a slow first PATCH would make it fail.
      expect(w.issuer.calls.filter((c) => c === "promote")).toHaveLength(1);
      passBackoff(w);
      expect(await engine.resume(PATH)).toMatchObject({ kind: "completed" });
      expect(w.issuer.calls.filter((c) => c === "promote")).toHaveLength(2);
      expect(w.issuer.promotions).toBe(1);
      expectRotatedCleanly(w);
    });

    it(`${semantics}: a PATCH that lands late is seen by the next attempt's re-read and not sent again`, async () => {
      const w = makeWorld({ semantics, metadata: { soak: "0s" } });
      // Applied, but the answer says 503 and the main key still reads old at first (a replica lagging).
      w.issuer.failNext("promote", unavailable("PATCH"), { commit: false });
      const engine = makeEngine(w);
      expect(await engine.start(PATH, FLAG_START)).toMatchObject({ kind: "failed", willRetry: true });
      await w.issuer.promote(w.target, w.state.journal(PATH)?.stagedId ?? ""); // the first PATCH lands late
      const patches = w.issuer.calls.filter((c) => c === "promote").length;
      passBackoff(w);
      expect(await engine.resume(PATH)).toMatchObject({ kind: "completed" });
      expect(w.issuer.calls.filter((c) => c === "promote")).toHaveLength(patches);
      expect(w.issuer.promotions).toBe(1);
      expectRotatedCleanly(w);
    });
  }

  it("adopts an unreadable set no more: deletes it and stages afresh", async () => {
    const w = makeWorld({ metadata: { soak: "0s" } });
    // Our POST landed but its answer was lost, and the staged list hides secrets this once.
    w.issuer.failNext("createStaged", dropped("POST"), { commit: true });
    w.issuer.secretsReadable = false;
    const engine = makeEngine(w);
    const first = await engine.start(PATH, FLAG_START);
    expect(first).toMatchObject({ kind: "failed", willRetry: true });
    expect(w.issuer.stagedRecord(w.target)).toBeUndefined();
    w.issuer.secretsReadable = true;
    passBackoff(w);
    expect(await engine.resume(PATH)).toMatchObject({ kind: "completed" });
    expect(w.issuer.stagedPosts).toBe(2);
    expectRotatedCleanly(w);
  });
});
