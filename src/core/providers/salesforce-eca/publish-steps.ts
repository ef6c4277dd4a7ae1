// Step 4, publish: a new KV version with the new pair, written with cas against the version just read.
// Check before act: a current version that already holds the new client_id is our own write whose answer was
// lost, and is only recorded. A version that moved on since the rotation read it is merged over only when the
// other writer left client_id alone (they changed fields the rotator does not own); a different client_id means
// someone replaced the credential under us, which is a clear failure, never an overwrite.

import { RotatorError } from "../../errors.ts";
import { parseCredentialPolicy } from "../../inventory/credential-policy.ts";
import {
  API_KEY,
  CLIENT_ID,
  keyField,
  PREVIOUS_CLIENT_ID,
  PREVIOUS_KEY,
  ROTATED_AT,
  ROTATED_BY,
  secretField,
} from "../../rotation/credential-fields.ts";
import type { RotationRun, StepResult } from "../../rotation/engine-deps.ts";
import type { StoredCredential } from "../../rotation/rotation-ports.ts";
import { canTransition } from "../../rotation/rotation-state.ts";
import { writeWithCas } from "../../rotation/shared-steps.ts";
import type { SecretValue } from "../../secret-value.ts";

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
    if (oldSecret === undefined) throw mismatch(run, "KV lost its api_key during the rotation");
    return { [PREVIOUS_CLIENT_ID]: run.oldClientId, [PREVIOUS_KEY]: oldSecret };
  });
  const policy = parseCredentialPolicy(written.cred.customMetadata);
  const soakMs = (policy.kind === "managed" ? policy.policy.soakMs : undefined) ?? run.deps.settings.soakMs;
  const now = run.now();
  const promoteAfter = new Date(now.getTime() + soakMs);
  const published = { kvVersionPublished: written.version, promoteAfter, publishedAt: now };
  const promoteNow =
    soakMs <= 0 && canTransition(run.record.mode, run.record.step, "promoting", run.provider.machine);
  await run.advance(promoteNow ? "promoting" : "published", published);
  if (soakMs > 0) await run.patchMetadata({ rotation_state: "awaiting_promotion" });
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
export function emergencyOutageMs(run: RotationRun, publishedAt: Date): number | undefined {
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
      throw mismatch(
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

function mismatch(run: RotationRun, message: string): RotatorError {
  return new RotatorError("ROTATION_STATE_MISMATCH", message, {
    context: { path: run.path, step: run.record.step },
  });
}
