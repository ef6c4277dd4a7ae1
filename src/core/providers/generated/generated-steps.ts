// provider=generated, the dual-accept handshake as steps of the shared engine:
//   claimed → staged      a new secret from the CSPRNG, journaled before anything else sees it
//   staged → published    KV: current_secret=new, previous_secret=old, rotation_phase=dual-accept (emergency:
//                         previous_secret="" and rotation_phase=complete at once: the old secret is dropped);
//                         with confirm_by=flag, chat (rotation.action_needed) asks the operator to switch the sender
//                         and confirm with rotate=now
//   published → retired   after the soak, or an operator's rotate=now: previous_secret="", rotation_phase=complete
//   retired → closed      metadata stamped, audit and chat, journal and lease deleted (emergency: from published)
// Every KV write is cas against the version just read, and every step checks before it acts: a version that
// already holds the new secret is our own write whose answer was lost, so a resumed run never generates a
// second secret and never publishes twice. A current_secret that is neither ours nor the old one (by its
// fingerprint) was written by someone else and is never overwritten.

import { RotatorError } from "../../errors.ts";
import { parseCredentialPolicy } from "../../inventory/credential-policy.ts";
import type { RotationRun, StepResult } from "../../rotation/engine-deps.ts";
import { ROTATED_AT, ROTATED_BY } from "../../rotation/engine-deps.ts";
import {
  auditEvidence,
  evidenceText,
  readersSoak,
  soakPins,
  tellLaggards,
} from "../../rotation/readers-soak.ts";
import type { StoredCredential } from "../../rotation/rotation-ports.ts";
import { finishClose, stampClosed, stateMismatch, writeWithCas } from "../../rotation/rotation-run.ts";
import { startedByText } from "../../rotation/rotation-state.ts";
import { SecretValue } from "../../secret-value.ts";
import { HOUR_MS } from "../../time.ts";
import {
  CURRENT_SECRET,
  confirmsByFlag,
  currentSecret,
  journaledSecret,
  PHASE_COMPLETE,
  PHASE_DUAL_ACCEPT,
  PREVIOUS_SECRET,
  ROTATION_PHASE,
  SECRET_BYTES,
  sameSecret,
  secretFingerprint,
} from "./generated-fields.ts";

/** How often a rotation waiting for an operator's confirmation is looked at again (it costs one journal read). */
export const CONFIRM_RECHECK_MS = HOUR_MS;

/** claimed → staged: the new secret exists only in the journal until it is published. */
export async function generateStep(run: RotationRun): Promise<StepResult> {
  const cred = await run.readCredential();
  const random = run.deps.randomBytes;
  if (random === undefined) {
    throw new RotatorError("CONFIG_INVALID", "no random source for generated secrets is configured", {
      context: { path: run.path },
    });
  }
  const bytes = random(SECRET_BYTES);
  if (bytes.length !== SECRET_BYTES) {
    throw new RotatorError("INTERNAL_INVARIANT", "the random source returned the wrong number of bytes", {
      context: { path: run.path },
    });
  }
  await run.advance("staged", {
    newSecret: SecretValue.of(Buffer.from(bytes).toString("hex")),
    kvVersionRead: cred.version,
    oldSecretFingerprint: secretFingerprint(run, currentSecret(cred)),
  });
  await run.emit("rotation.staged");
  return undefined;
}

/** Standard staged → published: both secrets are accepted until the overlap ends. */
export async function publishDualAcceptStep(run: RotationRun): Promise<StepResult> {
  const written = await publish(run, (old) => ({
    [PREVIOUS_SECRET]: old ?? "",
    [ROTATION_PHASE]: PHASE_DUAL_ACCEPT,
  }));
  const parsed = parseCredentialPolicy(written.cred.customMetadata, run.deps.providers);
  const policy = parsed.kind === "managed" ? parsed.policy : undefined;
  const now = run.now();
  // confirm_by=flag: no end time until an operator confirms (onRepeatStart sets it to "now").
  const soakMs = policy?.soakMs ?? run.deps.settings.soakMs;
  const promoteAfter = confirmsByFlag(policy) ? undefined : new Date(now.getTime() + soakMs);
  // soak_until=readers: the overlap ends once every reader has the new secret (readers-soak.ts).
  const pins = promoteAfter === undefined ? {} : soakPins(policy, run.deps.settings, now, soakMs);
  await run.advance("published", {
    kvVersionPublished: written.version,
    promoteAfter,
    publishedAt: now,
    ...pins,
  });
  if (promoteAfter === undefined || soakMs > 0 || pins.promoteBy !== undefined) {
    // The flag that started the rotation is spent: from now on rotate=now means "the sender is updated".
    await run.patchMetadata({ rotation_state: "awaiting_promotion", ...(await run.flagClearing()) });
  }
  await run.emit("rotation.published", { kvVersion: written.version });
  if (promoteAfter === undefined) {
    // Nobody ends this overlap but an operator: tell them (after the flag above is spent, so theirs counts).
    await run.notify(
      "rotation.action_needed",
      `Overlap started for ${run.path} (KV version ${written.version}): receivers now accept both current_secret (the new generated secret) and previous_secret (the old one). ACTION: update the sender to sign with current_secret, then set rotate=now to end the overlap; previous_secret is then cleared. It waits for that flag however long it takes (confirm_by=flag).`,
    );
  }
  return undefined;
}

/** Emergency staged → published: the old secret is dropped at once (previous_secret empty). */
export async function publishAloneStep(run: RotationRun): Promise<StepResult> {
  const written = await publish(run, () => ({ [PREVIOUS_SECRET]: "", [ROTATION_PHASE]: PHASE_COMPLETE }));
  const now = run.now();
  await run.advance("published", { kvVersionPublished: written.version, publishedAt: now });
  await run.emit("rotation.published", { kvVersion: written.version });
  return undefined;
}

async function publish(
  run: RotationRun,
  rest: (old: SecretValue | undefined) => Record<string, string | SecretValue>,
): Promise<{ version: number; cred: StoredCredential }> {
  const secret = journaledSecret(run);
  return writeWithCas(run, (cred) => {
    const current = currentSecret(cred);
    if (sameSecret(current, secret)) return undefined; // ours; the answer was lost
    if (
      cred.version !== run.record.kvVersionRead &&
      secretFingerprint(run, current) !== run.record.oldSecretFingerprint
    ) {
      throw stateMismatch(
        run,
        "KV current_secret was changed by someone else during the rotation; not overwriting it",
      );
    }
    return {
      [CURRENT_SECRET]: secret,
      ...rest(current),
      [ROTATED_AT]: run.now().toISOString(),
      [ROTATED_BY]: run.record.actor,
    };
  });
}

/** Standard published → retired, once the soak is over or an operator confirmed: the old secret is dropped. */
export async function endOverlapStep(run: RotationRun): Promise<StepResult> {
  const now = run.now();
  const until = run.record.promoteAfter;
  if (until === undefined) {
    return { kind: "wait", waiting: "confirm", until: new Date(now.getTime() + CONFIRM_RECHECK_MS) };
  }
  let evidence = run.record.evidence;
  if (run.record.promoteBy !== undefined && evidence === undefined) {
    // Judged once: the evidence is journaled before the KV write, so a retry after a crash does not judge again.
    const soak = await readersSoak(run);
    if ("wait" in soak) return soak.wait;
    evidence = soak.evidence;
    await run.update({ evidence });
  } else if (run.record.promoteBy === undefined && now < until) {
    return { kind: "wait", waiting: "soak", until };
  }
  const secret = journaledSecret(run);
  const { version } = await writeWithCas(run, (cred) => {
    if (!sameSecret(currentSecret(cred), secret)) {
      throw stateMismatch(
        run,
        "KV current_secret is no longer the secret this rotation published; not touching it",
      );
    }
    if (isEmpty(cred, PREVIOUS_SECRET) && cred.data[ROTATION_PHASE] === PHASE_COMPLETE) {
      return undefined; // done already; only the journal did not say so
    }
    return { [PREVIOUS_SECRET]: "", [ROTATION_PHASE]: PHASE_COMPLETE };
  });
  await run.advance("retired");
  await run.emit("rotation.retired", { kvVersion: version, evidence: auditEvidence(evidence) });
  await tellLaggards(run, evidence);
  return undefined;
}

function isEmpty(cred: StoredCredential, field: string): boolean {
  const v = cred.data[field];
  return v === undefined || (typeof v === "string" ? v : v.reveal()) === "";
}

/** retired → closed (standard), published → closed (emergency). Every part is idempotent. */
export async function closeGeneratedStep(run: RotationRun): Promise<StepResult> {
  const now = run.now();
  // rotation_verified_at: there is no issuer to ask; here it means "the overlap completed".
  await stampClosed(run, now);
  const r = run.record;
  const by = startedByText(r.trigger, r.actor);
  const why = r.reason ? ` Reason: ${r.reason}.` : "";
  const version = `KV version ${r.kvVersionPublished ?? "?"}`;
  return finishClose(
    run,
    now,
    r.mode === "emergency"
      ? `EMERGENCY rotation of ${r.path} done (${by}): a new generated secret is current_secret (${version}) and the old one is no longer kept (previous_secret empty); update the sender now.${why}`
      : `Rotated ${r.path} (${by}): a new generated secret is current_secret (${version}); the dual-accept overlap is over and previous_secret is cleared.${evidenceSentence(run, now)}${why}`,
  );
}

/** " Overlap ended: 3 of 3 readers on the new pair (v8); …." for a soak_until=readers overlap, else "". */
function evidenceSentence(run: RotationRun, now: Date): string {
  const e = run.record.evidence;
  return e === undefined
    ? ""
    : ` Overlap ended: ${evidenceText(e, now, run.record.provider, run.record.soakEndedBy)}.`;
}
