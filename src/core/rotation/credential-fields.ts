// The secret-data fields of a salesforce-eca credential as the engine reads them
// from a StoredCredential: consumer keys as text, secrets as SecretValue whatever the store handed back.

import { RotatorError } from "../errors.ts";
import {
  type CredentialPolicy,
  type PolicyReader,
  parseCredentialPolicy,
} from "../inventory/credential-policy.ts";
import { SecretValue } from "../secret-value.ts";
import type { StoredCredential } from "./rotation-ports.ts";

export const CLIENT_ID = "client_id";
export const API_KEY = "api_key";
export const PREVIOUS_CLIENT_ID = "previous_client_id";
export const PREVIOUS_KEY = "previous_key";
export const ROTATED_AT = "rotated_at";
export const ROTATED_BY = "rotated_by";

/** A consumer key field; "" and absent are both undefined (previous_* are "" once retired). */
export function keyField(c: StoredCredential, name: string): string | undefined {
  const v = c.data[name];
  // Consumer keys are identifiers, not secrets; a store that wraps them anyway is handled.
  const text = v === undefined ? undefined : typeof v === "string" ? v : v.reveal();
  return text === "" ? undefined : text;
}

/** A secret field as a SecretValue; "" and absent are both undefined. */
export function secretField(c: StoredCredential, name: string): SecretValue | undefined {
  const v = c.data[name];
  if (v === undefined) return undefined;
  const secret = typeof v === "string" ? SecretValue.of(v) : v;
  return secret.reveal() === "" ? undefined : secret;
}

// The credential's parsed policy, or the final error that says why the rotator may not touch it.
/** VAULT_NOT_MANAGED without `provider`, POLICY_INVALID (final) for metadata that cannot be interpreted. */
export function managedPolicy(
  cred: StoredCredential,
  path: string,
  providers: PolicyReader,
): CredentialPolicy {
  const parsed = parseCredentialPolicy(cred.customMetadata, providers);
  if (parsed.kind === "unmanaged") {
    throw new RotatorError("VAULT_NOT_MANAGED", `"${path}" has no provider in its metadata`, {
      context: { path },
    });
  }
  if (parsed.kind === "invalid") {
    throw new RotatorError("POLICY_INVALID", `invalid metadata: ${parsed.reason}`, { context: { path } });
  }
  return parsed.policy;
}
