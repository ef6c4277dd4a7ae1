// What every provider's steps share: the one way a step writes a credential's KV data (read, decide, write with
// cas against the version read; a cas conflict means someone wrote in between: read again and decide again, never
// a blind retry), and the endings every rotation has (the close's metadata stamps, audit, chat and journal
// removal; a rolled-back journal's the same). `decide` throws to refuse (a value someone else wrote), or returns
// undefined when the version read needs no write (our own earlier write whose answer was lost, or a step already
// done).
import { isRotatorError, RotatorError } from "../errors.ts";
import { parseCredentialPolicy } from "../inventory/credential-policy.ts";
import { computeDeadline } from "../inventory/deadline.ts";
import type { SecretValue } from "../secret-value.ts";
import type { RotationRun, StepResult } from "./engine-deps.ts";
import { providerTag } from "./outcome-builders.ts";
import type { RotationOutcome } from "./rotation-outcome.ts";
import type { StoredCredential } from "./rotation-ports.ts";

const CAS_RETRIES = 3;

export type FieldWrite = Readonly<Record<string, string | SecretValue>>;

/** The version that now holds the decision, and the credential as read before it. */
export async function writeWithCas(
  run: RotationRun,
  decide: (cred: StoredCredential) => FieldWrite | undefined,
  /** The credential as the caller has just read it: the first decision uses it instead of a read. */
  first?: StoredCredential,
): Promise<{ version: number; cred: StoredCredential }> {
  for (let i = 0; ; i++) {
    const cred = i === 0 && first !== undefined ? first : await run.readCredential();
    const fields = decide(cred);
    if (fields === undefined) return { version: cred.version, cred };
    await run.guard();
    try {
      const { version } = await run.deps.store.writeFields(run.path, fields, cred.version);
      return { version, cred };
    } catch (err) {
      if (!isRotatorError(err, "VAULT_CAS_CONFLICT") || i + 1 >= CAS_RETRIES) throw err;
    }
  }
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
  const parsed = parseCredentialPolicy(cred.customMetadata, run.deps.providers);
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

/**
 * What every provider's rolled_back journal ends with: metadata failed (with why), audit, chat naming what was
 * restored (`restored(kvVersion)`, undefined when nothing had been published), journal and lease deleted.
 */
export async function finishRollback(
  run: RotationRun,
  restored: (kvVersion: number | undefined) => string,
): Promise<StepResult> {
  const r = run.record;
  const why = r.lastError ?? "rolled back";
  // An emergency rolled back before promotion has not revoked anything: its flag stays, so it is tried again.
  await run.patchMetadata({
    rotation_state: "failed",
    last_rotation_error: why.slice(0, 300),
    ...(await run.flagClearing(r.mode === "emergency")),
  });
  const code = r.lastErrorCode;
  await run.emit("rotation.rolled_back", { errorCode: code, kvVersion: r.kvVersionPublished });
  await run.notify(
    "rotation.rolled_back",
    `Rotation of ${r.path} was rolled back (${why}): ${restored(r.kvVersionPublished)}. Set rotate=now to try again.`,
    code,
  );
  await run.endJournal();
  const outcome: RotationOutcome = {
    ...providerTag(r.provider),
    kind: "rolled_back",
    path: r.path,
    rotationId: r.rotationId,
    mode: r.mode,
    sinkFailures: run.sinkFailures,
    code,
    message: why,
    kvVersion: r.kvVersionPublished,
  };
  return { kind: "done", outcome };
}

/** A state a step cannot go on from (KV or Salesforce not as the journal expects): final, named with its step. */
export function stateMismatch(run: RotationRun, message: string): RotatorError {
  return new RotatorError("ROTATION_STATE_MISMATCH", message, {
    context: { path: run.path, step: run.record.step },
  });
}
