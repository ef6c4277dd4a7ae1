// The KV fields and metadata of a provider=sfmc credential (a Marketing Cloud installed package) and the helpers
// its steps share. Secret data: `client_id` (the package's client id, unchanged by a rotation), `api_key` (the
// secret in use), `previous_key` (the secret before, until it is proven dead) and `pending_api_key`, where an
// operator pastes a secret newly staged in Setup. Metadata: `sfmc_tenant`, the name of a tenant in the config's
// marketing_cloud.tenants, whose auth host is the only place this credential's secrets are sent (the only
// tenant when there is one). The tenant and its origin are pinned in the journal when the rotation starts.

import { RotatorError } from "../../errors.ts";
import {
  type CredentialPolicy,
  chooseDestination,
  type Destination,
  type Destinations,
  findDestination,
  type MetadataField,
  patternMetadataField,
} from "../../inventory/credential-policy.ts";
import { CONFIG_NAME } from "../../inventory/policy-fields.ts";
import type { RotationEngineDeps, RotationRun } from "../../rotation/engine-deps.ts";
import { secretField } from "../../rotation/engine-deps.ts";
import type { ConsumerIdentity, StoredCredential } from "../../rotation/rotation-ports.ts";
import { safeSegment, stateMismatch, toHex } from "../../rotation/rotation-run.ts";
import type { SecretValue } from "../../secret-value.ts";

export const PENDING_API_KEY = "pending_api_key";
/** A Marketing Cloud secret works for 180 days after it was generated. */
export const SFMC_SECRET_TTL_MS = 180 * 24 * 3_600_000;

/** The metadata key of provider=sfmc: the configured Marketing Cloud tenant whose auth host checks its secrets. */
export const SFMC_METADATA_FIELDS: Readonly<Record<string, MetadataField>> = {
  sfmc_tenant: patternMetadataField(
    "sfmcTenant",
    CONFIG_NAME,
    "a tenant name from the config's marketing_cloud.tenants (letters, digits, _ . -)",
  ),
};

/** A policy with `sfmc_tenant` as the parser filled it in. */
export type SfmcPolicy = CredentialPolicy & { readonly sfmcTenant?: string | undefined };

/** The metadata key provider=sfmc once took its auth URL from; an entry that still has it is invalid. */
const LEGACY_SFMC_AUTH_URL = "sfmc_auth_url";

/**
 * Where a Marketing Cloud secret is sent used to come from a metadata key, which anyone allowed to patch
 * metadata can write. It is refused rather than ignored, so the entry says how to move it.
 */
export function sfmcMetadataProblem(_policy: CredentialPolicy, customMetadata: object): string | undefined {
  return Object.hasOwn(customMetadata, LEGACY_SFMC_AUTH_URL)
    ? `${LEGACY_SFMC_AUTH_URL} is no longer read (a secret goes only to a host the config names): add the tenant under marketing_cloud.tenants, set sfmc_tenant to its name and remove ${LEGACY_SFMC_AUTH_URL}`
    : undefined;
}

/** The scan's judgement of sfmc_tenant, once tenants are configured. */
export function sfmcDestinationProblem(
  policy: SfmcPolicy,
  path: string,
  destinations: Destinations,
): string | undefined {
  if (destinations.tenants.length === 0) return undefined;
  const choice = chooseDestination(destinations, "tenant", policy.sfmcTenant, path);
  return choice.ok ? undefined : choice.why;
}

/** The configured tenant this path's metadata chooses; POLICY_INVALID (final) when none may be used. */
export function chooseTenant(policy: SfmcPolicy, deps: RotationEngineDeps, path: string): Destination {
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

/** The consumer's owner key: the tenant and the package's client id. */
export function sfmcConsumer(tenant: string, clientId: string): ConsumerIdentity {
  // A client id is data someone typed into KV: hex keeps any value a single, safe path segment.
  return {
    key: `sfmc/${safeSegment(tenant)}/${toHex(clientId)}`,
    subject: `Marketing Cloud tenant ${tenant}, package client id ${clientId.slice(0, 64)}`,
  };
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
