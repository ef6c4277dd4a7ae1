// The KV fields and metadata of a provider=sfmc credential (a Marketing Cloud installed package) and the helpers
// its steps share. Secret data: `client_id` (the package's client id, unchanged by a rotation), `api_key` (the
// secret in use), `previous_key` (the secret before, until it is proven dead) and `pending_api_key`, where an
// operator pastes a secret newly staged in Setup. Metadata: `sfmc_tenant`, the name of a tenant in the config's
// marketing_cloud.tenants, whose auth host is the only place this credential's secrets are sent (the only
// tenant when there is one). The tenant and its origin are pinned in the journal when the rotation starts.

import { RotatorError } from "../../errors.ts";
import type { CredentialPolicy } from "../../inventory/credential-policy.ts";
import { chooseDestination, type Destination, findDestination } from "../../inventory/destinations.ts";
import { secretField } from "../../rotation/credential-fields.ts";
import type { RotationEngineDeps, RotationRun } from "../../rotation/engine-deps.ts";
import type { StoredCredential } from "../../rotation/rotation-ports.ts";
import { stateMismatch } from "../../rotation/shared-steps.ts";
import type { SecretValue } from "../../secret-value.ts";

export const PENDING_API_KEY = "pending_api_key";
/** A Marketing Cloud secret works for 180 days after it was generated. */
export const SFMC_SECRET_TTL_MS = 180 * 24 * 3_600_000;

/** The configured tenant this path's metadata chooses; POLICY_INVALID (final) when none may be used. */
export function chooseTenant(
  policy: Pick<CredentialPolicy, "sfmcTenant">,
  deps: RotationEngineDeps,
  path: string,
): Destination {
  const choice = chooseDestination(deps.settings.destinations, "tenant", policy.sfmcTenant, path);
  if (!choice.ok) throw new RotatorError("POLICY_INVALID", choice.why, { context: { path } });
  return choice.destination;
}

/**
 * The auth origin this rotation sends secrets to: the tenant pinned in its journal, which the configuration
 * must still name with the same origin. Nothing is ever sent to a host taken from KV.
 */
export function pinnedAuthOrigin(run: RotationRun): string {
  const name = run.record.destination;
  const origin = run.record.destinationOrigin;
  if (name === undefined || origin === undefined) {
    throw stateMismatch(
      run,
      "the journal names no Marketing Cloud tenant; set rotate=now to start the rotation again",
    );
  }
  const configured = findDestination(run.deps.settings.destinations, "tenant", name);
  if (configured === undefined || configured.origin !== origin) {
    throw stateMismatch(
      run,
      `marketing_cloud.tenants.${name} is no longer configured with the auth host this rotation started with; not sending any secret`,
    );
  }
  return origin;
}

export function sameSecret(a: SecretValue | undefined, b: SecretValue | undefined): boolean {
  return a !== undefined && b !== undefined && a.reveal() === b.reveal();
}

export function fingerprintOf(run: RotationRun, secret: SecretValue | undefined): string {
  return secret === undefined ? "none" : run.deps.fingerprint(secret.reveal());
}

export function pendingSecret(cred: StoredCredential): SecretValue | undefined {
  return secretField(cred, PENDING_API_KEY);
}

export function journaledSecret(run: RotationRun): SecretValue {
  const s = run.record.newSecret;
  if (s === undefined) {
    throw new RotatorError("INTERNAL_INVARIANT", "no new secret in the journal after it was verified", {
      context: { path: run.path, step: run.record.step },
    });
  }
  return s;
}
