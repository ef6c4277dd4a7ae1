// Driving a run: step after step until the rotation is done, must wait, or fails; and what a failure means.
// A retryable error counts an attempt in the journal and returns failed{willRetry}. At max_attempts, or at once
// for an error retrying cannot fix: a standard rotation before promotion is rolled back automatically; one that
// has not staged anything is abandoned; anything else is parked as `failed` (the journal keeps the new pair)
// until an operator's rotate=now revives it. Each ends with rotation_state=failed, last_rotation_error, the
// trigger cleared, one audit event and one notification.
import { classifyError, isRotatorError, RotatorError } from "../errors.ts";
import { errorLine, failed, isRetryable, parked, skipped, waiting } from "./outcome-builders.ts";
import type { RotationOutcome } from "./rotation-outcome.ts";
import type { RotationRun } from "./rotation-run.ts";
import { canTransition } from "./rotation-state.ts";

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
    try {
      checkPinnedDestination(run);
      result = await fn(run);
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
  if (isRetryable(err) && attempts < run.deps.settings.maxAttempts) {
    try {
      await run.update({ attempts, lastError: line });
    } catch (writeErr) {
      return unrecorded(run, writeErr, err);
    }
    await run.releaseLease();
    return failed(run, err, true, attempts);
  }
  try {
    return await failForGood(run, err, line, attempts);
  } catch (writeErr) {
    return unrecorded(run, writeErr, err);
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
  if (canTransition(r.mode, step, "rolling_back", run.provider.machine)) {
    await run.advance("rolling_back", { lastError: line });
    return drive(run);
  }
  const abandon = step === "claimed" || step === "inspected";
  if (!abandon) await run.advance("failed", { failedStep: step, lastError: line, attempts });
  await run.patchMetadata({
    rotation_state: "failed",
    last_rotation_error: line.slice(0, 300),
    rotate: null,
    rotate_reason: null,
  });
  await run.emit("rotation.failed", { step, errorCode: classifyError(err) });
  const next = run.provider.failureAdvice(r.mode, step, abandon);
  await run.notify(
    "rotation.failed",
    `Rotation of ${r.path} (${r.mode}) failed at ${step}: ${line}. ${next}`,
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
