// Step 5-6, soak and promote. The soak is not a state: the journal holds promote_after and the engine returns
// "waiting" until then, so no process blocks on it and any replica can finish it. The intent (`promoting`) is
// journaled before PATCH rotate, which is never retried blindly: on an uncertain answer the main key is read
// back to see whether it happened. When it plainly did not (main still old, the staged set still active), the
// failure is retryable and the PATCH is left to the next attempt: after the backoff a slow first PATCH has
// landed and shows in that attempt's re-read, so a second one is sent only when the first never took effect.
// Salesforce's main key is the real point of no return, so it is read first: while it is still the old pair,
// the rotation checks that promoting is still right. A staged set that vanished (deleted in Setup, or expired)
// or a KV that someone set back to the old pair during the soak rolls the rotation back to the old pair, which
// still works; a KV holding a pair this rotation does not know stops it without promoting.
import { isRotatorError, RotatorError } from "../../errors.ts";
import { API_KEY, CLIENT_ID, keyField, secretField } from "../../rotation/credential-fields.ts";
import type { RotationRun, StepResult } from "../../rotation/engine-deps.ts";
import type { StagedCredential } from "../../rotation/rotation-ports.ts";
import { notApplied } from "./stage-step.ts";

/** Standard published → promoting, once the soak is over. */
export async function soakStep(run: RotationRun): Promise<StepResult> {
  const until = run.record.promoteAfter;
  if (until !== undefined && run.now() < until) return { kind: "wait", waiting: "soak", until };
  await run.advance("promoting");
  await run.patchMetadata({ rotation_state: "in_progress" });
  return undefined;
}

/** Emergency staged → promoting: no soak, no verification first (revoke first). */
export async function promoteIntentStep(run: RotationRun): Promise<StepResult> {
  await run.advance("promoting");
  return undefined;
}

/**
 * promoting → promoted. Salesforce's main key changes only when a staged set is promoted. When this engine call
 * read it at inspect (the old key) and has posted the staged set since (standard mode, soak 0), the staged list
 * alone shows that nothing was promoted meanwhile: our set is still active. The main key is read when it is not,
 * and always first in emergency mode and in a resumed rotation.
 */
export async function promoteStep(run: RotationRun): Promise<StepResult> {
  const { issuer } = run.deps;
  const target = run.target;
  const { clientId: newKey } = run.newPair;
  const ours = (list: readonly StagedCredential[]) =>
    list.some((s) => s.id === run.record.stagedId && s.state === "active");
  let staged =
    run.record.mode === "standard" && run.seen.inspected === true
      ? await issuer.listStaged(target)
      : undefined;
  const main = staged !== undefined && ours(staged) ? run.oldClientId : await issuer.readMainKey(target);
  if (main !== newKey) {
    if (main !== run.oldClientId)
      throw mismatch(run, "Salesforce's main key is neither the old nor the new one");
    staged ??= await issuer.listStaged(target);
    if (!ours(staged)) {
      return rollBack(
        run,
        "the staged set is gone (deleted in Setup, or expired) and Salesforce still uses the old pair: not promoting, rolling back to the old pair",
      );
    }
    if (run.record.mode === "standard") {
      // Consumers were told to use what KV holds: promoting must never kill what KV now names.
      const cred = await run.readCredential();
      const kvKey = keyField(cred, CLIENT_ID);
      if (kvKey === run.oldClientId) {
        return rollBack(run, "KV was set back to the old pair during the soak: not promoting, rolling back");
      }
      const kvSecret = secretField(cred, API_KEY);
      if (kvKey !== newKey || kvSecret?.reveal() !== run.newPair.secret.reveal()) {
        throw mismatch(
          run,
          "KV holds a pair this rotation did not publish: not promoting. Put the published pair back into KV (or the old pair, to roll back), then set rotate=now",
        );
      }
    }
    await promoteOnce(run);
  }
  await run.advance("promoted", { promotedAt: run.record.promotedAt ?? run.now() });
  run.seen.promoted = true;
  await run.emit("rotation.promoted");
  return undefined;
}

async function promoteOnce(run: RotationRun): Promise<void> {
  const { issuer } = run.deps;
  const stagedId = run.record.stagedId;
  if (stagedId === undefined) throw mismatch(run, "no staged id in the journal");
  await run.guard();
  try {
    await issuer.promote(run.target, stagedId);
  } catch (err) {
    if (!isRotatorError(err) || err.context["uncertain"] !== true) throw err;
    const main = await issuer.readMainKey(run.target);
    if (main === run.newPair.clientId) return; // it happened; only the answer was lost
    if (main !== run.oldClientId) throw err;
    const staged = await issuer.listStaged(run.target);
    if (!staged.some((s) => s.id === stagedId && s.state === "active")) throw err;
    throw notApplied(err, "Salesforce still uses the old pair and the staged set is still active");
  }
}

/** promoting → rolling_back, with why: the rollback step deletes the staged set first, then restores KV. */
async function rollBack(run: RotationRun, why: string): Promise<StepResult> {
  await run.advance("rolling_back", {
    lastError: `ROTATION_STATE_MISMATCH: ${why}`,
    rolledBackFrom: "promoting",
  });
  return undefined;
}

function mismatch(run: RotationRun, message: string): RotatorError {
  return new RotatorError("ROTATION_STATE_MISMATCH", message, {
    context: { path: run.path, step: run.record.step },
  });
}
