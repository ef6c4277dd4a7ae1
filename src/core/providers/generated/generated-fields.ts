// The secret-data fields of a provider=generated credential, and the small
// helpers its steps share. The phase lives in the secret data, beside the secrets, so a receiver that reads
// one KV version sees secrets and phase that belong together.
import { RotatorError } from "../../errors.ts";
import {
  type CredentialPolicy,
  enumMetadataField,
  type MetadataField,
} from "../../inventory/credential-policy.ts";
import type { RotationRun } from "../../rotation/engine-deps.ts";
import { secretField } from "../../rotation/engine-deps.ts";
import type { StoredCredential } from "../../rotation/rotation-ports.ts";
import type { SecretValue } from "../../secret-value.ts";

export const CURRENT_SECRET = "current_secret";
export const PREVIOUS_SECRET = "previous_secret";
export const ROTATION_PHASE = "rotation_phase";
export const PHASE_DUAL_ACCEPT = "dual-accept";
export const PHASE_COMPLETE = "complete";

/** The metadata key of provider=generated: what ends the dual-accept overlap (the soak, or only an operator's rotate=now). */
export const GENERATED_METADATA_FIELDS: Readonly<Record<string, MetadataField>> = {
  confirm_by: enumMetadataField("confirmBy", ["soak", "flag"]),
};

/** confirm_by=flag: only an operator's rotate=now ends the overlap (absent means soak). */
export function confirmsByFlag(policy: CredentialPolicy | undefined): boolean {
  return policy?.["confirmBy"] === "flag";
}

/** 32 random bytes, written as 64 hex characters (as `openssl rand -hex 32` makes them). */
export const SECRET_BYTES = 32;

/** The journal's mark for "there was no current_secret when the rotation began". */
const NO_SECRET = "none";

export function currentSecret(cred: StoredCredential): SecretValue | undefined {
  return secretField(cred, CURRENT_SECRET);
}

/** Keyed fingerprint of a secret (or NO_SECRET): compares secrets without keeping the old one anywhere. */
export function secretFingerprint(run: RotationRun, secret: SecretValue | undefined): string {
  return secret === undefined ? NO_SECRET : run.deps.fingerprint(secret.reveal());
}

export function sameSecret(a: SecretValue | undefined, b: SecretValue | undefined): boolean {
  return a !== undefined && b !== undefined && a.reveal() === b.reveal();
}

/** The new secret the journal holds from `staged` on; a later step without it is a bug. */
export function journaledSecret(run: RotationRun): SecretValue {
  const s = run.record.newSecret;
  if (s === undefined) {
    throw new RotatorError("INTERNAL_INVARIANT", "no new secret in the journal after it was generated", {
      context: { path: run.path, step: run.record.step },
    });
  }
  return s;
}
