// Outcome values built from a run or from plain facts, and the public face of errors in them: RotatorError
// messages are public by contract; anything else is named, never quoted (its text could hold anything).
import { classifyError, type ErrorCode, RotatorError } from "../errors.ts";
import type { RotationRun } from "./engine-deps.ts";
import type { JournalRecord } from "./journal-record.ts";
import type { FailedOutcome, RotationOutcome, SkippedOutcome, WaitKind } from "./rotation-outcome.ts";
import type { RotationMode, RotationStep } from "./rotation-state.ts";

export function isRetryable(err: unknown): boolean {
  if (!(err instanceof RotatorError)) return true; // unknown: counted, and capped like any other
  // A cas conflict means "read again and decide again", which the next attempt does.
  return err.retryable || err.code === "VAULT_CAS_CONFLICT";
}

/**
 * Salesforce (or a Marketing Cloud tenant) unavailable, unreachable or rate-limited: an outage that waiting fixes.
 * Retried with backoff for as long as rotation.retry_budget allows, beyond max_attempts, and it never clears an
 * operator's flag.
 */
export function isTransient(err: unknown): boolean {
  return (
    err instanceof RotatorError &&
    err.retryable &&
    (err.code === "SALESFORCE_UNAVAILABLE" || err.code === "SALESFORCE_RATE_LIMITED")
  );
}

/** Public text of an error: RotatorError messages are safe by contract; anything else is named, not quoted. */
export function publicMessage(err: unknown): string {
  if (err instanceof RotatorError) return err.message;
  const name = err instanceof Error ? err.name : typeof err;
  return `unexpected ${name}`;
}

export function errorLine(err: unknown): string {
  return `${classifyError(err)}: ${publicMessage(err)}`;
}

export function failed(run: RotationRun, err: unknown, willRetry: boolean, attempts: number): FailedOutcome {
  return {
    ...providerTag(run.record.provider),
    kind: "failed",
    path: run.path,
    rotationId: run.record.rotationId,
    mode: run.record.mode,
    sinkFailures: run.sinkFailures,
    step: run.record.step,
    code: classifyError(err),
    message: publicMessage(err),
    willRetry,
    attempts,
  };
}

export function parked(run: RotationRun): FailedOutcome {
  const r = run.record;
  return {
    ...providerTag(r.provider),
    kind: "failed",
    path: run.path,
    rotationId: r.rotationId,
    mode: r.mode,
    sinkFailures: run.sinkFailures,
    step: r.failedStep ?? r.step,
    code: r.lastErrorCode ?? "ROTATION_STATE_MISMATCH",
    message: `${r.lastError ?? "failed"}; set rotate=now to resume`,
    willRetry: false,
    attempts: r.attempts,
  };
}

export function refused(
  path: string,
  rotationId: string | undefined,
  mode: RotationMode | undefined,
  step: RotationStep | undefined,
  message: string,
): FailedOutcome {
  return {
    kind: "failed",
    path,
    rotationId,
    mode,
    sinkFailures: 0,
    step,
    code: "ROTATION_ROLLBACK_REFUSED",
    message,
    willRetry: false,
    attempts: 0,
  };
}

export function skipped(
  path: string,
  rotationId: string | undefined,
  mode: RotationMode | undefined,
  reason: string,
  code: ErrorCode | "UNCLASSIFIED" | undefined,
): SkippedOutcome {
  return { kind: "skipped", path, rotationId, mode, sinkFailures: 0, reason, code };
}

export function waiting(
  path: string,
  r: JournalRecord,
  w: { waiting: WaitKind; until: Date; detail?: string | undefined },
  sinkFailures: number,
): RotationOutcome {
  return {
    ...providerTag(r.provider),
    kind: "waiting",
    path,
    rotationId: r.rotationId,
    mode: r.mode,
    sinkFailures,
    step: r.step,
    waiting: w.waiting,
    until: w.until,
    ...(w.detail === undefined ? {} : { detail: w.detail }),
  };
}

/**
 * The provider whose outcomes carry no `provider` (the engine's first, whose outcomes kept their original shape
 * when others were added); an outcome without one is that provider's.
 */
export const UNTAGGED_PROVIDER = "salesforce-eca";

/** `{ provider }` for every provider but UNTAGGED_PROVIDER. */
export function providerTag(provider: string): { provider?: string } {
  return provider === UNTAGGED_PROVIDER ? {} : { provider };
}
