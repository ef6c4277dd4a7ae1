// Salesforce being unavailable or rate-limited never ends a rotation early: failed attempts back off (the
// journal's retry_after), outages are bounded by rotation.retry_budget rather than max_attempts, nothing is parked
// while the budget lasts, and an operator's flag outlives an outage that exhausts it. The errors are the ones the
// real adapter builds (salesforce-http.ts), so the engine is tested against the shapes it will meet.
import { describe, expect, it } from "vitest";
import {
  errorFromRestAnswer,
  errorFromTokenAnswer,
  type SalesforceCall,
} from "../../../src/adapters/salesforce/salesforce-http.ts";
import { runRotationCycle } from "../../../src/app/rotation-cycle.ts";
import { DEFAULT_CLASSIFY_DEFAULTS } from "../../../src/core/inventory/classify.ts";
import type { MetadataSource, ScanItem } from "../../../src/core/inventory/kv-entry.ts";
import type { RotationEngine } from "../../../src/core/rotation/rotation-engine.ts";
import type { RotationOutcome } from "../../../src/core/rotation/rotation-outcome.ts";
import type { IssuerMethod } from "../../fakes/in-memory-credential-issuer.ts";
import {
  expectRotatedCleanly,
  FLAG_START,
  Interceptor,
  MINUTE,
  makeEngine,
  makeWorld,
  PATH,
  passBackoff,
  SETTINGS,
  type World,
} from "./rotation-world.ts";

const EMERGENCY = { ...FLAG_START, mode: "emergency" as const };
const HOUR = 60 * MINUTE;

function call(method: string, idempotent: boolean): SalesforceCall {
  return { step: `${method} call`, method, path: "/services/data/v65.0/x", idempotent };
}

/** A 503 on POST staged / PATCH rotate: uncertain, and so not retryable until a re-read settles it. */
const unavailable = (method: "POST" | "PATCH") => errorFromRestAnswer(call(method, false), 503, undefined);
/** A 503 on a read (GET staged, GET main key), after the adapter's own retries. */
const readUnavailable = () => errorFromRestAnswer(call("GET", true), 503, undefined);
/** The org's daily API limit. */
const requestLimit = (method: string) =>
  errorFromRestAnswer(call(method, method === "GET"), 403, [
    { errorCode: "REQUEST_LIMIT_EXCEEDED", message: "TotalRequests Limit exceeded." },
  ]);

/** Resumes after each backoff (as the daemon would) until the rotation settles; every outcome is returned. */
async function resumeUntilSettled(w: World, engine: ReturnType<typeof makeEngine>, first: RotationOutcome) {
  const outcomes = [first];
  let out = first;
  for (let i = 0; i < 60 && out.kind === "failed" && out.willRetry; i++) {
    // While it backs off, a resume only reports the wait: no lease, no write, no Salesforce call.
    const calls = w.issuer.calls.length;
    const journalBefore = w.state.journal(PATH);
    expect(await engine.resume(PATH)).toMatchObject({ kind: "waiting", waiting: "retry" });
    expect(w.issuer.calls.length).toBe(calls);
    expect(w.state.journal(PATH)).toEqual(journalBefore);
    passBackoff(w);
    out = await engine.resume(PATH);
    outcomes.push(out);
  }
  return outcomes;
}

describe("rotation engine, Salesforce unavailable or rate-limited", () => {
  it("a 503 on POST staged: backs off past max_attempts and completes once Salesforce answers", async () => {
    const w = makeWorld({ metadata: { soak: "0s" } });
    const posts = SETTINGS.maxAttempts + 2;
    w.issuer.failNext("createStaged", unavailable("POST"), { times: posts });
    const engine = makeEngine(w);
    const first = await engine.start(PATH, FLAG_START);
    expect(first).toMatchObject({
      kind: "failed",
      willRetry: true,
      code: "SALESFORCE_UNAVAILABLE",
      step: "staging",
    });
    // What an operator sees meanwhile: still in progress, the flag still set, why it is waiting.
    const meta = w.store.current(PATH).metadata;
    expect(meta["rotation_state"]).toBe("in_progress");
    expect(meta["rotate"]).toBe("now");
    expect(meta["last_rotation_error"]).toMatch(
      /^retrying \(attempt 1, next after \S+\): SALESFORCE_UNAVAILABLE: .*re-read: no staged set exists/,
    );
    const outcomes = await resumeUntilSettled(w, engine, first);
    expect(outcomes.at(-1)).toMatchObject({ kind: "completed" });
    expect(outcomes.filter((o) => o.kind === "failed")).toHaveLength(posts);
    expect(w.issuer.calls.filter((c) => c === "createStaged")).toHaveLength(posts + 1);
    expect(w.issuer.stagedPosts).toBe(1);
    expectRotatedCleanly(w);
    expect(w.store.current(PATH).metadata["last_rotation_error"]).toBeUndefined();
    // Audit tells every failed attempt; chat only the result (a standard rotation before promotion is safe).
    expect(w.audit.types().filter((t) => t === "rotation.retrying")).toHaveLength(posts);
    expect(w.notifier.sent.map((n) => n.kind)).toEqual(["rotation.completed"]);
  });

  it("REQUEST_LIMIT_EXCEEDED on POST staged: waited out the same way", async () => {
    const w = makeWorld({ metadata: { soak: "0s" } });
    w.issuer.failNext("createStaged", requestLimit("POST"), { times: 2 });
    const engine = makeEngine(w);
    const first = await engine.start(PATH, FLAG_START);
    expect(first).toMatchObject({ kind: "failed", willRetry: true, code: "SALESFORCE_RATE_LIMITED" });
    const outcomes = await resumeUntilSettled(w, engine, first);
    expect(outcomes.at(-1)).toMatchObject({ kind: "completed" });
    expectRotatedCleanly(w);
  });

  it("two 503s on PATCH rotate: never parked, one PATCH per attempt, promoted once", async () => {
    const w = makeWorld({ metadata: { soak: "0s" } });
    w.issuer.failNext("promote", unavailable("PATCH"), { times: 2 });
    const engine = makeEngine(w);
    const first = await engine.start(PATH, FLAG_START);
    expect(first).toMatchObject({ kind: "failed", willRetry: true, step: "promoting" });
    expect(w.issuer.calls.filter((c) => c === "promote")).toHaveLength(1);
    const outcomes = await resumeUntilSettled(w, engine, first);
    expect(outcomes.map((o) => o.kind)).toEqual(["failed", "failed", "completed"]);
    expect(w.issuer.calls.filter((c) => c === "promote")).toHaveLength(3);
    expect(w.issuer.promotions).toBe(1);
    expectRotatedCleanly(w);
    // Past the point of no return: one alert when it started failing, then the result.
    expect(w.notifier.sent.map((n) => n.kind)).toEqual(["rotation.retrying", "rotation.completed"]);
  });

  it("the login rate limit while verifying the staged pair: retried, not rolled back", async () => {
    const w = makeWorld({ metadata: { soak: "0s" } });
    // The first verifyPair is the proof of possession at inspect; the next two hit the login rate limit.
    w.issuer.answerVerifyNext("login_rate_exceeded", { after: 1, times: 2 });
    const engine = makeEngine(w);
    const first = await engine.start(PATH, FLAG_START);
    expect(first).toMatchObject({
      kind: "failed",
      willRetry: true,
      code: "SALESFORCE_RATE_LIMITED",
      step: "staged",
    });
    expect(first.kind === "failed" && first.message).toContain("login_rate_exceeded");
    const outcomes = await resumeUntilSettled(w, engine, first);
    expect(outcomes.some((o) => o.kind === "rolled_back")).toBe(false);
    expect(outcomes.at(-1)).toMatchObject({ kind: "completed" });
    expect(w.issuer.stagedPosts).toBe(1);
    expectRotatedCleanly(w);
  });

  it("the login rate limit while verifying the new main pair of an emergency: retried until it logs in", async () => {
    const w = makeWorld({ semantics: "immediate" });
    // Possession proof, then the main pair's check (the emergency's only verification) is rate-limited 5 times.
    w.issuer.answerVerifyNext("login_rate_exceeded", { after: 1, times: SETTINGS.maxAttempts + 2 });
    const engine = makeEngine(w);
    const first = await engine.start(PATH, EMERGENCY);
    expect(first).toMatchObject({ kind: "failed", willRetry: true, code: "SALESFORCE_RATE_LIMITED" });
    const outcomes = await resumeUntilSettled(w, engine, first);
    expect(outcomes.at(-1)).toMatchObject({ kind: "completed", mode: "emergency" });
    expectRotatedCleanly(w);
  });

  it("an emergency that meets an outage after promotion is never parked while the budget lasts, and finishes", async () => {
    const w = makeWorld({ semantics: "immediate" });
    // From the moment PATCH rotate went through, Salesforce answers 503 to everything for 40 minutes.
    let outageEnds: number | undefined;
    const interceptor = new Interceptor({
      before: (name) => {
        const [port, method] = name.split(".");
        if (port !== "issuer" || method === undefined) return;
        if (outageEnds === undefined) {
          if (method === "promote") outageEnds = w.clock.now().getTime() + 40 * MINUTE + 1;
          return;
        }
        if (w.clock.now().getTime() < outageEnds) {
          w.issuer.failNext(method as IssuerMethod, readUnavailable());
        }
      },
    });
    const engine = makeEngine(w, { interceptor });
    const first = await engine.start(PATH, EMERGENCY);
    expect(first).toMatchObject({ kind: "failed", willRetry: true, code: "SALESFORCE_UNAVAILABLE" });
    const outcomes = await resumeUntilSettled(w, engine, first);
    // Every failure on the way was one more attempt, never a parked rotation.
    for (const o of outcomes.slice(0, -1)) expect(o).toMatchObject({ kind: "failed", willRetry: true });
    expect(outcomes.filter((o) => o.kind === "failed").length).toBeGreaterThan(SETTINGS.maxAttempts);
    expect(w.clock.now().getTime()).toBeGreaterThanOrEqual(outageEnds ?? Number.POSITIVE_INFINITY);
    expect(outcomes.at(-1)).toMatchObject({ kind: "completed", mode: "emergency" });
    expectRotatedCleanly(w);
    expect(w.notifier.sent.map((n) => n.kind)).toEqual(["rotation.retrying", "rotation.emergency"]);
  });

  it("an outage longer than the budget fails the emergency once, and leaves the operator's flag set", async () => {
    const w = makeWorld({ metadata: { rotate: "emergency", rotate_reason: "INC-7 key leaked" } });
    w.issuer.failNext("createStaged", unavailable("POST"), { times: 1_000 });
    const engine = makeEngine(w, { settings: { retryBudgetMs: HOUR } });
    const startedAt = w.clock.now().getTime();
    const first = await engine.start(PATH, EMERGENCY);
    const outcomes = await resumeUntilSettled(w, engine, first);
    const last = outcomes.at(-1);
    expect(last).toMatchObject({
      kind: "failed",
      willRetry: false,
      code: "SALESFORCE_UNAVAILABLE",
      step: "staging",
    });
    // It went on for the whole budget (no longer), well past max_attempts.
    expect(w.clock.now().getTime() - startedAt).toBeGreaterThanOrEqual(HOUR);
    expect(w.clock.now().getTime() - startedAt).toBeLessThan(HOUR + 2 * MINUTE);
    expect(outcomes.length).toBeGreaterThan(SETTINGS.maxAttempts);
    const meta = w.store.current(PATH).metadata;
    expect(meta).toMatchObject({
      rotation_state: "failed",
      rotate: "emergency",
      rotate_reason: "INC-7 key leaked",
      last_rotation_error: expect.stringMatching(/^SALESFORCE_UNAVAILABLE: /),
    });
    expect(w.state.journal(PATH)).toMatchObject({ step: "failed", failedStep: "staging", keepTrigger: true });
    expect(w.notifier.sent.map((n) => n.kind)).toEqual(["rotation.retrying", "rotation.failed"]);
    expect(w.notifier.sent.at(-1)?.text).toContain("stays set");

    // Salesforce is back; the next cycle acts on the flag that is still there and finishes the emergency.
    w.issuer.clearFaults("createStaged");
    const again = await engine.start(PATH, EMERGENCY);
    expect(again).toMatchObject({ kind: "completed", mode: "emergency" });
    expectRotatedCleanly(w);
    expect(w.store.current(PATH).metadata["rotate_reason"]).toBeUndefined();
  });

  it("an outage longer than the budget rolls a standard rotation back, and leaves rotate=now set", async () => {
    const w = makeWorld({ metadata: { soak: "0s" } });
    w.issuer.failNext("createStaged", unavailable("POST"), { times: 1_000 });
    const engine = makeEngine(w, { settings: { retryBudgetMs: HOUR } });
    const outcomes = await resumeUntilSettled(w, engine, await engine.start(PATH, FLAG_START));
    expect(outcomes.at(-1)).toMatchObject({ kind: "rolled_back", code: "SALESFORCE_UNAVAILABLE" });
    const meta = w.store.current(PATH).metadata;
    expect(meta["rotation_state"]).toBe("failed");
    expect(meta["rotate"]).toBe("now");
    expect(w.state.journal(PATH)).toBeUndefined();
    expect(w.issuer.validPairs().map((p) => p.clientId)).toEqual([w.original.clientId]);
  });

  it("a failure that is not an outage still clears the flag, as before", async () => {
    const w = makeWorld({ metadata: { soak: "0s" } });
    w.issuer.failNext(
      "createStaged",
      errorFromRestAnswer(call("POST", false), 403, [{ errorCode: "FORBIDDEN" }]),
    );
    const out = await makeEngine(w).start(PATH, FLAG_START);
    expect(out).toMatchObject({ kind: "rolled_back", code: "SALESFORCE_NOT_ENABLED" });
    expect(w.store.current(PATH).metadata["rotate"]).toBeUndefined();
  });

  it("the login rate limit at the proof of possession is an outage too, not a refusal", async () => {
    const w = makeWorld({ metadata: { soak: "0s" } });
    w.issuer.answerVerifyNext("login_rate_exceeded", { times: SETTINGS.maxAttempts + 1 });
    const engine = makeEngine(w);
    const first = await engine.start(PATH, FLAG_START);
    expect(first).toMatchObject({
      kind: "failed",
      willRetry: true,
      code: "SALESFORCE_RATE_LIMITED",
      step: "claimed",
    });
    const outcomes = await resumeUntilSettled(w, engine, first);
    expect(outcomes.at(-1)).toMatchObject({ kind: "completed" });
    expectRotatedCleanly(w);
  });

  it("the adapter's token refusal for the login rate limit is the same outage", () => {
    const err = errorFromTokenAnswer(call("POST", true), 400, {
      error: "invalid_grant",
      error_description: "login rate exceeded",
    });
    expect(err).toMatchObject({ code: "SALESFORCE_RATE_LIMITED", retryable: true });
  });

  it("a scheduled start waiting behind a backoff reports the wait; an operator's request goes ahead", async () => {
    const w = makeWorld({ metadata: { soak: "0s" } });
    w.issuer.failNext("createStaged", unavailable("POST"));
    const engine = makeEngine(w);
    expect(await engine.start(PATH, FLAG_START)).toMatchObject({ kind: "failed", willRetry: true });
    const calls = w.issuer.calls.length;
    const sched = { mode: "standard" as const, trigger: "schedule" as const, actor: "scheduler" };
    expect(await engine.start(PATH, sched)).toMatchObject({ kind: "waiting", waiting: "retry" });
    expect(w.issuer.calls.length).toBe(calls);
    expect(await engine.start(PATH, { ...FLAG_START, trigger: "cli", actor: "cli" })).toMatchObject({
      kind: "completed",
    });
  });
});

describe("rotation engine, a stale scheduled decision", () => {
  const sched = (over: Record<string, unknown> = {}) => ({
    mode: "standard" as const,
    trigger: "schedule" as const,
    actor: "scheduler",
    expectKvVersion: 1,
    expectLastRotated: undefined,
    ...over,
  });

  it("does not start again right after another replica's rotation failed and rolled back", async () => {
    // Verification never succeeds within verify_timeout: replica A rolls back, the credential is `failed`.
    const w = makeWorld({ metadata: { rotate: undefined }, propagationDelayMs: 60 * MINUTE });
    const a = await makeEngine(w, { owner: "replica-a" }).start(PATH, sched());
    expect(a.kind).toBe("rolled_back");
    expect(w.store.current(PATH).metadata["rotation_state"]).toBe("failed");
    // Replica B acts on the decision it made before A's failure, on the same KV version.
    const b = await makeEngine(w, { owner: "replica-b" }).start(PATH, sched());
    expect(b).toMatchObject({ kind: "skipped" });
    expect(b.kind === "skipped" && b.reason).toContain("rotation_state is failed");
    expect(w.issuer.stagedPosts).toBe(1);
    expect(w.notifier.sent).toHaveLength(1);
    expect(w.state.lease(PATH)).toBeUndefined();
  });

  it("does not start when a rotation closed since the decision (last_rotated moved)", async () => {
    const w = makeWorld({ metadata: { rotate: undefined, last_rotated: "2026-01-01T00:00:00Z" } });
    w.store.patchByHand(PATH, { last_rotated: "2026-03-02T09:59:00Z", rotation_state: "idle" });
    const out = await makeEngine(w).start(
      PATH,
      sched({ expectKvVersion: undefined, expectLastRotated: new Date("2026-01-01T00:00:00Z") }),
    );
    expect(out).toMatchObject({ kind: "skipped" });
    expect(out.kind === "skipped" && out.reason).toContain("rotated since it was scheduled");
    expect(w.issuer.stagedPosts).toBe(0);
  });

  it("starts when the metadata still reads as the decision saw it", async () => {
    const w = makeWorld({
      metadata: {
        rotate: undefined,
        soak: "0s",
        last_rotated: "2026-01-01T00:00:00Z",
        rotation_state: "idle",
      },
    });
    const out = await makeEngine(w).start(
      PATH,
      sched({ expectLastRotated: new Date("2026-01-01T00:00:00Z") }),
    );
    expect(out).toMatchObject({ kind: "completed" });
  });
});

describe("run --once, rotate=emergency set during a soak", () => {
  it("promotes at once, like the daemon, instead of waiting out the soak", async () => {
    const w = makeWorld({ semantics: "overlap" });
    const engine = makeEngine(w);
    expect(await engine.start(PATH, FLAG_START)).toMatchObject({ kind: "waiting", waiting: "soak" });
    w.store.patchByHand(PATH, { rotate: "emergency", rotate_reason: "INC-7 old key leaked" });
    const res = await runOnce(w, engine);
    const row = res.rows.find((r) => r.path === PATH);
    expect(row).toMatchObject({ action: "rotate", started: { mode: "emergency", trigger: "flag" } });
    expect(row?.outcome).toMatchObject({ kind: "completed" });
    expect(w.issuer.promotions).toBe(1);
    // The old (leaked) pair is dead now, not after the soak.
    expect(w.issuer.validPairs().map((p) => p.clientId)).not.toContain(w.original.clientId);
    expectRotatedCleanly(w);
  });

  it("leaves a rotation that backs off alone: no lease, no write, no Salesforce call", async () => {
    const w = makeWorld({ metadata: { soak: "0s" } });
    w.issuer.failNext("createStaged", unavailable("POST"));
    const engine = makeEngine(w);
    expect(await engine.start(PATH, FLAG_START)).toMatchObject({ kind: "failed", willRetry: true });
    const before = [w.issuer.calls.length, w.state.journal(PATH), w.state.lease(PATH), w.store.snapshot()];
    const res = await runOnce(w, engine);
    expect(res.rows.find((r) => r.path === PATH)?.outcome).toMatchObject({
      kind: "waiting",
      waiting: "retry",
    });
    expect([w.issuer.calls.length, w.state.journal(PATH), w.state.lease(PATH), w.store.snapshot()]).toEqual(
      before,
    );
  });
});

/** The credential's metadata as a scan sees it now. */
/** One `run --once` cycle over the world's single credential. */
function runOnce(w: World, engine: RotationEngine) {
  return runRotationCycle({
    engine,
    state: w.state,
    store: w.store,
    source: sourceOf(w),
    prefixes: ["api-credentials"],
    defaults: DEFAULT_CLASSIFY_DEFAULTS,
    clock: w.clock,
    concurrency: 1,
  });
}

function sourceOf(w: World): MetadataSource {
  return {
    async *scan(): AsyncIterable<ScanItem> {
      const c = w.store.current(PATH);
      yield {
        kind: "entry",
        entry: {
          path: PATH,
          currentVersion: c.version,
          createdTime: "2026-01-01T00:00:00Z",
          updatedTime: "2026-01-01T00:00:00Z",
          currentVersionCreatedTime: "2026-01-01T00:00:00Z",
          currentVersionDeleted: false,
          customMetadata: c.metadata,
        },
      };
    },
  };
}
