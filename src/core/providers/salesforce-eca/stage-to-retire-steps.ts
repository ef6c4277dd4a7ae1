// salesforce-eca's steps from staging to retirement and close (inspect and rollback have their own files). Sections:
// promote (with the soak), stage, publish, verify, close, and retire (prove the old pair dead).
//
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
import { type ErrorCode, isRotatorError, RotatorError } from "../../errors.ts";
import { parseCredentialPolicy } from "../../inventory/credential-policy.ts";
import {
  API_KEY,
  CLIENT_ID,
  keyField,
  PREVIOUS_CLIENT_ID,
  PREVIOUS_KEY,
  ROTATED_AT,
  ROTATED_BY,
  type RotationRun,
  type StepResult,
  secretField,
} from "../../rotation/engine-deps.ts";
import {
  auditEvidence,
  evidenceText,
  readersSoak,
  soakPins,
  tellLaggards,
} from "../../rotation/readers-soak.ts";
import type { DeathProof, StagedCredential, StoredCredential } from "../../rotation/rotation-ports.ts";
import { finishClose, stampClosed, stateMismatch, writeWithCas } from "../../rotation/rotation-run.ts";
import { canTransition, startedByText } from "../../rotation/rotation-state.ts";
import { SecretValue } from "../../secret-value.ts";

/**
 * Standard published → promoting, once the soak is over: at promote_after (soak_until=time), or when the readers'
 * evidence says so (soak_until=readers, readers-soak.ts), which the intent records.
 */
export async function soakStep(run: RotationRun): Promise<StepResult> {
  if (run.record.promoteBy !== undefined) {
    const soak = await readersSoak(run);
    if ("wait" in soak) return soak.wait;
    await run.advance("promoting", { evidence: soak.evidence });
  } else {
    const until = run.record.promoteAfter;
    if (until !== undefined && run.now() < until) return { kind: "wait", waiting: "soak", until };
    await run.advance("promoting");
  }
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
      throw stateMismatch(run, "Salesforce's main key is neither the old nor the new one");
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
        throw stateMismatch(
          run,
          "KV holds a pair this rotation did not publish: not promoting. Put the published pair back into KV (or the old pair, to roll back), then set rotate=now",
        );
      }
    }
    await promoteOnce(run);
  }
  await run.advance("promoted", { promotedAt: run.record.promotedAt ?? run.now() });
  run.seen.promoted = true;
  await run.emit("rotation.promoted", { evidence: auditEvidence(run.record.evidence) });
  await tellLaggards(run, run.record.evidence);
  return undefined;
}

async function promoteOnce(run: RotationRun): Promise<void> {
  const { issuer } = run.deps;
  const stagedId = run.record.stagedId;
  if (stagedId === undefined) throw stateMismatch(run, "no staged id in the journal");
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
    lastErrorCode: "ROTATION_STATE_MISMATCH",
    rolledBackFrom: "promoting",
  });
  return undefined;
}

// Step 2, stage: inspected → staging (the intent, journaled before the POST) → staged (the new pair, journaled
// before anything else happens with it). POST staged is never retried blindly. An active staged set seen while
// the journal says `staging` is taken to be our own POST whose answer was lost (the inspect step proved none
// existed before the intent was written): it is adopted when its secret can be read back, else deleted and
// staged afresh. An uncertain or conflicting POST is answered the same way, by re-reading the staged list; when
// the list shows the uncertain POST did not take effect, the failure is retryable: the next attempt, after the
// backoff, re-reads the list again before it posts (a POST that landed late is adopted then).
/** inspected → staging (a journal written at `inspected`; the inspect step now journals `staging` itself). */
export async function stagingIntentStep(run: RotationRun): Promise<StepResult> {
  await run.advance("staging");
  return undefined;
}

/**
 * staging → staged. The staged list is read first only when a POST of this rotation may already have been sent:
 * when the inspection and the intent were made in this same engine call, the inspection saw no active set and
 * nothing has been posted since, so the list could not show a lost POST of ours.
 */
export async function stageStep(run: RotationRun): Promise<StepResult> {
  const { issuer } = run.deps;
  const target = run.target;
  if (run.seen.inspected !== true) {
    const existing = await adoptOrClear(run);
    if (existing !== undefined) return journalStaged(run, existing);
  }

  await run.guard();
  let created: StagedCredential;
  try {
    created = await issuer.createStaged(target);
  } catch (err) {
    const uncertain = isRotatorError(err) && err.context["uncertain"] === true;
    if (!uncertain && !isRotatorError(err, "SALESFORCE_STAGED_CONFLICT")) throw err;
    // Did our POST happen after all? Look instead of posting again.
    const adopted = await adoptOrClear(run);
    if (adopted !== undefined) return journalStaged(run, adopted);
    if (uncertain) throw notApplied(err, "no staged set exists, so the POST did not take effect");
    throw err;
  }
  if (created.secret === undefined) {
    await run.guard();
    await issuer.deleteStaged(target, created.id);
    throw secretsHidden(run.path);
  }
  return journalStaged(run, created);
}

/**
 * An active staged set now, with the journal at `staging`, is ours: the adoptable one is returned; one whose
 * secret cannot be read is deleted (it was never distributed) so a fresh POST can follow.
 */
async function adoptOrClear(run: RotationRun): Promise<StagedCredential | undefined> {
  const { issuer } = run.deps;
  const active = (await issuer.listStaged(run.target)).find((s) => s.state === "active");
  if (active === undefined) return undefined;
  if (active.secret !== undefined) return active;
  await run.guard();
  await issuer.deleteStaged(run.target, active.id);
  return undefined;
}

async function journalStaged(run: RotationRun, staged: StagedCredential): Promise<StepResult> {
  if (staged.secret === undefined) throw secretsHidden(run.path);
  await run.advance("staged", {
    stagedId: staged.id,
    newClientId: staged.clientId,
    newSecret: staged.secret,
  });
  await run.emit("rotation.staged");
  return undefined;
}

/**
 * An uncertain answer (5xx, timeout, no answer) to a call whose effect a re-read has now ruled out: nothing
 * changed at Salesforce, so trying again later is safe, and the next attempt re-reads before it acts.
 */
function notApplied(err: RotatorError, finding: string): RotatorError {
  return new RotatorError(err.code, `${err.message}; re-read: ${finding}`, {
    retryable: true,
    context: { ...err.context, uncertain: undefined },
    cause: err,
  });
}

function secretsHidden(path: string): RotatorError {
  return new RotatorError(
    "SALESFORCE_NOT_ENABLED",
    "Salesforce did not return the staged secret; enable REST API access to consumer secrets for the org",
    { context: { path } },
  );
}

// Step 4, publish: a new KV version with the new pair, written with cas against the version just read.
// Check before act: a current version that already holds the new client_id is our own write whose answer was
// lost, and is only recorded. A version that moved on since the rotation read it is merged over only when the
// other writer left client_id alone (they changed fields the rotator does not own); a different client_id means
// someone replaced the credential under us, which is a clear failure, never an overwrite.
/**
 * Standard verified → published: previous_* = the old pair, which still works until retire. Also staged →
 * published, right after the staged pair was verified in the same engine call (`verified`; its audit event follows
 * this step's journal write). With a soak of 0 the intent to promote is journaled in the same write (→ promoting):
 * nothing happens between the two, and the promote step re-reads Salesforce and KV before its PATCH. A crash before
 * this journal write finds KV holding the new pair, which the next attempt recognises as its own write.
 */
export async function publishStandardStep(run: RotationRun, verified = false): Promise<StepResult> {
  const written = await publish(run, (cred) => {
    const oldSecret = secretField(cred, API_KEY);
    if (oldSecret === undefined) throw stateMismatch(run, "KV lost its api_key during the rotation");
    return { [PREVIOUS_CLIENT_ID]: run.oldClientId, [PREVIOUS_KEY]: oldSecret };
  });
  const parsed = parseCredentialPolicy(written.cred.customMetadata, run.deps.providers);
  const policy = parsed.kind === "managed" ? parsed.policy : undefined;
  const soakMs = policy?.soakMs ?? run.deps.settings.soakMs;
  const now = run.now();
  const promoteAfter = new Date(now.getTime() + soakMs);
  // soak_until=readers: the rule is pinned here, and even a soak of 0 waits for the readers' evidence.
  const pins = soakPins(policy, run.deps.settings, now, soakMs);
  const soaks = soakMs > 0 || pins.promoteBy !== undefined;
  const published = { kvVersionPublished: written.version, promoteAfter, publishedAt: now, ...pins };
  const promoteNow =
    !soaks && canTransition(run.record.mode, run.record.step, "promoting", run.provider.machine);
  await run.advance(promoteNow ? "promoting" : "published", published);
  // soak_until=readers: the flag that started the rotation is spent here, so that rotate=now set during the soak
  // is an operator's go-ahead to promote (as for a generated secret's overlap).
  if (soaks) {
    const spent = pins.promoteBy === undefined ? {} : await run.flagClearing();
    await run.patchMetadata({ rotation_state: "awaiting_promotion", ...spent });
  }
  // Audit events follow the journal write that makes their step durable, under their own step's name.
  if (verified) await run.emit("rotation.verified", { step: "verified" });
  await run.emit("rotation.published", { kvVersion: written.version, step: "published" });
  return undefined;
}

/**
 * Emergency promoted → published, right after promotion: KV names the one pair Salesforce now accepts before
 * anything else can fail. previous_* are cleared at once: in an emergency the old pair is compromised and is
 * never offered to consumers (the retire step proves its key dead without its secret).
 */
export async function publishEmergencyStep(run: RotationRun): Promise<StepResult> {
  const written = await publish(run, () => ({ [PREVIOUS_CLIENT_ID]: "", [PREVIOUS_KEY]: "" }));
  const now = run.now();
  const outageMs = emergencyOutageMs(run, now);
  await run.advance("published", { kvVersionPublished: written.version, publishedAt: now });
  await run.emit("rotation.published", { kvVersion: written.version, outageMs });
  return undefined;
}

/** An emergency's outage: from promotion (the old pair died) to publication (KV named the new pair). */
function emergencyOutageMs(run: RotationRun, publishedAt: Date): number | undefined {
  const promotedAt = run.record.promotedAt;
  return promotedAt === undefined ? undefined : Math.max(0, publishedAt.getTime() - promotedAt.getTime());
}

async function publish(
  run: RotationRun,
  previous: (cred: StoredCredential) => Record<string, string | SecretValue>,
): Promise<{ version: number; cred: StoredCredential }> {
  const { clientId, secret } = run.newPair;
  return writeWithCas(run, (cred) => {
    const current = keyField(cred, CLIENT_ID);
    if (current === clientId) return undefined; // ours; the answer was lost
    if (current !== run.oldClientId) {
      throw stateMismatch(
        run,
        "KV client_id was changed to a key this rotation does not know; not overwriting it",
      );
    }
    return {
      [CLIENT_ID]: clientId,
      [API_KEY]: secret,
      ...previous(cred),
      [ROTATED_AT]: run.now().toISOString(),
      [ROTATED_BY]: run.record.actor,
    };
  });
}

// Steps 3 and 6b: the new pair logs in, first as the staged pair (standard mode, before anything is published),
// then as the main pair after promotion. In standard mode each check runs with the step after it (publish,
// retire) in one journal write. verifyPair waits out Salesforce's propagation delay up to
// verify_timeout; the lease is renewed in the background meanwhile.
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
 * (the retire step below), unless retire_after is still to run and the old pair did not die at promotion: then
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

/** Step 8, close: stamp the metadata, tell audit and chat, delete journal and lease (rotation-run.ts). */
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
  const evidence =
    r.evidence === undefined
      ? ""
      : ` Promotion: ${evidenceText(r.evidence, run.now(), r.provider, r.soakEndedBy)}.`;
  return `Rotated ${r.path} (${by}): ${key}; the old pair is retired and proven dead.${evidence}${why}`;
}

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
/**
 * Sent as the secret when KV no longer holds the old one: proof by key needs no secret, and this one can never
 * be a real consumer secret, so an answer other than invalid_client_id shows the key is still known.
 */
const PROBE_SECRET = SecretValue.of("eca-rotator-retired-key-probe");

/** When retire_after still keeps the old pair alive (standard mode, unless an emergency was asked for since). */
function retireWait(run: RotationRun): Date | undefined {
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
async function diedAtPromotion(run: RotationRun): Promise<boolean> {
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
