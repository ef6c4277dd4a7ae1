// provider=sfmc, assisted rotation (Marketing Cloud has no API to stage or activate a secret: both are done in
// Setup by a person):
//   claimed → staged      the operator's pending_api_key must get a token at the pinned tenant's v2/token with the
//                         package's client_id (which proves the path holds that package; the first path to do so
//                         becomes its only owner); then it is journaled. A refused secret fails here: the
//                         rotation is abandoned and nothing is published.
//   staged → published    KV: api_key=new, previous_key=old, pending_api_key="" (one cas write); chat
//                         (rotation.action_needed) asks the operator to activate the staged secret in Setup once
//                         the soak is over, emergency included: the old secret only dies on that activation.
//   published → retired   after the soak (or an operator's rotate=now): the new secret must still work and the
//                         old one must be refused (activated in Setup); then previous_key="". While the old
//                         secret still works the step waits (confirm) and looks again later.
//   retired → closed      metadata stamped (rotation_verified_at, last_rotated, expires_at), audit and chat,
//                         journal and lease deleted.
// Every secret goes only to the auth host of the tenant pinned in the journal (sfmc-fields.ts). Every KV write is
// cas against the version just read and checks before it acts, like provider=generated.

import { RotatorError } from "../../errors.ts";
import { parseCredentialPolicy } from "../../inventory/credential-policy.ts";
import type { RotationRun, StepResult } from "../../rotation/engine-deps.ts";
import { API_KEY, PREVIOUS_KEY, ROTATED_AT, ROTATED_BY, secretField } from "../../rotation/engine-deps.ts";
import type { StoredCredential } from "../../rotation/rotation-ports.ts";
import {
  finishClose,
  ownedElsewhere,
  recordOwner,
  stampClosed,
  stateMismatch,
  writeWithCas,
} from "../../rotation/rotation-run.ts";
import { startedByText } from "../../rotation/rotation-state.ts";
import type { SecretValue } from "../../secret-value.ts";
import { HOUR_MS } from "../../time.ts";
import {
  fingerprintOf,
  journaledSecret,
  PENDING_API_KEY,
  pendingSecret,
  pinnedAuthOrigin,
  SFMC_SECRET_TTL_MS,
  sameSecret,
  sfmcConsumer,
} from "./sfmc-fields.ts";

/** How often a rotation waiting for the old secret to be deactivated in Setup looks again (one token request). */
export const SFMC_RECHECK_MS = HOUR_MS;

async function tokenCheck(run: RotationRun, cred: StoredCredential, secret: SecretValue) {
  const check = run.deps.sfmcTokenCheck;
  if (check === undefined) {
    throw new RotatorError("CONFIG_INVALID", "no Marketing Cloud token check is configured", {
      context: { path: run.path },
    });
  }
  const origin = pinnedAuthOrigin(run);
  return check(origin, packageClientId(run, cred), secret);
}

function packageClientId(run: RotationRun, cred: StoredCredential): string {
  const clientId = cred.data["client_id"];
  const id = typeof clientId === "string" ? clientId : clientId?.reveal();
  if (id === undefined || id === "") {
    throw new RotatorError("POLICY_INVALID", "no client_id in the secret data (the installed package's)", {
      context: { path: run.path },
    });
  }
  return id;
}

/** claimed → staged. */
export async function verifyPendingStep(run: RotationRun): Promise<StepResult> {
  const cred = await run.readCredential();
  const pending = pendingSecret(cred);
  if (pending === undefined) {
    throw new RotatorError(
      "USAGE",
      `no ${PENDING_API_KEY} in KV: stage a secret in Setup (Installed Packages), paste it into ${PENDING_API_KEY}, then set rotate=now`,
      { context: { path: run.path } },
    );
  }
  const current = secretField(cred, API_KEY);
  if (sameSecret(pending, current)) {
    throw new RotatorError(
      "USAGE",
      `${PENDING_API_KEY} is the secret already in api_key; nothing to rotate`,
      {
        context: { path: run.path },
      },
    );
  }
  // One path per package: another path that owns it is refused before its secret is sent anywhere.
  const consumer = sfmcConsumer(run.record.destination ?? "", packageClientId(run, cred));
  const owned = ownedElsewhere((await run.deps.state.readOwner(consumer.key))?.value, run.path);
  if (owned !== undefined) throw owned;
  const answer = await tokenCheck(run, cred, pending);
  if (!answer.ok) {
    throw new RotatorError(
      "ROTATION_VERIFY_FAILED",
      `Marketing Cloud refused the secret in ${PENDING_API_KEY} (${answer.refusal}); nothing was published. Check that it is the package's staged secret (a staged secret works 5 minutes after it was generated) and paste it again`,
      { context: { path: run.path, refusal: answer.refusal } },
    );
  }
  // A token for the package's client id with this secret proves the path holds the package.
  const recorded = await recordOwner(run.deps, consumer, run.path, () => run.guard());
  await run.advance("staged", {
    newSecret: pending,
    kvVersionRead: cred.version,
    oldSecretFingerprint: fingerprintOf(run, current),
  });
  if (recorded) await run.emit("consumer.owned", { subject: consumer.subject });
  await run.emit("rotation.staged");
  return undefined;
}

/** staged → published. */
export async function publishStep(run: RotationRun): Promise<StepResult> {
  const secret = journaledSecret(run);
  const { version } = await writeWithCas(run, (cred) => {
    const current = secretField(cred, API_KEY);
    if (sameSecret(current, secret)) return undefined; // ours; the answer was lost
    if (fingerprintOf(run, current) !== run.record.oldSecretFingerprint) {
      throw stateMismatch(
        run,
        "KV api_key was changed by someone else during the rotation; not overwriting it",
      );
    }
    return {
      [API_KEY]: secret,
      [PREVIOUS_KEY]: current ?? "",
      [PENDING_API_KEY]: "",
      [ROTATED_AT]: run.now().toISOString(),
      [ROTATED_BY]: run.record.actor,
    };
  });
  const now = run.now();
  const cred = await run.readCredential();
  const parsed = parseCredentialPolicy(cred.customMetadata, run.deps.providers);
  const soakMs =
    run.record.mode === "emergency"
      ? 0
      : ((parsed.kind === "managed" ? parsed.policy.soakMs : undefined) ?? run.deps.settings.soakMs);
  const promoteAfter = new Date(now.getTime() + soakMs);
  await run.advance("published", { kvVersionPublished: version, promoteAfter, publishedAt: now });
  await run.patchMetadata({ rotation_state: "awaiting_promotion", ...(await run.flagClearing()) });
  await run.emit("rotation.published", { kvVersion: version });
  const when =
    soakMs === 0 ? "now" : `after ${promoteAfter.toISOString()} (the soak lets every consumer pick it up)`;
  const lead =
    run.record.mode === "emergency"
      ? `EMERGENCY rotation of ${run.path} (emergency): the newly staged Marketing Cloud secret is published`
      : `Marketing Cloud secret of ${run.path} published`;
  await run.notify(
    "rotation.action_needed",
    `${lead} (KV version ${version}): api_key holds the newly staged secret, previous_key the old one; both work until the staged secret is activated. ACTION: activate the staged secret in Setup → Installed Packages ${when}, then set rotate=now; the rotator then proves the old secret is refused and clears previous_key (without the flag it looks again every ${SFMC_RECHECK_MS / 60_000} min).`,
  );
  return undefined;
}

/** published → retired. */
export async function proveOldDeadStep(run: RotationRun): Promise<StepResult> {
  const now = run.now();
  const until = run.record.promoteAfter;
  if (until !== undefined && now < until) return { kind: "wait", waiting: "soak", until };
  const secret = journaledSecret(run);
  const cred = await run.readCredential();
  if (!sameSecret(secretField(cred, API_KEY), secret)) {
    throw stateMismatch(run, "KV api_key is no longer the secret this rotation published; not touching it");
  }
  const old = secretField(cred, PREVIOUS_KEY);
  if (old !== undefined && fingerprintOf(run, old) !== run.record.oldSecretFingerprint) {
    throw stateMismatch(run, "KV previous_key no longer holds the old secret; not touching it");
  }
  const fresh = await tokenCheck(run, cred, secret);
  if (!fresh.ok) {
    throw new RotatorError(
      "ROTATION_VERIFY_FAILED",
      `Marketing Cloud refuses the new secret in api_key (${fresh.refusal}): was another secret staged or activated in Setup?`,
      { context: { path: run.path, refusal: fresh.refusal } },
    );
  }
  if (old !== undefined) {
    const stale = await tokenCheck(run, cred, old);
    if (stale.ok) {
      // Not activated in Setup yet: the old secret still gets tokens. Look again later (or on rotate=now).
      return { kind: "wait", waiting: "confirm", until: new Date(now.getTime() + SFMC_RECHECK_MS) };
    }
    await clearPrevious(run);
  }
  await run.advance("retired");
  await run.emit("rotation.retired", { kvVersion: run.record.kvVersionPublished });
  return undefined;
}

async function clearPrevious(run: RotationRun): Promise<void> {
  await writeWithCas(run, (cred) =>
    secretField(cred, PREVIOUS_KEY) === undefined ? undefined : { [PREVIOUS_KEY]: "" },
  );
}

/** retired → closed. Every part is idempotent. */
export async function closeSfmcStep(run: RotationRun): Promise<StepResult> {
  const now = run.now();
  const r = run.record;
  // The secret was generated in Setup before the rotation began: its 180 days started no later than that.
  const expiresAt = new Date(r.startedAt.getTime() + SFMC_SECRET_TTL_MS);
  await stampClosed(run, now, { expiresAt });
  const by = startedByText(r.trigger, r.actor);
  const why = r.reason ? ` Reason: ${r.reason}.` : "";
  const facts =
    `Marketing Cloud refuses the old secret, so previous_key is cleared; api_key holds the activated secret ` +
    `(KV version ${r.kvVersionPublished ?? "?"}). rotation_verified_at is stamped and expires_at is ` +
    `${expiresAt.toISOString()} (180 days from the start of the rotation).${why}`;
  return finishClose(
    run,
    now,
    r.mode === "emergency"
      ? `EMERGENCY rotation of ${r.path} done (${by}): ${facts}`
      : `Rotated ${r.path} (${by}): ${facts}`,
  );
}
