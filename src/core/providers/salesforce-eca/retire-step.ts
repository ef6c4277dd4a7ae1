// Step 7, retire: the old pair must die and be proven dead. After promotion the consumer's staged slot holds a
// `rotated` record, and Salesforce's sources disagree on what it means: it shows and keeps alive the former main
// pair (overlap), or it shows the new pair while the former pair dies at once (immediate), or it shows the new
// pair while the former pair, shown nowhere, lives on until the record goes (as a hands-on test observed). The
// key a record shows says nothing about what it keeps alive, so any `rotated` record is deleted, whatever key it
// shows (an ordinary operation that never touches the main pair). The proof is one login with the old key
// that Salesforce refuses with invalid_client_id: it no longer knows the key. invalid_client (the key is known,
// only the secret was wrong) proves nothing: a made-up secret in previous_key would "fail" to log in while the
// real pair lives on. previous_* is cleared only after the proof, which is journaled with the retirement (a
// crash in between proves again: the proof is by key), and only the journal says it was made: an empty
// previous_* in KV (a person may have cleared it) never counts as proof.
// Both modes run it after the new pair is published (emergency right after promotion); then previous_* is cleared.
// A standard rotation retires only while KV names the new pair; an emergency retires whatever KV says (the old
// pair is compromised) and points KV that was set back to the dead pair at the new one again.
import { RotatorError } from "../../errors.ts";
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
import type { DeathProof, StoredCredential } from "../../rotation/rotation-ports.ts";
import { stateMismatch, writeWithCas } from "../../rotation/rotation-run.ts";
import { SecretValue } from "../../secret-value.ts";

/**
 * Sent as the secret when KV no longer holds the old one: proof by key needs no secret, and this one can never
 * be a real consumer secret, so an answer other than invalid_client_id shows the key is still known.
 */
const PROBE_SECRET = SecretValue.of("eca-rotator-retired-key-probe");

/** When retire_after still keeps the old pair alive (standard mode, unless an emergency was asked for since). */
export function retireWait(run: RotationRun): Date | undefined {
  const retireAfter = run.deps.settings.retireAfterMs ?? 0;
  const promotedAt = run.record.promotedAt;
  const wait = run.record.mode === "standard" && run.record.retireNow !== true;
  if (!wait || retireAfter <= 0 || promotedAt === undefined) return undefined;
  const until = new Date(promotedAt.getTime() + retireAfter);
  return run.now() < until ? until : undefined;
}

/** `verified`: the promoted pair was verified in this engine call; its audit event follows the `retired` write. */
export async function retireStep(run: RotationRun, verified = false): Promise<StepResult> {
  // With `verified`, the caller has just decided that retire_after has nothing to wait for.
  const until = verified ? undefined : retireWait(run);
  if (until !== undefined) return { kind: "wait", waiting: "retire", until };

  // Standard: the old pair dies only while KV names the new one, so consumers are never pointed at a dead pair.
  // Emergency: the old pair is compromised and dies whatever KV says (even unreadable); KV is put right after.
  let read: StoredCredential | undefined;
  let deadAt = run.record.oldKeyDeadAt;
  if (deadAt === undefined) {
    let oldSecret: SecretValue | undefined;
    if (run.record.mode === "standard") {
      read = await run.readCredential();
      requireNewPairInKv(run, read);
      oldSecret = oldSecretInKv(run, read);
    }
    deadAt = await proveOldKeyDead(run, oldSecret);
  }
  const written = await settleKv(run, read);
  // The proof is journaled with the retirement. A crash between clearing previous_* and this write proves again
  // on resume: the proof is by key and needs no old secret, so nothing it relied on is lost.
  await run.advance("retired", { oldKeyDeadAt: deadAt });
  if (verified) await run.emit("rotation.verified", { step: "verified_main" });
  await run.emit("rotation.retired", {
    deathProof: "invalid_client_id",
    ...(written === undefined ? {} : { kvVersion: written }),
  });
  return undefined;
}

/** Whether KV's current version names exactly the rotation's new pair. */
function holdsNewPair(run: RotationRun, cred: StoredCredential): boolean {
  const { clientId, secret } = run.newPair;
  const kvSecret = secretField(cred, API_KEY);
  return keyField(cred, CLIENT_ID) === clientId && kvSecret !== undefined && kvSecret.equals(secret);
}

function requireNewPairInKv(run: RotationRun, cred: StoredCredential): void {
  if (holdsNewPair(run, cred)) return;
  if (keyField(cred, CLIENT_ID) === run.oldClientId) {
    throw stateMismatch(
      run,
      "KV was set back to the old pair after the new one was published: not retiring the pair KV names. Put the published pair back into KV and set rotate=now, or end the rotation with eca-rotator resolve",
    );
  }
  throw stateMismatch(
    run,
    "KV holds a pair this rotation did not publish: not retiring the old pair. Put the published pair back into KV and set rotate=now, or end the rotation with eca-rotator resolve",
  );
}

/**
 * previous_* emptied once the old key is proven dead. In an emergency, KV set back to the compromised pair (now
 * dead) is pointed at the new pair again: it is the only pair that logs in. Returns the version written, if any.
 */
async function settleKv(run: RotationRun, read: StoredCredential | undefined): Promise<number | undefined> {
  const { clientId, secret } = run.newPair;
  let wrote = false;
  const { version } = await writeWithCas(
    run,
    (cred) => {
      if (holdsNewPair(run, cred)) {
        if (
          keyField(cred, PREVIOUS_CLIENT_ID) === undefined &&
          secretField(cred, PREVIOUS_KEY) === undefined
        ) {
          return undefined;
        }
        wrote = true;
        return { [PREVIOUS_CLIENT_ID]: "", [PREVIOUS_KEY]: "" };
      }
      if (run.record.mode === "emergency" && keyField(cred, CLIENT_ID) === run.oldClientId) {
        wrote = true;
        return {
          [CLIENT_ID]: clientId,
          [API_KEY]: secret,
          [PREVIOUS_CLIENT_ID]: "",
          [PREVIOUS_KEY]: "",
          [ROTATED_AT]: run.now().toISOString(),
          [ROTATED_BY]: run.record.actor,
        };
      }
      // A person's edit is theirs to undo; the old key is dead and KV names something else.
      throw stateMismatch(
        run,
        "the old pair is retired, but KV holds a pair this rotation did not publish; not overwriting it. Put the published pair back into KV, or make KV name Salesforce's main pair with eca-rotator resolve",
      );
    },
    read,
  );
  return wrote ? version : undefined;
}

/** The old secret KV still holds in previous_key (if any); previous_client_id must be the old key or empty. */
function oldSecretInKv(run: RotationRun, cred: StoredCredential): SecretValue | undefined {
  const previous = keyField(cred, PREVIOUS_CLIENT_ID);
  if (previous !== undefined && previous !== run.oldClientId) {
    throw stateMismatch(run, "KV previous_client_id is not the old key");
  }
  return previous === undefined ? undefined : secretField(cred, PREVIOUS_KEY);
}

/**
 * Deletes the `rotated` record (it may keep the old pair alive whatever key it shows) and proves the old key
 * unknown; returns when the proof was made. When this engine call promoted, the record is the one with the
 * journal's staged id (a PATCH keeps the record's id) and is deleted by that id, without listing first. When that
 * DELETE finds no such record, or the old key is still known after it, any `rotated` record is listed and deleted
 * and the proof is asked again: the id saves a call, the proof decides.
 */
async function proveOldKeyDead(run: RotationRun, oldSecret: SecretValue | undefined): Promise<Date> {
  const { stagedId } = run.record;
  if (run.seen.promoted === true && stagedId !== undefined) {
    await run.guard();
    if (await run.deps.issuer.deleteStaged(run.target, stagedId)) {
      const proof = await askDeath(run, oldSecret);
      if (proof.dead) return run.now();
    }
  }
  await deleteRotated(run);
  const proof = await askDeath(run, oldSecret);
  if (!proof.dead) {
    const answer = proof.answer === "token" ? "a token was issued" : `Salesforce answered ${proof.answer}`;
    throw new RotatorError(
      "ROTATION_VERIFY_FAILED",
      `the old consumer key is still known to Salesforce after it was retired (${answer}); only invalid_client_id proves it dead`,
      { retryable: true, context: { path: run.path } },
    );
  }
  return run.now();
}

/** Lists the consumer's staged slot and deletes a `rotated` record in it, whatever key it shows. */
async function deleteRotated(run: RotationRun): Promise<void> {
  const { issuer } = run.deps;
  const lingering = (await issuer.listStaged(run.target)).find((s) => s.state === "rotated");
  if (lingering !== undefined) {
    await run.guard();
    await issuer.deleteStaged(run.target, lingering.id);
  }
}

/**
 * Asked once, right after promotion, before retire_after is waited out: a Salesforce that kills the former pair at
 * promotion leaves nothing to wait for, and waiting would leave previous_* naming a dead pair for the whole of
 * retire_after. One login by key with the probe secret (the old secret is not sent); an inconclusive answer
 * (Salesforce unavailable) counts as alive, so the wait goes on as configured.
 */
export async function diedAtPromotion(run: RotationRun): Promise<boolean> {
  try {
    return (await askDeath(run, undefined)).dead;
  } catch {
    return false;
  }
}

/** One login with the old key (and KV's old secret, or a probe secret that can never be real). */
function askDeath(run: RotationRun, oldSecret: SecretValue | undefined): Promise<DeathProof> {
  return run.deps.issuer.provePairDead(run.target.connection, run.oldClientId, oldSecret ?? PROBE_SECRET);
}
