// Step 7, retire: the old pair must die and be proven dead. After promotion the consumer's staged slot holds a
// `rotated` record, and Salesforce's sources disagree on what it means: it shows and keeps alive the former main
// pair (overlap), or it shows the new pair while the former pair dies at once (immediate), or it shows the new
// pair while the former pair, shown nowhere, lives on until the record goes (as a hands-on test observed). The
// key a record shows says nothing about what it keeps alive, so any `rotated` record is deleted, whatever key it
// shows (an ordinary operation that never touches the main pair). The proof is one login with the old key
// that Salesforce refuses with invalid_client_id: it no longer knows the key. invalid_client (the key is known,
// only the secret was wrong) proves nothing: a made-up secret in previous_key would "fail" to log in while the
// real pair lives on. The proof is journaled before anything relies on it, and only the journal says it was
// made: an empty previous_* in KV (a person may have cleared it) never counts as proof.
// Both modes run it after the new pair is published (emergency right after promotion); then previous_* is cleared.
import { RotatorError } from "../../errors.ts";
import { SecretValue } from "../../secret-value.ts";
import { CLIENT_ID, keyField, PREVIOUS_CLIENT_ID, PREVIOUS_KEY, secretField } from "../credential-fields.ts";
import type { StoredCredential } from "../rotation-ports.ts";
import type { RotationRun } from "../rotation-run.ts";
import type { StepResult } from "./step-result.ts";

/**
 * Sent as the secret when KV no longer holds the old one: proof by key needs no secret, and this one can never
 * be a real consumer secret, so an answer other than invalid_client_id shows the key is still known.
 */
const PROBE_SECRET = SecretValue.of("eca-rotator-retired-key-probe");

export async function retireStep(run: RotationRun): Promise<StepResult> {
  const { settings } = run.deps;
  const retireAfter = settings.retireAfterMs ?? 0;
  const promotedAt = run.record.promotedAt;
  const wait = run.record.mode === "standard" && run.record.retireNow !== true;
  if (wait && retireAfter > 0 && promotedAt !== undefined) {
    const until = new Date(promotedAt.getTime() + retireAfter);
    if (run.now() < until) return { kind: "wait", waiting: "retire", until };
  }

  const cred = await run.readCredential();
  const oldSecret = oldSecretInKv(run, cred);
  if (run.record.oldKeyDeadAt === undefined) await proveOldKeyDead(run, oldSecret);
  if (keyField(cred, PREVIOUS_CLIENT_ID) !== undefined) {
    await run.guard();
    // A write in between is a VAULT_CAS_CONFLICT: counted, and the next attempt reads again.
    await run.deps.store.writeFields(
      run.path,
      { [PREVIOUS_CLIENT_ID]: "", [PREVIOUS_KEY]: "" },
      cred.version,
    );
  }
  await run.advance("retired");
  await run.emit("rotation.retired", { deathProof: "invalid_client_id" });
  return undefined;
}

/** The old secret KV still holds in previous_key (if any), after checking that KV holds the new pair. */
function oldSecretInKv(run: RotationRun, cred: StoredCredential): SecretValue | undefined {
  const oldKey = run.oldClientId;
  if (keyField(cred, CLIENT_ID) !== run.newPair.clientId) {
    throw mismatch(run, "KV client_id is no longer the new key");
  }
  const previous = keyField(cred, PREVIOUS_CLIENT_ID);
  if (previous !== undefined && previous !== oldKey) {
    throw mismatch(run, "KV previous_client_id is not the old key");
  }
  return previous === undefined ? undefined : secretField(cred, PREVIOUS_KEY);
}

/** Deletes any `rotated` record (it may keep the old pair alive whatever it shows), proves the old key unknown. */
async function proveOldKeyDead(run: RotationRun, oldSecret: SecretValue | undefined): Promise<void> {
  const { issuer } = run.deps;
  const oldKey = run.oldClientId;
  const lingering = (await issuer.listStaged(run.target)).find((s) => s.state === "rotated");
  if (lingering !== undefined) {
    await run.guard();
    await issuer.deleteStaged(run.target, lingering.id);
  }
  const proof = await issuer.provePairDead(run.target.connection, oldKey, oldSecret ?? PROBE_SECRET);
  if (!proof.dead) {
    const answer = proof.answer === "token" ? "a token was issued" : `Salesforce answered ${proof.answer}`;
    throw new RotatorError(
      "ROTATION_VERIFY_FAILED",
      `the old consumer key is still known to Salesforce after it was retired (${answer}); only invalid_client_id proves it dead`,
      { retryable: true, context: { path: run.path } },
    );
  }
  await run.update({ oldKeyDeadAt: run.now() });
}

function mismatch(run: RotationRun, message: string): RotatorError {
  return new RotatorError("ROTATION_STATE_MISMATCH", message, {
    context: { path: run.path, step: run.record.step },
  });
}
