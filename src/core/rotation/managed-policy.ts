// The credential's parsed policy, or the final error that says why the rotator may not touch it.
import { RotatorError } from "../errors.ts";
import { type CredentialPolicy, parseCredentialPolicy } from "../inventory/credential-policy.ts";
import type { StoredCredential } from "./rotation-ports.ts";

/** VAULT_NOT_MANAGED without `provider`, POLICY_INVALID (final) for metadata that cannot be interpreted. */
export function managedPolicy(cred: StoredCredential, path: string): CredentialPolicy {
  const parsed = parseCredentialPolicy(cred.customMetadata);
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
