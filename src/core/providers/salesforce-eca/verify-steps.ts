// Steps 3 and 6b: the new pair logs in, first as the staged pair (standard mode, before anything is published),
// then as the main pair after promotion. In standard mode each check runs with the step after it (publish,
// retire) in one journal write. verifyPair waits out Salesforce's propagation delay up to
// verify_timeout; the lease is renewed in the background meanwhile.
import { type ErrorCode, RotatorError } from "../../errors.ts";
import { startedByText } from "../../rotation/audit-events.ts";
import type { RotationRun, StepResult } from "../../rotation/engine-deps.ts";
import { finishClose, stampClosed } from "../../rotation/shared-steps.ts";
import { emergencyOutageMs, publishStandardStep } from "./publish-steps.ts";
import { diedAtPromotion, retireStep, retireWait } from "./retire-step.ts";

/**
 * Standard staged → published: the staged pair logs in, then it is published (publish-steps.ts). `verified` is
 * not journaled: a crash before the publication's journal write verifies again. A refusal is final: the engine
 * rolls the rotation back (nothing was published, or the publication is undone).
 */
export async function verifyNewStep(run: RotationRun): Promise<StepResult> {
  await checkLogin(run, "the new staged pair", false);
  return publishStandardStep(run, true);
}

/**
 * Standard promoted → retired: the promoted pair logs in as the main pair, then the old one is retired
 * (retire-step.ts), unless retire_after is still to run and the old pair did not die at promotion: then
 * `verified_main` is journaled and the rotation waits. `verified_main` is otherwise not journaled: a crash before the retirement's journal write verifies
 * again, and the retirement repeats its checks. A refusal is retried.
 */
export async function verifyMainThenRetireStep(run: RotationRun): Promise<StepResult> {
  await checkLogin(run, "the new main pair", true);
  if (retireWait(run) !== undefined && !(await diedAtPromotion(run))) {
    await run.advance("verified_main");
    await run.emit("rotation.verified");
    return undefined;
  }
  return retireStep(run, true);
}

/** Emergency retired → verified_main (the old pair is retired first: revoke first). A refusal is retried. */
export async function verifyMainStep(run: RotationRun): Promise<StepResult> {
  await checkLogin(run, "the new main pair", true);
  await run.advance("verified_main");
  await run.emit("rotation.verified");
  return undefined;
}

async function checkLogin(run: RotationRun, what: string, retryable: boolean): Promise<void> {
  const { issuer, settings } = run.deps;
  const { clientId, secret } = run.newPair;
  const result = await issuer.verifyPair(run.target.connection, clientId, secret, settings.verifyTimeoutMs);
  if (!result.ok) {
    const outage = outageOf(result.code);
    if (outage !== undefined) {
      // Salesforce never judged the pair (login rate limit, or unavailable until verify_timeout): not a
      // refusal. The step is tried again after the backoff instead of rolling the rotation back.
      throw new RotatorError(
        outage,
        `${what} could not be checked: Salesforce answered ${result.code}; the next attempt checks again`,
        { retryable: true, context: { path: run.path, attempts: result.attempts } },
      );
    }
    const code = result.code === undefined ? "" : ` (last answer: ${result.code})`;
    throw new RotatorError(
      "ROTATION_VERIFY_FAILED",
      `${what} could not log in within ${run.describeDuration(settings.verifyTimeoutMs)}${code}`,
      { retryable, context: { path: run.path, attempts: result.attempts } },
    );
  }
}

/**
 * A verify answer that says nothing about the pair: the login rate limit of the app's user, the API limit, or
 * Salesforce unavailable. The error code to retry it under, or undefined for a real answer (a refusal).
 */
export function outageOf(code: string | undefined): ErrorCode | undefined {
  if (code === "login_rate_exceeded" || code === "SALESFORCE_RATE_LIMITED") return "SALESFORCE_RATE_LIMITED";
  if (code === "SALESFORCE_UNAVAILABLE") return "SALESFORCE_UNAVAILABLE";
  return undefined;
}

/** Step 8, close: stamp the metadata, tell audit and chat, delete journal and lease (shared-steps.ts). */
export async function closeStep(run: RotationRun): Promise<StepResult> {
  const now = run.now();
  await stampClosed(run, now);
  const r = run.record;
  const outageMs =
    r.mode === "emergency" && r.publishedAt !== undefined ? emergencyOutageMs(run, r.publishedAt) : undefined;
  return finishClose(run, now, completedText(run, outageMs), {
    keyFingerprint: run.fingerprint(),
    outageMs,
  });
}

function completedText(run: RotationRun, outageMs: number | undefined): string {
  const r = run.record;
  const by = startedByText(r.trigger, r.actor);
  const why = r.reason ? ` Reason: ${r.reason}.` : "";
  const key = `new consumer key ${run.fingerprint() ?? "?"}, KV version ${r.kvVersionPublished ?? "?"}`;
  if (r.mode === "emergency") {
    const outage =
      outageMs === undefined
        ? ""
        : ` Outage from promotion to publication: ${run.describeDuration(outageMs)}.`;
    return `EMERGENCY rotation of ${r.path} done (${by}): the old pair is revoked and proven dead; ${key}.${outage}${why}`;
  }
  return `Rotated ${r.path} (${by}): ${key}; the old pair is retired and proven dead.${why}`;
}
