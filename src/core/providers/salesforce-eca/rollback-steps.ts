// Rollback, while Salesforce's main pair is still the old one (staging … published, and promoting when the promote
// step found it must not promote): the staged set is deleted and, when the new pair had been published, a KV version
// makes the old pair current again. Then rolling_back → rolled_back, and the finish step stamps the metadata, tells
// audit and chat, and deletes journal and lease.
// Order, so that KV's current pair works at every moment: first check that KV can be restored (nothing is touched
// when it cannot: the staged pair KV names stays alive); then, before promotion was ever attempted, restore KV first
// and delete the staged set after (both pairs work meanwhile); from `promoting`, delete first, so that a PATCH that
// lands late cannot promote the staged pair after KV was pointed back at the old one.
// Check before act: a staged set already gone and a KV version already holding the old pair are done work.

import type { RotationRun, StepResult } from "../../rotation/engine-deps.ts";
import {
  API_KEY,
  CLIENT_ID,
  keyField,
  PREVIOUS_CLIENT_ID,
  PREVIOUS_KEY,
  ROTATED_AT,
  ROTATED_BY,
  secretField,
} from "../../rotation/engine-deps.ts";
import type { StoredCredential } from "../../rotation/rotation-ports.ts";
import { finishRollback, stateMismatch } from "../../rotation/rotation-run.ts";
import type { SecretValue } from "../../secret-value.ts";

/** rolling_back → rolled_back. */
export async function rollbackStep(run: RotationRun): Promise<StepResult> {
  const { issuer } = run.deps;
  const oldKey = run.oldClientId;

  const main = await issuer.readMainKey(run.target);
  if (main !== oldKey) {
    // Only a PATCH that landed late (after the promote step read the main key) can get here.
    throw stateMismatch(
      run,
      "Salesforce's main key is no longer the old one, so the rotation cannot be rolled back; make KV name the pair Salesforce uses now",
    );
  }
  const cred = await run.readCredential();
  const restore = restorePlan(run, cred);
  const deleteFirst = run.record.rolledBackFrom === "promoting";
  if (deleteFirst) await deleteOurStaged(run);
  let restored: number | undefined;
  if (restore.kind === "write") {
    await run.guard();
    restored = (await run.deps.store.writeFields(run.path, restore.fields, cred.version)).version;
  } else if (restore.kind === "done") {
    restored = restore.version;
  }
  if (!deleteFirst) await deleteOurStaged(run);
  await run.advance("rolled_back", {
    kvVersionPublished: restored,
    lastError: run.record.lastError,
    lastErrorCode: run.record.lastErrorCode,
  });
  return undefined;
}

type RestorePlan =
  | { readonly kind: "write"; readonly fields: Record<string, string | SecretValue> }
  | { readonly kind: "done"; readonly version: number }
  | { readonly kind: "none" };

/** How KV gets the old pair back, or why it cannot (thrown before anything is touched). */
function restorePlan(run: RotationRun, cred: StoredCredential): RestorePlan {
  const oldKey = run.oldClientId;
  const { newClientId } = run.record;
  const kvKey = keyField(cred, CLIENT_ID);
  if (newClientId !== undefined && kvKey === newClientId) {
    const oldSecret = secretField(cred, PREVIOUS_KEY);
    if (keyField(cred, PREVIOUS_CLIENT_ID) !== oldKey || oldSecret === undefined) {
      throw stateMismatch(
        run,
        "KV previous_* no longer hold the old pair, so KV cannot be pointed back at it; nothing was deleted (the staged pair KV names still works). Put the old pair back into previous_client_id/previous_key, then roll back again",
      );
    }
    return {
      kind: "write",
      fields: {
        [CLIENT_ID]: oldKey,
        [API_KEY]: oldSecret,
        [PREVIOUS_CLIENT_ID]: "",
        [PREVIOUS_KEY]: "",
        [ROTATED_AT]: run.now().toISOString(),
        [ROTATED_BY]: run.record.actor,
      },
    };
  }
  if (kvKey === oldKey && run.record.kvVersionPublished !== undefined)
    return { kind: "done", version: cred.version };
  // Nothing was published, or another client_id was written by someone else: it is theirs, and left alone.
  return { kind: "none" };
}

/** Deletes the active staged set this rotation made (at `staging`, without a staged id: our own lost POST). */
async function deleteOurStaged(run: RotationRun): Promise<void> {
  const { issuer } = run.deps;
  const { stagedId } = run.record;
  const ours = (await issuer.listStaged(run.target)).filter(
    (s) => s.state === "active" && (stagedId === undefined ? true : s.id === stagedId),
  );
  for (const s of ours) {
    await run.guard();
    await issuer.deleteStaged(run.target, s.id);
  }
}

/** The terminal rolled_back journal: tell everyone, then remove journal and lease. */
export async function finishRollbackStep(run: RotationRun): Promise<StepResult> {
  return finishRollback(
    run,
    (version) =>
      `the staged set is deleted and ${version === undefined ? "nothing had been published, KV is unchanged" : `the previous pair is current again in KV version ${version}`}`,
  );
}
