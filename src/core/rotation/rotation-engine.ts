// The rotation engine: pure core, everything through the ports. One call works on one
// credential and returns an explicit outcome; it throws only INTERNAL_INVARIANT (a bug).
//
//   start(path, opts)   claim the lease, journal `claimed`, run; an unfinished journal is resumed instead
//                       (a failed one is revived only by an operator's trigger, never by the schedule)
//   resume(path)        continue an unfinished journal after a crash, a soak or a takeover (also "advance")
//   rollback(path)      before promotion: delete the staged set, make the old pair current again
//   plan(path, opts)    --dry-run: reads only, returns the steps and the preflight checks
//   adopt(path, opts)   move the ownership of the credential's external consumer to this path (adopt.ts)
//
// The engine holds a lease only while it runs steps, renewed in the background (lease.ts). Whenever it returns
// with the journal still there (waiting for the soak, or after a counted failure) it expires the lease in place,
// so any replica can carry on and gets a higher fence; the journal is deleted only when the rotation is closed or
// rolled back. However a call ends, its renewal timer is stopped before it returns.
// Failure handling (counted attempts, backoff, rollback, parking) is the drive loop further down.
import { classifyError, isRotatorError, RotatorError } from "../errors.ts";
import { rotationWithoutJournal } from "../inventory/collect-inventory.ts";
import { parseCredentialPolicy } from "../inventory/credential-policy.ts";
import { notRotatedMessage } from "../manual/manual-actions.ts";
import { type AdoptOptions, type AdoptOutcome, adoptConsumer } from "./adopt.ts";
import type { RotationEngineDeps, RotationRun, StartOptions } from "./engine-deps.ts";
import type { JournalChanges, JournalRecord } from "./journal-record.ts";
import type { LeaseHold } from "./lease.ts";
import { heldDetail, readersVerdict, soaksForReaders } from "./readers-soak.ts";
import type { RotationOutcome, SkippedOutcome, WaitKind } from "./rotation-outcome.ts";
import { planRotation, type RotationPlan } from "./rotation-plan.ts";
import {
  claimFor,
  errorLine,
  failed,
  isRetryable,
  isTransient,
  JournaledRun,
  leaseLost,
  parked,
  publicMessage,
  refused,
  skipped,
  waiting,
} from "./rotation-run.ts";
import { canTransition, isOperatorRequest, isPastPromotion, type RotationMode } from "./rotation-state.ts";

interface RollbackOptions {
  readonly actor: string;
  readonly reason?: string | undefined;
}

export interface RotationEngine {
  start(path: string, opts: StartOptions): Promise<RotationOutcome>;
  resume(path: string): Promise<RotationOutcome>;
  rollback(path: string, opts: RollbackOptions): Promise<RotationOutcome>;
  plan(path: string, opts: { readonly mode: RotationMode }): Promise<RotationPlan>;
  adopt(path: string, opts: AdoptOptions): Promise<AdoptOutcome>;
}

export function createRotationEngine(deps: RotationEngineDeps): RotationEngine {
  const { settings } = deps;
  if (!(settings.maxAttempts >= 1) || !(settings.leaseTtlMs > 0)) {
    throw new RotatorError(
      "CONFIG_INVALID",
      "the rotation lease needs a positive lease_ttl, and max_attempts must be at least 1",
    );
  }
  return {
    start: (path, opts) => contained(path, () => start(deps, path, opts)),
    resume: (path) => contained(path, () => resume(deps, path)),
    rollback: (path, opts) => contained(path, () => rollback(deps, path, opts)),
    plan: (path, opts) => planRotation(deps, path, opts.mode),
    adopt: (path, opts) => adoptConsumer(deps, path, opts),
  };
}

/** Runs `body` under a claimed lease and stops its renewals however the body ends. */
async function holding(
  hold: LeaseHold,
  body: (hold: LeaseHold) => Promise<RotationOutcome>,
): Promise<RotationOutcome> {
  try {
    return await body(hold);
  } finally {
    hold.stop();
  }
}

async function start(deps: RotationEngineDeps, path: string, opts: StartOptions): Promise<RotationOutcome> {
  const claim = await claimFor(deps, path, { fresh: true });
  if (!claim.ok) return claim.outcome;
  return holding(claim.hold, (hold) => startHeld(deps, path, opts, hold));
}

async function startHeld(
  deps: RotationEngineDeps,
  path: string,
  opts: StartOptions,
  hold: LeaseHold,
): Promise<RotationOutcome> {
  let prepared: { kind: "run"; run: RotationRun } | { kind: "skip"; outcome: SkippedOutcome };
  try {
    prepared = await prepareStart(deps, path, opts, hold);
  } catch (err) {
    await hold.release(true);
    throw err;
  }
  if (prepared.kind === "skip") {
    // Decided without reading the journal: an unfinished rotation is continued, whatever the credential says now.
    const existing = await existingRun(deps, path, hold);
    if (existing !== undefined) return continueExisting(existing, opts);
    await hold.release(false);
    return prepared.outcome;
  }
  const run = prepared.run;
  let created: "created" | "exists";
  try {
    created = await run.create();
  } catch (err) {
    await hold.release(false);
    return unrecorded(run, err);
  }
  if (created === "exists") {
    // The cas 0 met a journal: an unfinished rotation, never started twice.
    const existing = await existingRun(deps, path, hold);
    if (existing !== undefined) return continueExisting(existing, opts);
    // It was there for the cas and is gone now: another process is at work on it.
    await hold.release(false);
    return unrecorded(run, leaseLost(path, undefined));
  }
  try {
    await run.patchMetadata({ rotation_state: "in_progress" });
    await run.emit("rotation.started");
  } catch (err) {
    return onError(run, err);
  }
  return drive(run);
}

/** The unfinished rotation's journal as a run under `hold`; undefined when there is none. */
async function existingRun(
  deps: RotationEngineDeps,
  path: string,
  hold: LeaseHold,
): Promise<RotationRun | undefined> {
  try {
    const found = await deps.state.readJournal(path);
    return found === undefined ? undefined : new JournaledRun(deps, found.value, found.version, hold);
  } catch (err) {
    await hold.release(true);
    throw err;
  }
}

/**
 * Under the lease: a new `claimed` record (not yet written), or why not to start. The journal is not read here:
 * the first journal write is a create (cas 0), which fails when an unfinished rotation's journal exists, and a
 * skip looks for one before it is reported (startHeld).
 */
async function prepareStart(
  deps: RotationEngineDeps,
  path: string,
  opts: StartOptions,
  hold: LeaseHold,
): Promise<{ kind: "run"; run: RotationRun } | { kind: "skip"; outcome: SkippedOutcome }> {
  const lease = hold.lease;
  const skip = (reason: string, code?: RotatorError["code"]) => ({
    kind: "skip" as const,
    outcome: skipped(path, undefined, undefined, reason, code),
  });
  const cred = await deps.store.read(path);
  if (cred === undefined) return skip("the credential is not in KV", "VAULT_NOT_FOUND");
  const policy = parseCredentialPolicy(cred.customMetadata, deps.providers);
  if (policy.kind === "unmanaged") return skip("unmanaged: no provider in the metadata", "VAULT_NOT_MANAGED");
  if (policy.kind === "invalid") return skip(`invalid metadata: ${policy.reason}`, "POLICY_INVALID");
  const provider = deps.providers.get(policy.policy.provider);
  if (provider === undefined) {
    return skip(notRotatedMessage(policy.policy.provider), "POLICY_INVALID");
  }
  try {
    provider.checkPolicy(policy.policy, path, deps);
  } catch (err) {
    if (err instanceof RotatorError) return skip(err.message, err.code);
    throw err;
  }
  // No journal here, yet the metadata says a rotation runs: another deployment's (or a leftover); never a second.
  const elsewhere = rotationWithoutJournal(policy.policy.rotationState);
  if (elsewhere !== undefined) return skip(elsewhere, "ROTATION_IN_PROGRESS_ELSEWHERE");
  if (opts.expectKvVersion !== undefined && cred.version !== opts.expectKvVersion) {
    return skip(`the credential changed since the decision (now version ${cred.version}): decide again`);
  }
  if (opts.trigger === "flag" && policy.policy.trigger === undefined) {
    return skip("the rotate flag is already cleared: the request was handled");
  }
  if (opts.trigger === "schedule") {
    // The decision was made on a scan that may be old by now (a backlog, another replica): decide again on what
    // the lease-holder reads. A rotation that failed or rolled back meanwhile is left for an operator.
    const { rotationState, lastRotated } = policy.policy;
    if (rotationState !== "idle") {
      return skip(`rotation_state is ${rotationState} now, not idle as when it was scheduled: decide again`);
    }
    if (lastRotated?.getTime() !== opts.expectLastRotated?.getTime()) {
      return skip("the credential was rotated since it was scheduled: decide again");
    }
  }
  const now = deps.clock.now();
  const record: JournalRecord = {
    rotationId: opts.rotationId ?? deps.ids(),
    path,
    provider: provider.name,
    mode: opts.mode,
    trigger: opts.trigger,
    actor: opts.actor,
    reason: opts.reason ?? (opts.trigger === "flag" ? policy.policy.trigger?.reason : undefined),
    step: "claimed",
    fence: lease.fence,
    owner: deps.owner,
    attempts: 0,
    startedAt: now,
    updatedAt: now,
    kvVersionRead: cred.version,
    kvVersionPublished: undefined,
    target: undefined,
    oldClientId: undefined,
    stagedId: undefined,
    newClientId: undefined,
    newSecret: undefined,
    promoteAfter: undefined,
    promotedAt: undefined,
    lastError: undefined,
    flag: policy.policy.trigger?.mode,
    flagReason: policy.policy.trigger?.reason,
    ...provider.claimFields(cred, policy.policy, deps, path),
  };
  const run = new JournaledRun(deps, record, 0, hold);
  run.seen.claimRead = cred;
  return { kind: "run", run };
}

/** start() found a journal: carry on with it rather than start a second rotation. */
async function continueExisting(run: RotationRun, opts: StartOptions): Promise<RotationOutcome> {
  const r = run.record;
  try {
    if (r.step === "failed") {
      if (!isOperatorRequest(opts.trigger)) {
        await run.releaseLease();
        return parked(run);
      }
      if (r.failedStep === undefined) {
        throw new RotatorError(
          "ROTATION_JOURNAL_CORRUPT",
          "a failed journal that does not say where it failed",
          {
            context: { path: run.path },
          },
        );
      }
      // An operator asked again: the rotation goes on from where it failed, with fresh attempts. The flag that
      // asked is this rotation's now (the close clears it).
      await run.revive(r.failedStep, await flagNow(run, opts));
      await run.patchMetadata({ rotation_state: "in_progress" });
    } else {
      const backoff = retryWait(r, run.deps);
      if (backoff !== undefined && !isOperatorRequest(opts.trigger)) {
        // Only a person's request skips the backoff after a failed attempt.
        await run.releaseLease();
        return waiting(run.path, r, backoff, run.sinkFailures);
      }
      // The provider says what a second request changes (an emergency flag ends a soak, for one), and whether
      // that used up the operator's flag: then the flag now in the metadata counts as this rotation's, and the
      // close clears it.
      const repeat = run.provider.onRepeatStart(r, opts, run.now());
      const seen = repeat.usesFlag ? await flagNow(run, opts) : {};
      await run.update({ ...repeat.changes, ...seen });
    }
    await run.emit("rotation.resumed");
  } catch (err) {
    return onError(run, err);
  }
  return drive(run);
}

/** The operator's flag now in the metadata, as journal fields, when a flag made this request (else nothing). */
async function flagNow(run: RotationRun, opts: StartOptions): Promise<JournalChanges> {
  if (opts.trigger !== "flag") return {};
  const parsed = parseCredentialPolicy((await run.readCredential()).customMetadata, run.deps.providers);
  const t = parsed.kind === "managed" ? parsed.policy.trigger : undefined;
  return { flag: t?.mode, flagReason: t?.reason };
}

async function resume(deps: RotationEngineDeps, path: string): Promise<RotationOutcome> {
  // Read first, without the lease: a parked or soaking rotation costs no write.
  const peek = await deps.state.readJournal(path);
  if (peek === undefined) return skipped(path, undefined, undefined, "no unfinished rotation", undefined);
  const early = retryWait(peek.value, deps) ?? waitingFor(peek.value, deps);
  if (peek.value.step === "failed") {
    return skipped(
      path,
      peek.value.rotationId,
      peek.value.mode,
      `failed at ${peek.value.failedStep ?? "?"} (${peek.value.lastError ?? "no error recorded"}): set rotate=now to resume`,
      peek.value.lastErrorCode,
    );
  }
  if (early !== undefined) return waiting(path, peek.value, early, 0);
  // soak_until=readers: the evidence is judged without the lease too; only a promotion, or the one-time notice
  // of a hold, claims it. A soak that waits for readers costs one reader-feed read per look, no write.
  if (soaksForReaders(peek.value)) {
    const v = await readersVerdict(peek.value, deps);
    if (v.kind === "wait") return waiting(path, peek.value, v, 0);
    if (v.kind === "hold" && peek.value.heldAt !== undefined) {
      const detail = heldDetail(v.evidence, deps.clock.now());
      return waiting(path, peek.value, { waiting: "readers", until: v.until, detail }, 0);
    }
  }

  const claim = await claimFor(deps, path);
  if (!claim.ok) return claim.outcome;
  return holding(claim.hold, (hold) => resumeHeld(deps, path, peek.value, hold));
}

async function resumeHeld(
  deps: RotationEngineDeps,
  path: string,
  peeked: JournalRecord,
  hold: LeaseHold,
): Promise<RotationOutcome> {
  const found = await deps.state.readJournal(path);
  if (found === undefined) {
    await hold.release(false);
    return skipped(path, peeked.rotationId, peeked.mode, "the rotation finished meanwhile", undefined);
  }
  const run = new JournaledRun(deps, found.value, found.version, hold);
  if (run.record.step === "failed") {
    await run.releaseLease();
    return parked(run);
  }
  try {
    await run.update({}); // the journal now carries our fence: the previous owner's late writes fail
    await run.emit("rotation.resumed");
  } catch (err) {
    return onError(run, err);
  }
  return drive(run);
}

async function rollback(
  deps: RotationEngineDeps,
  path: string,
  opts: RollbackOptions,
): Promise<RotationOutcome> {
  const claim = await claimFor(deps, path);
  if (!claim.ok) return claim.outcome;
  return holding(claim.hold, (hold) => rollbackHeld(deps, path, opts, hold));
}

async function rollbackHeld(
  deps: RotationEngineDeps,
  path: string,
  opts: RollbackOptions,
  hold: LeaseHold,
): Promise<RotationOutcome> {
  const found = await deps.state.readJournal(path);
  if (found === undefined) {
    await hold.release(false);
    return refused(path, undefined, undefined, undefined, "there is no rotation under way to roll back");
  }
  const run = new JournaledRun(deps, found.value, found.version, hold);
  const r = run.record;
  const at = r.step === "failed" ? r.failedStep : r.step;
  const why = `rolled back by ${opts.actor}${opts.reason ? `: ${opts.reason}` : ""}`;
  // Also at `promoting` (standard): the rollback step reads Salesforce's main key first and refuses when the PATCH
  // landed, so asking is safe.
  const allowed =
    at !== undefined &&
    (at === "rolling_back" ||
      at === "rolled_back" ||
      (r.mode === "standard" && canTransition(r.mode, at, "rolling_back", run.provider.machine)));
  if (!allowed || at === undefined) {
    await run.releaseLease();
    return refused(path, r.rotationId, r.mode, at, run.provider.rollbackRefusal(r.mode, at));
  }
  if (at === "promoting") {
    // The PATCH may have landed: only Salesforce's main key says whether there is still a way back. Read it before
    // the journal changes, so a refusal leaves the rotation exactly where it was (a resume goes on from there).
    try {
      if ((await deps.issuer.readMainKey(run.target)) !== run.oldClientId) {
        await run.releaseLease();
        return refused(path, r.rotationId, r.mode, at, run.provider.rollbackRefusal(r.mode, "promoted"));
      }
    } catch (err) {
      await run.releaseLease();
      throw err;
    }
  }
  try {
    if (r.step === "failed") await run.revive(at);
    if (at !== "rolling_back" && at !== "rolled_back")
      await run.advance("rolling_back", { lastError: why, rolledBackFrom: at });
  } catch (err) {
    return onError(run, err);
  }
  return drive(run);
}

/** Wraps a public call: anything but INTERNAL_INVARIANT that escapes becomes a failed outcome. */
async function contained(path: string, body: () => Promise<RotationOutcome>): Promise<RotationOutcome> {
  try {
    return await body();
  } catch (err) {
    if (isRotatorError(err, "INTERNAL_INVARIANT")) throw err;
    return {
      kind: "failed",
      path,
      rotationId: undefined,
      mode: undefined,
      sinkFailures: 0,
      step: undefined,
      code: classifyError(err),
      message: publicMessage(err),
      willRetry: isRetryable(err),
      attempts: 0,
    };
  }
}

/** The backoff after a failed attempt (journal retry_after), while it lasts: no attempt before then. */
function retryWait(
  r: JournalRecord,
  deps: RotationEngineDeps,
): { waiting: WaitKind; until: Date } | undefined {
  if (r.step === "failed" || r.retryAfter === undefined) return undefined;
  return deps.clock.now() < r.retryAfter ? { waiting: "retry", until: r.retryAfter } : undefined;
}

/** A wait that needs no lease to report: the soak, retire_after, or an operator's confirmation still to come. */
function waitingFor(
  r: JournalRecord,
  deps: RotationEngineDeps,
): { waiting: WaitKind; until: Date } | undefined {
  return deps.providers.forJournal(r.provider, r.path).waitingFor(r, deps);
}

// Driving a run: step after step until the rotation is done, must wait, or fails; and what a failure means.
// A retryable error counts an attempt in the journal, which also records when the next attempt may run
// (exponential backoff with jitter: one scan_interval, then 2, 4, 8 … capped at 30 minutes), and returns
// failed{willRetry}; until then a resume only reports the wait. Attempts stop at rotation.max_attempts, except
// for Salesforce being unavailable or rate-limited and for anything past the point of no return, which go on
// while rotation.retry_budget lasts (counted from the first failure of the run of failures). Then, or at once
// for an error retrying cannot fix: a standard rotation before promotion is rolled back automatically; one that
// has not staged anything is abandoned; anything else is parked as `failed` (the journal keeps the new pair)
// until an operator's rotate=now revives it. Each ends with rotation_state=failed, last_rotation_error, the
// trigger cleared (unless an outage ended it: then an operator's flag stays set), one audit event and one
// notification.
/** rotation.retry_budget's default: a Salesforce incident of a few hours does not end a rotation. */
const DEFAULT_RETRY_BUDGET_MS = 4 * 3_600_000;
/** The first backoff when the engine is given none (rotation.scan_interval's default). */
const DEFAULT_RETRY_BASE_MS = 60_000;
/** No backoff grows past this (unless scan_interval itself is longer). */
const RETRY_CAP_MS = 30 * 60_000;

/**
 * The wait after failed attempt number `attempt` (1-based): base, 2×base, 4×base … capped, each drawn between
 * half and all of it, so credentials that failed together do not all come back at the same moment.
 */
function retryDelayMs(attempt: number, baseMs: number, random: () => number): number {
  const nominal = Math.min(
    Math.max(RETRY_CAP_MS, baseMs),
    baseMs * 2 ** Math.min(Math.max(attempt - 1, 0), 30),
  );
  return Math.round(nominal * (0.5 + 0.5 * Math.min(Math.max(random(), 0), 1)));
}

/** The metadata's last_rotation_error while a rotation backs off; `scan` and the status page show it. */
const RETRYING_PREFIX = "retrying";

// Steps can loop only by moving the journal forward; more iterations than states means a bug.
const MAX_STEPS_PER_CALL = 40;

/** Runs steps until the rotation is done, must wait, or fails. */
async function drive(run: RotationRun): Promise<RotationOutcome> {
  for (let i = 0; i < MAX_STEPS_PER_CALL; i++) {
    const r = run.record;
    if (r.step === "failed") return parked(run);
    // A stopping daemon: every step boundary is a safe point (the journal says where to go on), so hand the
    // credential back at once rather than start a step that may wait for minutes.
    if (i > 0 && run.deps.shouldPause?.() === true) {
      await run.releaseLease();
      return skipped(
        run.path,
        r.rotationId,
        r.mode,
        `paused at ${r.step} because the rotator is stopping; the journal keeps it and the next cycle resumes it`,
        undefined,
      );
    }
    const fn = run.provider.stepFunction(r.mode, r.step);
    if (fn === undefined) {
      throw new RotatorError("INTERNAL_INVARIANT", `no step leads out of ${r.step}`, {
        context: { path: run.path },
      });
    }
    let result: Awaited<ReturnType<typeof fn>>;
    const wasFailing = r.failingSince !== undefined;
    try {
      checkPinnedDestination(run);
      result = await fn(run);
      // The step that kept failing went through: the "retrying" note in the metadata is out of date.
      if (wasFailing && result?.kind !== "done" && run.record.failingSince === undefined) {
        await run.patchMetadata({ last_rotation_error: null });
      }
    } catch (err) {
      return onError(run, err);
    }
    if (result?.kind === "done") return result.outcome;
    if (result?.kind === "wait") {
      await run.releaseLease();
      return waiting(run.path, run.record, result, run.sinkFailures);
    }
  }
  throw new RotatorError("INTERNAL_INVARIANT", "the rotation made no progress", {
    context: { path: run.path },
  });
}

/**
 * The destination pinned when the rotation started (a connection's My Domain, a tenant's auth host) must still be
 * configured under the same name with the same origin: a configuration changed mid-rotation never redirects its
 * secrets. Journals written before destinations were pinned carry none and are not checked.
 */
function checkPinnedDestination(run: RotationRun): void {
  const { destination, destinationOrigin } = run.record;
  if (destination === undefined || destinationOrigin === undefined) return;
  const { connections, tenants } = run.deps.settings.destinations;
  if ([...connections, ...tenants].some((d) => d.name === destination && d.origin === destinationOrigin))
    return;
  throw new RotatorError(
    "ROTATION_STATE_MISMATCH",
    `the configuration no longer sends ${destination}'s secrets to ${destinationOrigin}, where this rotation started; nothing is sent elsewhere. Restore that setting to finish the rotation`,
    { context: { path: run.path, step: run.record.step } },
  );
}

async function onError(run: RotationRun, err: unknown): Promise<RotationOutcome> {
  if (isRotatorError(err, "INTERNAL_INVARIANT")) throw err;
  if (isRotatorError(err, "ROTATION_LEASE_HELD")) {
    return skipped(run.path, run.record.rotationId, run.record.mode, err.message, err.code);
  }
  const line = errorLine(err);
  const attempts = run.record.attempts + 1;
  const retry = nextAttempt(run, err, attempts);
  if (retry !== undefined) {
    try {
      await recordRetry(run, err, line, attempts, retry);
    } catch (writeErr) {
      return unrecorded(run, writeErr, err);
    }
    await run.releaseLease();
    return { ...failed(run, err, true, attempts), retryAt: retry.at };
  }
  try {
    return await failForGood(run, err, line, attempts);
  } catch (writeErr) {
    return unrecorded(run, writeErr, err);
  }
}

interface NextAttempt {
  /** The earliest time the next attempt may run. */
  readonly at: Date;
  /** The first failure of this run of failures. */
  readonly since: Date;
  /** When rotation.retry_budget runs out. */
  readonly budgetEnds: Date;
}

/** Whether a failed attempt is tried again, and when; undefined: the rotation fails for good now. */
function nextAttempt(run: RotationRun, err: unknown, attempts: number): NextAttempt | undefined {
  if (!isRetryable(err)) return undefined;
  const { settings } = run.deps;
  const r = run.record;
  const now = run.now().getTime();
  const since = r.failingSince ?? run.now();
  const budgetEnds = since.getTime() + (settings.retryBudgetMs ?? DEFAULT_RETRY_BUDGET_MS);
  if (now >= budgetEnds) return undefined;
  // Before the point of no return max_attempts bounds failures that waiting is unlikely to fix, and a rollback
  // or abandon is safe. An outage is bounded by time only; past promotion, giving up would only park a
  // rotation that can still finish.
  const pastNoReturn = isPastPromotion(r.mode, r.step, run.provider.machine);
  if (attempts >= settings.maxAttempts && !pastNoReturn && !isTransient(err)) return undefined;
  const delay = retryDelayMs(
    attempts,
    settings.retryBaseMs ?? DEFAULT_RETRY_BASE_MS,
    run.deps.random ?? Math.random,
  );
  return { at: new Date(Math.min(now + delay, budgetEnds)), since, budgetEnds: new Date(budgetEnds) };
}

/**
 * Journal first (the attempt count and the backoff are what every replica goes by), then the metadata note an
 * operator sees, the audit event, and, once per run of failures, a chat alert when the delay matters: in an
 * emergency (the leaked pair lives on, or consumers wait for the new one) or past the point of no return.
 */
async function recordRetry(
  run: RotationRun,
  err: unknown,
  line: string,
  attempts: number,
  retry: NextAttempt,
): Promise<void> {
  const r = run.record;
  const first = r.failingSince === undefined;
  await run.update({
    attempts,
    lastError: line,
    lastErrorCode: classifyError(err),
    retryAfter: retry.at,
    failingSince: retry.since,
  });
  const when = retry.at.toISOString();
  await run.patchMetadata({
    last_rotation_error: `${RETRYING_PREFIX} (attempt ${attempts}, next after ${when}): ${line}`.slice(
      0,
      300,
    ),
  });
  await run.emit("rotation.retrying", { errorCode: classifyError(err) });
  if (first && (r.mode === "emergency" || isPastPromotion(r.mode, r.step, run.provider.machine))) {
    await run.notify(
      "rotation.retrying",
      `Rotation of ${r.path} (${r.mode}) is failing at ${r.step}: ${line}. It is tried again with backoff ` +
        `(next attempt after ${when}) until ${retry.budgetEnds.toISOString()} (rotation.retry_budget); ` +
        "this is the only message until it completes or fails for good.",
      classifyError(err),
    );
  }
}

async function failForGood(
  run: RotationRun,
  err: unknown,
  line: string,
  attempts: number,
): Promise<RotationOutcome> {
  const r = run.record;
  const step = r.step;
  if (step === "rolled_back") {
    // Only the finishing touches failed (metadata, journal delete): the journal stays and a resume finishes.
    await run.releaseLease();
    return failed(run, err, true, attempts);
  }
  // Salesforce stayed unavailable past the budget: the rotation ends, but what an operator asked for stays asked.
  const outage = isTransient(err);
  const keep = outage ? { keepTrigger: true } : {};
  // A failure alone rolls back only where Salesforce's main pair is certainly still the old one; at `promoting` a
  // PATCH may have landed, so the rotation parks and a resume reads the main key before anything else.
  if (r.mode === "standard" && run.provider.machine.rollbackFrom.has(step)) {
    await run.advance("rolling_back", {
      lastError: line,
      lastErrorCode: classifyError(err),
      rolledBackFrom: step,
      ...keep,
    });
    return drive(run);
  }
  const abandon = step === "claimed" || step === "inspected";
  if (!abandon) {
    await run.advance("failed", {
      failedStep: step,
      lastError: line,
      lastErrorCode: classifyError(err),
      attempts,
      ...keep,
    });
  }
  await run.patchMetadata({
    rotation_state: "failed",
    last_rotation_error: line.slice(0, 300),
    ...(await run.flagClearing(outage)),
  });
  await run.emit("rotation.failed", { step, errorCode: classifyError(err) });
  const next = run.provider.failureAdvice(r.mode, step, abandon);
  const flag = outage
    ? " Salesforce did not answer within rotation.retry_budget; a rotate flag an operator set stays set, so the next cycle tries again."
    : "";
  await run.notify(
    "rotation.failed",
    `Rotation of ${r.path} (${r.mode}) failed at ${step}: ${line}. ${next}${flag}`,
    classifyError(err),
  );
  if (abandon) {
    await run.guard();
    await run.deps.state.deleteJournal(run.path);
    await run.releaseLease(false);
  } else {
    await run.releaseLease();
  }
  return { ...failed(run, err, false, attempts), step };
}

/** The failure could not even be recorded (Vault down, or we lost the lease while recording it). */
function unrecorded(run: RotationRun, writeErr: unknown, cause: unknown = writeErr): RotationOutcome {
  if (isRotatorError(writeErr, "INTERNAL_INVARIANT")) throw writeErr;
  if (isRotatorError(writeErr, "ROTATION_LEASE_HELD")) {
    return skipped(run.path, run.record.rotationId, run.record.mode, writeErr.message, writeErr.code);
  }
  return failed(run, cause, true, run.record.attempts);
}
