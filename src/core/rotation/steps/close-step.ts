// Step 8, close: stamp the metadata (rotation_verified_at, last_rotated, next_rotation_due, rotation_state=idle,
// trigger and last error cleared), tell audit and chat, then delete the journal and the lease. Every part is
// idempotent; a crash before the journal is gone repeats the stamps (audit and chat are at-least-once, the
// notifier deduplicates by rotation id).

import { parseCredentialPolicy } from "../../inventory/credential-policy.ts";
import { computeDeadline } from "../../inventory/deadline.ts";
import { startedByText } from "../audit-events.ts";
import type { RotationRun, StepResult } from "../engine-deps.ts";
import { providerTag } from "../outcome-builders.ts";
import type { RotationOutcome } from "../rotation-outcome.ts";
import { outageOf } from "./publish-steps.ts";

export async function closeStep(run: RotationRun): Promise<StepResult> {
  const now = run.now();
  await stampClosed(run, now);
  const r = run.record;
  const outageMs =
    r.mode === "emergency" && r.publishedAt !== undefined ? outageOf(run, r.publishedAt) : undefined;
  return finishClose(run, now, completedText(run, outageMs), {
    keyFingerprint: run.fingerprint(),
    outageMs,
  });
}

/**
 * What every provider's close does after its stamps: audit rotation.completed, chat (rotation.emergency in an
 * emergency) with the provider's words, the journal and lease deleted, and the completed outcome.
 */
export async function finishClose(
  run: RotationRun,
  now: Date,
  chatText: string,
  opts: { keyFingerprint?: string | undefined; outageMs?: number | undefined } = {},
): Promise<StepResult> {
  const r = run.record;
  const durationMs = now.getTime() - r.startedAt.getTime();
  const { outageMs } = opts;
  await run.emit("rotation.completed", { kvVersion: r.kvVersionPublished, durationMs, outageMs });
  await run.notify(r.mode === "emergency" ? "rotation.emergency" : "rotation.completed", chatText);
  await run.endJournal();
  const outcome: RotationOutcome = {
    ...providerTag(r.provider),
    kind: "completed",
    path: run.path,
    rotationId: r.rotationId,
    mode: r.mode,
    sinkFailures: run.sinkFailures,
    kvVersion: r.kvVersionPublished,
    keyFingerprint: opts.keyFingerprint,
    durationMs,
    outageMs,
  };
  return { kind: "done", outcome };
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

/**
 * The metadata every provider stamps when a rotation closes: verified and rotated now, the next deadline counted
 * from now with the credential's own period (removed rather than guessed when the metadata became invalid
 * meanwhile), idle, trigger and last error cleared. `expiresAt`: a new expiry to record too.
 */
export async function stampClosed(
  run: RotationRun,
  now: Date,
  opts: { expiresAt?: Date } = {},
): Promise<void> {
  const stamp = now.toISOString();
  const cred = await run.readCredential();
  const parsed = parseCredentialPolicy(cred.customMetadata);
  let nextDue: string | null = null;
  if (parsed.kind === "managed") {
    const policy = { ...parsed.policy, lastRotated: now };
    const due = computeDeadline(
      opts.expiresAt === undefined ? policy : { ...policy, expiresAt: opts.expiresAt },
      { createdTime: stamp, currentVersionCreatedTime: stamp },
    );
    if (due.ok) nextDue = due.deadline.toISOString();
  }
  await run.patchMetadata({
    rotation_verified_at: stamp,
    last_rotated: stamp,
    ...(opts.expiresAt === undefined ? {} : { expires_at: opts.expiresAt.toISOString() }),
    next_rotation_due: nextDue,
    rotation_state: "idle",
    ...(await run.flagClearing(false, cred.customMetadata)),
    last_rotation_error: null,
  });
}
