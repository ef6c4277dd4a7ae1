// provider=generated, rollback before the overlap ended (staged, published): when KV holds the new secret, a new
// version makes the old one (still in previous_secret) current again, with previous_secret cleared and
// rotation_phase=complete. Check before act: a KV version that already holds the old secret is done work, and
// a current_secret that is neither ours nor the old one belongs to someone else and is left alone.
import { isRotatorError } from "../../errors.ts";
import type { RotationRun, StepResult } from "../../rotation/engine-deps.ts";
import { ROTATED_AT, ROTATED_BY, secretField } from "../../rotation/engine-deps.ts";
import { finishRollback, stateMismatch } from "../../rotation/rotation-run.ts";
import {
  CURRENT_SECRET,
  currentSecret,
  PHASE_COMPLETE,
  PREVIOUS_SECRET,
  ROTATION_PHASE,
  sameSecret,
  secretFingerprint,
} from "./generated-fields.ts";

/** rolling_back → rolled_back. */
export async function rollbackGeneratedStep(run: RotationRun): Promise<StepResult> {
  const r = run.record;
  let restored: number | undefined;
  for (let i = 0; ; i++) {
    const cred = await run.readCredential();
    const current = currentSecret(cred);
    if (r.newSecret !== undefined && sameSecret(current, r.newSecret)) {
      const old = secretField(cred, PREVIOUS_SECRET);
      if (secretFingerprint(run, old) !== r.oldSecretFingerprint) {
        throw stateMismatch(run, "KV previous_secret no longer holds the old secret; restore it by hand");
      }
      const fields = {
        [CURRENT_SECRET]: old ?? "",
        [PREVIOUS_SECRET]: "",
        [ROTATION_PHASE]: PHASE_COMPLETE,
        [ROTATED_AT]: run.now().toISOString(),
        [ROTATED_BY]: r.actor,
      };
      await run.guard();
      try {
        restored = (await run.deps.store.writeFields(run.path, fields, cred.version)).version;
      } catch (err) {
        if (!isRotatorError(err, "VAULT_CAS_CONFLICT") || i + 1 >= 3) throw err;
        continue;
      }
    } else if (
      r.kvVersionPublished !== undefined &&
      secretFingerprint(run, current) === r.oldSecretFingerprint
    ) {
      restored = cred.version; // restored by this step before the journal said so
    }
    // Any other current_secret was written by someone else, not by this rotation: it is theirs.
    break;
  }
  await run.advance("rolled_back", {
    kvVersionPublished: restored,
    lastError: r.lastError,
    lastErrorCode: r.lastErrorCode,
  });
  return undefined;
}

/** The terminal rolled_back journal: tell everyone, then remove journal and lease. */
export async function finishGeneratedRollbackStep(run: RotationRun): Promise<StepResult> {
  return finishRollback(run, (version) =>
    version === undefined
      ? "nothing had been published, KV is unchanged"
      : `the old secret is current_secret again in KV version ${version} (previous_secret cleared)`,
  );
}
