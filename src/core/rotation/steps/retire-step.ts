// Step 7, retire: the old pair must die and be proven dead. Overlap semantics keep the former main pair alive
// in the staged slot as `rotated`; deleting that record revokes it (immediate semantics killed it at promotion,
// and its `rotated` record holds the new pair, which is left alone). The proof is one login with the old pair,
// which must fail. Standard mode then clears previous_* in KV; emergency mode has not published yet and
// publishes with previous_* empty.
// Check before act: standard KV with the new client_id and previous_* already empty means this step's own write
// landed (it is made only after the proof).
import { RotatorError } from "../../errors.ts";
import type { SecretValue } from "../../secret-value.ts";
import {
  API_KEY,
  CLIENT_ID,
  keyField,
  PREVIOUS_CLIENT_ID,
  PREVIOUS_KEY,
  secretField,
} from "../credential-fields.ts";
import type { RotationRun } from "../rotation-run.ts";
import type { StepResult } from "./step-result.ts";

export async function retireStep(run: RotationRun): Promise<StepResult> {
  const { issuer, settings } = run.deps;
  const retireAfter = settings.retireAfterMs ?? 0;
  const promotedAt = run.record.promotedAt;
  if (run.record.mode === "standard" && retireAfter > 0 && promotedAt !== undefined) {
    const until = new Date(promotedAt.getTime() + retireAfter);
    if (run.now() < until) return { kind: "wait", waiting: "retire", until };
  }

  const oldKey = run.oldClientId;
  const newKey = run.newPair.clientId;
  const cred = await run.readCredential();
  const kvKey = keyField(cred, CLIENT_ID);
  let oldSecret: SecretValue | undefined;
  if (run.record.mode === "standard") {
    if (kvKey !== newKey) throw mismatch(run, "KV client_id is no longer the new key");
    const previous = keyField(cred, PREVIOUS_CLIENT_ID);
    if (previous === undefined) return finish(run); // cleared by this step before: the proof was made
    if (previous !== oldKey) throw mismatch(run, "KV previous_client_id is not the old key");
    oldSecret = secretField(cred, PREVIOUS_KEY);
  } else {
    if (kvKey !== oldKey) throw mismatch(run, "KV client_id is not the old key before the emergency publish");
    oldSecret = secretField(cred, API_KEY);
  }
  if (oldSecret === undefined)
    throw mismatch(run, "KV lost the old secret, so the old pair cannot be proven dead");

  const lingering = (await issuer.listStaged(run.target)).find(
    (s) => s.state === "rotated" && s.clientId === oldKey,
  );
  if (lingering !== undefined) {
    await run.guard();
    await issuer.deleteStaged(run.target, lingering.id);
  }
  if (!(await issuer.isPairDead(run.target.connection, oldKey, oldSecret))) {
    throw new RotatorError("ROTATION_VERIFY_FAILED", "the old pair still logs in after it was retired", {
      retryable: true,
      context: { path: run.path },
    });
  }
  if (run.record.mode === "standard") {
    await run.guard();
    // A write in between is a VAULT_CAS_CONFLICT: counted, and the next attempt reads again.
    await run.deps.store.writeFields(
      run.path,
      { [PREVIOUS_CLIENT_ID]: "", [PREVIOUS_KEY]: "" },
      cred.version,
    );
  }
  return finish(run);
}

async function finish(run: RotationRun): Promise<StepResult> {
  await run.advance("retired");
  await run.emit("rotation.retired");
  return undefined;
}

function mismatch(run: RotationRun, message: string): RotatorError {
  return new RotatorError("ROTATION_STATE_MISMATCH", message, {
    context: { path: run.path, step: run.record.step },
  });
}
