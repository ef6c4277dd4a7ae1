// Rollback, before promotion only (staging … published): delete the staged set and, when the new pair had been
// published, write a KV version that makes the old pair current again. Salesforce's main pair is still the old
// one, so the old pair never stopped working. Then: rolling_back → rolled_back, and the finish step stamps the
// metadata, tells audit and chat, and deletes journal and lease.
// Check before act: a staged set already gone and a KV version already holding the old pair are done work.
import { RotatorError } from "../../errors.ts";
import {
  API_KEY,
  CLIENT_ID,
  keyField,
  PREVIOUS_CLIENT_ID,
  PREVIOUS_KEY,
  ROTATED_AT,
  ROTATED_BY,
  secretField,
} from "../credential-fields.ts";
import { codeOf, providerTag } from "../outcome-builders.ts";
import type { RotationOutcome } from "../rotation-outcome.ts";
import type { RotationRun } from "../rotation-run.ts";
import type { StepResult } from "./step-result.ts";

/** rolling_back → rolled_back. */
export async function rollbackStep(run: RotationRun): Promise<StepResult> {
  const { issuer, store } = run.deps;
  const target = run.target;
  const { newClientId, stagedId } = run.record;
  const oldKey = run.oldClientId;

  const main = await issuer.readMainKey(target);
  if (main !== oldKey) {
    throw mismatch(run, "Salesforce's main key is no longer the old one; the rotation cannot be rolled back");
  }
  // Journal at `staging` (no staged id yet): an active set is our own POST whose answer was lost.
  const ours = (await issuer.listStaged(target)).filter(
    (s) => s.state === "active" && (stagedId === undefined ? true : s.id === stagedId),
  );
  for (const s of ours) {
    await run.guard();
    await issuer.deleteStaged(target, s.id);
  }

  const cred = await run.readCredential();
  const kvKey = keyField(cred, CLIENT_ID);
  let restored: number | undefined;
  if (newClientId !== undefined && kvKey === newClientId) {
    const oldSecret = secretField(cred, PREVIOUS_KEY);
    if (keyField(cred, PREVIOUS_CLIENT_ID) !== oldKey || oldSecret === undefined) {
      throw mismatch(run, "KV previous_* no longer hold the old pair; restore it by hand");
    }
    await run.guard();
    const fields = {
      [CLIENT_ID]: oldKey,
      [API_KEY]: oldSecret,
      [PREVIOUS_CLIENT_ID]: "",
      [PREVIOUS_KEY]: "",
      [ROTATED_AT]: run.now().toISOString(),
      [ROTATED_BY]: run.record.actor,
    };
    restored = (await store.writeFields(run.path, fields, cred.version)).version;
  } else if (kvKey === oldKey && run.record.kvVersionPublished !== undefined) {
    restored = cred.version; // restored by this step before the journal said so
  }
  // Any other client_id was written by someone else, not by this rotation: it is theirs, and left alone.
  await run.advance("rolled_back", { kvVersionPublished: restored, lastError: run.record.lastError });
  return undefined;
}

/** The terminal rolled_back journal: tell everyone, then remove journal and lease. */
export async function finishRollbackStep(run: RotationRun): Promise<StepResult> {
  return finishRollback(
    run,
    (version) =>
      `the staged set is deleted and ${version === undefined ? "nothing had been published, KV is unchanged" : `the previous pair is current again in KV version ${version}`}`,
  );
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
  await run.patchMetadata({
    rotation_state: "failed",
    last_rotation_error: why.slice(0, 300),
    rotate: null,
    rotate_reason: null,
  });
  const code = codeOf(r.lastError);
  await run.emit("rotation.rolled_back", { errorCode: code, kvVersion: r.kvVersionPublished });
  await run.notify(
    "rotation.rolled_back",
    `Rotation of ${r.path} was rolled back (${why}): ${restored(r.kvVersionPublished)}. Set rotate=now to try again.`,
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

function mismatch(run: RotationRun, message: string): RotatorError {
  return new RotatorError("ROTATION_STATE_MISMATCH", message, {
    context: { path: run.path, step: run.record.step },
  });
}
