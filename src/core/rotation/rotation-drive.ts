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
import { classifyError, isRotatorError, RotatorError } from "../errors.ts";
import type { RotationRun } from "./engine-deps.ts";
import { errorLine, failed, isRetryable, isTransient, parked, skipped, waiting } from "./outcome-builders.ts";
import type { RotationOutcome } from "./rotation-outcome.ts";
import { isPastPromotion } from "./rotation-state.ts";

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
export async function drive(run: RotationRun): Promise<RotationOutcome> {
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

export async function onError(run: RotationRun, err: unknown): Promise<RotationOutcome> {
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
  await run.update({ attempts, lastError: line, retryAfter: retry.at, failingSince: retry.since });
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
    await run.advance("rolling_back", { lastError: line, rolledBackFrom: step, ...keep });
    return drive(run);
  }
  const abandon = step === "claimed" || step === "inspected";
  if (!abandon) await run.advance("failed", { failedStep: step, lastError: line, attempts, ...keep });
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
export function unrecorded(run: RotationRun, writeErr: unknown, cause: unknown = writeErr): RotationOutcome {
  if (isRotatorError(writeErr, "INTERNAL_INVARIANT")) throw writeErr;
  if (isRotatorError(writeErr, "ROTATION_LEASE_HELD")) {
    return skipped(run.path, run.record.rotationId, run.record.mode, writeErr.message, writeErr.code);
  }
  return failed(run, cause, true, run.record.attempts);
}
