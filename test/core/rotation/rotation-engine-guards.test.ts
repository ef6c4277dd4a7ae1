import { describe, expect, it } from "vitest";
import { RotatorError } from "../../../src/core/errors.ts";
import {
  everythingVisible,
  expectRotatedCleanly,
  FLAG_START,
  Interceptor,
  MINUTE,
  makeEngine,
  makeWorld,
  onJournalWrite,
  PATH,
  passBackoff,
  SETTINGS,
  type World,
} from "./rotation-world.ts";

const EMERGENCY = { ...FLAG_START, mode: "emergency" as const };

function snapshotAll(w: World): unknown {
  return structuredClone({
    issuer: w.issuer.snapshot(),
    store: w.store.snapshot(),
    state: w.state.snapshot(),
    audit: w.audit.events,
    notes: w.notifier.sent,
  });
}

describe("rotation engine, refusals", () => {
  it("refuses to rotate the ECA the rotator logs in with, changing nothing at Salesforce or in KV data", async () => {
    const w = makeWorld();
    w.issuer.setOwnClientId("prod", w.original.clientId);
    const before = { sf: w.issuer.snapshot(), data: w.store.history(PATH) };
    const out = await makeEngine(w).start(PATH, FLAG_START);
    expect(out).toMatchObject({
      kind: "failed",
      code: "POLICY_SELF_ROTATION",
      willRetry: false,
      step: "claimed",
    });
    expect({ sf: w.issuer.snapshot(), data: w.store.history(PATH) }).toEqual(before);
    expect(w.issuer.calls).not.toContain("createStaged");
    expect(w.state.journal(PATH)).toBeUndefined();
    expect(w.state.lease(PATH)).toBeUndefined();
    // The operator sees why, and the flag is consumed so the daemon does not retry it every cycle.
    const meta = w.store.current(PATH).metadata;
    expect(meta["rotation_state"]).toBe("failed");
    expect(meta["last_rotation_error"]).toMatch(/^POLICY_SELF_ROTATION: /);
    expect(meta["rotate"]).toBeUndefined();
    expect(w.notifier.sent.map((n) => n.kind)).toEqual(["rotation.failed"]);
    expect(w.notifier.sent[0]?.text).toContain("Nothing was changed");
  });

  it("stops at a staged set a person made, and leaves it alone", async () => {
    const w = makeWorld();
    const theirs = w.issuer.personStages(w.target);
    const out = await makeEngine(w).start(PATH, FLAG_START);
    expect(out).toMatchObject({ kind: "failed", code: "SALESFORCE_STAGED_CONFLICT", willRetry: false });
    expect(w.issuer.stagedRecord(w.target)).toEqual({ ...theirs, state: "active" });
    expect(w.issuer.stagedPosts).toBe(0);
    expect(w.store.history(PATH)).toHaveLength(1);
    expect(w.state.journal(PATH)).toBeUndefined();
  });

  it("refuses when KV does not hold the pair Salesforce treats as main", async () => {
    const w = makeWorld();
    const cur = w.store.current(PATH);
    w.store.put(PATH, { ...cur.data, client_id: "3MVG-stale" });
    const out = await makeEngine(w).start(PATH, FLAG_START);
    expect(out).toMatchObject({ kind: "failed", code: "ROTATION_STATE_MISMATCH", willRetry: false });
    expect(w.issuer.stagedPosts).toBe(0);
  });

  it("leaves a credential alone while another process holds its lease", async () => {
    const w = makeWorld();
    w.state.putLease(PATH, {
      owner: "replica-z",
      fence: 4,
      expiresAt: new Date(w.clock.now().getTime() + MINUTE),
    });
    const before = snapshotAll(w);
    const out = await makeEngine(w).start(PATH, FLAG_START);
    expect(out).toMatchObject({ kind: "skipped", code: "ROTATION_LEASE_HELD" });
    expect(out.kind === "skipped" && out.reason).toContain("replica-z");
    expect(snapshotAll(w)).toEqual(before);
  });

  it("takes over an expired lease with a higher fence", async () => {
    const w = makeWorld({ metadata: { soak: "0s" } });
    w.state.putLease(PATH, { owner: "replica-z", fence: 4, expiresAt: w.clock.now() });
    const fences: number[] = [];
    const interceptor = new Interceptor({
      before: () => {
        const f = w.state.journal(PATH)?.fence;
        if (f !== undefined && !fences.includes(f)) fences.push(f);
      },
    });
    expect(await makeEngine(w, { interceptor }).start(PATH, FLAG_START)).toMatchObject({ kind: "completed" });
    expect(fences).toEqual([5]);
  });
});

describe("rotation engine, a stale owner", () => {
  it("stops with ROTATION_LEASE_HELD and writes nothing once another replica took the credential over", async () => {
    const w = makeWorld({ metadata: { soak: "0s" } });
    let snapshot: unknown;
    // Replica A is paused right after journaling the staging intent, longer than its lease (no renewal runs
    // while it is paused); meanwhile replica B claimed the expired lease with the next fence.
    const paused = onJournalWrite(w, "staging", "after", () => {
      w.clock.advance(SETTINGS.leaseTtlMs + 1);
      const fence = (w.state.lease(PATH)?.fence ?? 0) + 1;
      w.state.putLease(PATH, {
        owner: "replica-b",
        fence,
        expiresAt: new Date(w.clock.now().getTime() + MINUTE),
      });
      snapshot = snapshotAll(w);
    });
    const a = await makeEngine(w, { owner: "replica-a", ports: { state: paused } }).start(PATH, FLAG_START);
    expect(a).toMatchObject({ kind: "skipped", code: "ROTATION_LEASE_HELD" });
    expect(snapshotAll(w)).toEqual(snapshot);
    expect(w.issuer.stagedPosts).toBe(0);

    // B, the rightful owner, finishes it.
    expect(await makeEngine(w, { owner: "replica-b" }).resume(PATH)).toMatchObject({ kind: "completed" });
    expectRotatedCleanly(w);
  });

  it("cannot write the journal over a newer owner's record (cas)", async () => {
    const w = makeWorld({ metadata: { soak: "0s" } });
    let bumped = false;
    const interceptor = new Interceptor({
      before: (name) => {
        // Another writer touches the journal between A's lease check and A's journal write.
        if (!bumped && name === "state.writeJournal" && w.state.journal(PATH)?.step === "claimed") {
          bumped = true;
          const raw = w.state.rawJournal(PATH);
          if (raw !== undefined) w.state.putRawJournal(PATH, raw);
        }
      },
    });
    const out = await makeEngine(w, { interceptor }).start(PATH, FLAG_START);
    expect(out).toMatchObject({ kind: "skipped", code: "ROTATION_LEASE_HELD" });
    expect(w.state.journal(PATH)?.step).toBe("claimed");
    expect(w.issuer.stagedPosts).toBe(0);
  });
});

describe("rotation engine, failures", () => {
  it("counts attempts in the journal with a growing backoff, then fails once: rotation_state=failed, one alert, one audit event", async () => {
    const w = makeWorld({ metadata: { soak: "0s" } });
    // Not an outage (an unknown error): max_attempts bounds it. Emergency mode before promotion cannot roll
    // back, so the rotation is parked.
    const odd = () => new Error("something odd happened");
    w.issuer.failNext("createStaged", odd(), { times: 3 });
    const engine = makeEngine(w, { settings: { retryBaseMs: 60_000 } });
    const start = w.clock.now().getTime();
    const first = await engine.start(PATH, EMERGENCY);
    expect(first).toMatchObject({ kind: "failed", willRetry: true, attempts: 1, step: "staging" });
    expect(w.state.journal(PATH)).toMatchObject({ attempts: 1, lastError: "UNCLASSIFIED: unexpected Error" });
    // The next attempt waits 30-60s (half to all of one base); a resume before then only reports the wait.
    const wait1 = (w.state.journal(PATH)?.retryAfter?.getTime() ?? 0) - start;
    expect(wait1).toBeGreaterThanOrEqual(30_000);
    expect(wait1).toBeLessThanOrEqual(60_000);
    expect(first.kind === "failed" && first.retryAt?.getTime()).toBe(start + wait1);
    const calls0 = w.issuer.calls.length;
    expect(await engine.resume(PATH)).toMatchObject({ kind: "waiting", waiting: "retry", step: "staging" });
    expect(w.issuer.calls.length).toBe(calls0);
    passBackoff(w);
    expect(await engine.resume(PATH)).toMatchObject({ kind: "failed", willRetry: true, attempts: 2 });
    const wait2 = (w.state.journal(PATH)?.retryAfter?.getTime() ?? 0) - w.clock.now().getTime();
    expect(wait2).toBeGreaterThanOrEqual(60_000);
    expect(wait2).toBeLessThanOrEqual(120_000);
    passBackoff(w);
    const last = await engine.resume(PATH);
    expect(last).toMatchObject({ kind: "failed", willRetry: false, attempts: 3, code: "UNCLASSIFIED" });

    const meta = w.store.current(PATH).metadata;
    expect(meta).toMatchObject({
      rotation_state: "failed",
      last_rotation_error: "UNCLASSIFIED: unexpected Error",
    });
    expect(meta["rotate"]).toBeUndefined();
    // One alert when the emergency started failing, one when it failed for good; not one per attempt.
    expect(w.notifier.sent.map((n) => n.kind)).toEqual(["rotation.retrying", "rotation.failed"]);
    expect(w.audit.types().filter((t) => t === "rotation.failed")).toHaveLength(1);
    expect(w.audit.types().filter((t) => t === "rotation.retrying")).toHaveLength(2);
    // Parked: the journal stays; resuming does nothing until an operator asks again.
    expect(w.state.journal(PATH)).toMatchObject({ step: "failed", failedStep: "staging" });
    const calls = w.issuer.calls.length;
    expect(await engine.resume(PATH)).toMatchObject({ kind: "skipped" });
    expect(await engine.start(PATH, { ...FLAG_START, trigger: "schedule" })).toMatchObject({
      kind: "failed",
    });
    expect(w.issuer.calls.length).toBe(calls);
    expect(w.notifier.sent).toHaveLength(2);

    // rotate=now again: the rotation goes on from where it failed, with fresh attempts.
    w.store.patchByHand(PATH, { rotate: "now" });
    expect(await engine.start(PATH, FLAG_START)).toMatchObject({ kind: "completed", mode: "emergency" });
    expectRotatedCleanly(w);
  });

  it("gives up at once on an error that retrying cannot fix", async () => {
    const w = makeWorld();
    w.issuer.failNext(
      "createStaged",
      new RotatorError("SALESFORCE_NOT_ENABLED", "staged credentials are off"),
    );
    const out = await makeEngine(w).start(PATH, FLAG_START);
    expect(out).toMatchObject({ kind: "rolled_back", code: "SALESFORCE_NOT_ENABLED" });
    expect(w.issuer.stagedPosts).toBe(0);
    expect(w.notifier.sent).toHaveLength(1);
  });

  it("deletes a staged set whose secret Salesforce will not show, and says how to fix the org", async () => {
    const w = makeWorld();
    w.issuer.secretsReadable = false;
    const out = await makeEngine(w).start(PATH, FLAG_START);
    expect(out).toMatchObject({ kind: "rolled_back", code: "SALESFORCE_NOT_ENABLED" });
    expect(w.issuer.stagedRecord(w.target)).toBeUndefined();
    expect(w.issuer.validPairs()).toHaveLength(1);
  });

  it("never lets a failing audit sink or notifier change the outcome, and counts the failures", async () => {
    const w = makeWorld({ metadata: { soak: "0s" } });
    w.audit.failing = true;
    w.notifier.failing = true;
    const seen: string[] = [];
    const out = await makeEngine(w, { onSinkFailure: (sink) => seen.push(sink) }).start(PATH, FLAG_START);
    expect(out.kind).toBe("completed");
    expect(out.sinkFailures).toBe(w.audit.failures + w.notifier.failures);
    expect(w.notifier.failures).toBe(1);
    expect(seen.filter((s) => s === "notify")).toHaveLength(1);
    expect(seen.filter((s) => s === "audit")).toHaveLength(w.audit.failures);
    expectRotatedCleanly(w);
  });

  it("returns a failed outcome, not an exception, when Vault is down", async () => {
    const w = makeWorld();
    w.state.failNext(
      "writeLease",
      new RotatorError("VAULT_UNAVAILABLE", "connection refused", { retryable: true }),
    );
    const out = await makeEngine(w).start(PATH, FLAG_START);
    expect(out).toMatchObject({ kind: "failed", code: "VAULT_UNAVAILABLE", willRetry: true });
  });

  it("reports a corrupt journal instead of guessing", async () => {
    const w = makeWorld();
    w.state.putRawJournal(PATH, { rotation_id: "x", step: "staged" });
    const out = await makeEngine(w).resume(PATH);
    expect(out).toMatchObject({ kind: "failed", code: "ROTATION_JOURNAL_CORRUPT", willRetry: false });
    expect(w.issuer.calls).toEqual([]);
  });

  it("refuses settings without a lease to hold", () => {
    const w = makeWorld();
    expect(() => makeEngine(w, { settings: { leaseTtlMs: 0 } })).toThrow(/lease_ttl/);
    // A lease shorter than a verification is fine: it is renewed while the verification runs.
    expect(() => makeEngine(w, { settings: { leaseTtlMs: SETTINGS.verifyTimeoutMs / 4 } })).not.toThrow();
  });
});

describe("rotation engine, dry run", () => {
  it("plans the steps and runs the preflight checks without changing anything anywhere", async () => {
    const w = makeWorld({ metadata: { soak: "30m" } });
    const before = snapshotAll(w);
    const plan = await makeEngine(w).plan(PATH, { mode: "standard" });
    expect(snapshotAll(w)).toEqual(before);
    expect(w.issuer.calls).not.toContain("createStaged");
    expect(plan).toMatchObject({
      wouldRotate: true,
      resumesFrom: undefined,
      soakMs: 30 * MINUTE,
      mode: "standard",
    });
    expect(plan.steps[0]).toBe("claimed");
    expect(plan.steps.at(-1)).toBe("closed");
    expect(plan.checks.map((c) => c.name)).toEqual([
      "journal",
      "lease",
      "credential",
      "policy",
      "salesforce",
      "preflight",
      "preflight",
      "preflight",
    ]);
    expect(plan.checks.every((c) => c.ok)).toBe(true);
    expect(plan.checks.map((c) => c.detail).slice(-2)).toEqual([
      "no path owns this consumer yet: this path becomes its owner once its pair logs in",
      "the pair in KV logs in at Salesforce (the path holds this consumer)",
    ]);
  });

  it("shows in the dry run that another path owns the consumer and that the pair in KV does not log in", async () => {
    const w = makeWorld({ metadata: { soak: "0s" } });
    await makeEngine(w).start(PATH, FLAG_START);
    const other = "api-credentials/team-b/copy";
    w.store.put(
      other,
      { client_id: w.store.current(PATH).data["client_id"] ?? "", api_key: "made-up" },
      {
        provider: "salesforce-eca",
        eca_app_id: w.target.appId,
        eca_consumer_id: w.target.consumerId,
      },
    );
    const before = snapshotAll(w);
    const plan = await makeEngine(w).plan(other, { mode: "standard" });
    expect(snapshotAll(w)).toEqual(before);
    const failed = plan.checks.filter((c) => !c.ok).map((c) => c.detail.split(":")[0]);
    expect(failed).toEqual(["POLICY_CONSUMER_OWNED", "ROTATION_POSSESSION_UNPROVEN"]);
  });

  it("shows every problem a real run would stop at", async () => {
    const w = makeWorld();
    w.issuer.setOwnClientId("prod", w.original.clientId);
    w.issuer.personStages(w.target);
    const before = snapshotAll(w);
    const plan = await makeEngine(w).plan(PATH, { mode: "emergency" });
    expect(snapshotAll(w)).toEqual(before);
    expect(plan.wouldRotate).toBe(false);
    expect(plan.soakMs).toBe(0);
    const failed = plan.checks.filter((c) => !c.ok).map((c) => c.detail.split(":")[0]);
    expect(failed).toEqual(["POLICY_SELF_ROTATION", "SALESFORCE_STAGED_CONFLICT"]);
  });

  it("says an unfinished rotation would be resumed, from where", async () => {
    const w = makeWorld();
    await makeEngine(w).start(PATH, FLAG_START);
    const before = snapshotAll(w);
    const plan = await makeEngine(w, { owner: "replica-b" }).plan(PATH, { mode: "standard" });
    expect(snapshotAll(w)).toEqual(before);
    expect(plan).toMatchObject({ resumesFrom: "published", wouldRotate: true });
    expect(plan.steps[0]).toBe("promoting");
  });

  it("reports invalid metadata as a failed check", async () => {
    const w = makeWorld({ metadata: { eca_app_id: "not-an-id" } });
    const plan = await makeEngine(w).plan(PATH, { mode: "standard" });
    expect(plan.wouldRotate).toBe(false);
    expect(plan.checks.find((c) => c.name === "policy")).toMatchObject({ ok: false });
  });
});

describe("rotation engine, secrets", () => {
  it("never shows a secret in audit events, notifications, outcomes, errors or plans", async () => {
    const w = makeWorld({ metadata: { soak: "0s" } });
    const outcomes: unknown[] = [];
    const engine = makeEngine(w);
    outcomes.push(await engine.plan(PATH, { mode: "standard" }));
    // A failure on the way, whose error text comes back in outcomes, metadata and notifications.
    w.issuer.failNext("verifyPair", new Error("test-secret-canary-in-a-foreign-error"));
    outcomes.push(await engine.start(PATH, FLAG_START));
    passBackoff(w);
    outcomes.push(await engine.resume(PATH));
    expect(outcomes.at(-1)).toMatchObject({ kind: "completed" });
    // And a rollback of a second rotation, with its own errors.
    w.store.patchByHand(PATH, { rotate: "now", soak: "1h" });
    outcomes.push(await engine.start(PATH, FLAG_START));
    outcomes.push(await engine.rollback(PATH, { actor: "cli" }));
    outcomes.push(await engine.rollback(PATH, { actor: "cli" }));

    const visible = everythingVisible(w, outcomes) + JSON.stringify(w.store.current(PATH).metadata);
    expect(visible).not.toContain("test-secret-canary");
    expect(visible).not.toContain(w.issuer.mainPair(w.target).secret);
    // Consumer keys appear only as fingerprints in audit and chat.
    expect(JSON.stringify(w.audit.events) + JSON.stringify(w.notifier.sent)).not.toContain("3MVG-key-");
  });
});

describe("rotation engine, a rotation with no journal here", () => {
  for (const [state, start] of [
    ["in_progress", FLAG_START],
    ["awaiting_promotion", { ...FLAG_START, mode: "emergency" }],
  ] as const) {
    it(`refuses to start while rotation_state=${state} and no journal exists (another deployment's rotation)`, async () => {
      // Another deployment (its own state_prefix) is mid-rotation: its journal is not under ours.
      const w = makeWorld({
        metadata: { rotation_state: state, rotate: start.mode === "emergency" ? "emergency" : "now" },
      });
      const before = snapshotAll(w);
      const out = await makeEngine(w).start(PATH, start);
      expect(out).toMatchObject({ kind: "skipped", code: "ROTATION_IN_PROGRESS_ELSEWHERE" });
      expect(out.kind === "skipped" && out.reason).toMatch(/no journal for it: another deployment/);
      // Nothing at Salesforce, in KV, in the journal; the lease it took is gone again.
      expect(snapshotAll(w)).toEqual(before);
      expect(w.issuer.calls).toEqual([]);
    });
  }

  it("starts as usual once the other rotation ended (rotation_state idle or failed)", async () => {
    const w = makeWorld({ metadata: { rotation_state: "in_progress", soak: "0s" } });
    expect(await makeEngine(w).start(PATH, FLAG_START)).toMatchObject({ kind: "skipped" });
    w.store.patchByHand(PATH, { rotation_state: "idle" });
    expect(await makeEngine(w).start(PATH, FLAG_START)).toMatchObject({ kind: "completed" });
    expectRotatedCleanly(w);
  });
});
