// The KV fields and metadata of a provider=sfmc credential (Marketing Cloud installed package, salesforce-api.md
// section 4) and the helpers its steps share. Secret data: `client_id` (the package's client id, unchanged by a
// rotation), `api_key` (the secret in use), `previous_key` (the secret before, until it is proven dead) and
// `pending_api_key`, where an operator pastes a secret newly staged in Setup. Metadata: `sfmc_auth_url`, the
// tenant's auth base URL (https://<subdomain>.auth.marketingcloudapis.com; http only on loopback, for tests).
import { RotatorError } from "../../errors.ts";
import { secretField } from "../../rotation/credential-fields.ts";
import type { StoredCredential } from "../../rotation/rotation-ports.ts";
import type { RotationRun } from "../../rotation/rotation-run.ts";
import type { SecretValue } from "../../secret-value.ts";

export const PENDING_API_KEY = "pending_api_key";
export const SFMC_AUTH_URL = "sfmc_auth_url";

/** A Marketing Cloud secret works for 180 days after it was generated (salesforce-api.md 4.2). */
export const SFMC_SECRET_TTL_MS = 180 * 24 * 3_600_000;

/** The auth base URL from metadata, or why it is unusable (never guessed). */
export function sfmcAuthUrl(
  cred: Pick<StoredCredential, "customMetadata">,
): { ok: true; url: string } | { ok: false; why: string } {
  const raw = cred.customMetadata[SFMC_AUTH_URL];
  if (typeof raw !== "string" || raw === "") {
    return { ok: false, why: `no ${SFMC_AUTH_URL} in the metadata (the tenant's auth base URL)` };
  }
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return { ok: false, why: `${SFMC_AUTH_URL} is not a URL` };
  }
  const loopback = u.hostname === "127.0.0.1" || u.hostname === "localhost" || u.hostname === "[::1]";
  if (u.protocol !== "https:" && !(u.protocol === "http:" && loopback)) {
    return { ok: false, why: `${SFMC_AUTH_URL} must be https (http only on loopback)` };
  }
  if (u.username !== "" || u.password !== "" || u.search !== "" || u.hash !== "") {
    return { ok: false, why: `${SFMC_AUTH_URL} must not carry credentials, a query or a fragment` };
  }
  return { ok: true, url: u.origin + u.pathname.replace(/\/+$/, "") };
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

export function mismatch(run: RotationRun, message: string): RotatorError {
  return new RotatorError("ROTATION_STATE_MISMATCH", message, {
    context: { path: run.path, step: run.record.step },
  });
}
