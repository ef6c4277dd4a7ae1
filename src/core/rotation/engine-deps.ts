// What the rotation engine is built from: the ports, the clock, an id source, this process's lease owner name
// and the settings from config (rotation.*). The composition root (src/app/container.ts) fills it in.
import type { Clock, Scheduler } from "../clock.ts";
import type { Destinations } from "../inventory/destinations.ts";
import type { SecretValue } from "../secret-value.ts";
import type {
  AuditSink,
  CredentialIssuer,
  CredentialStore,
  Notifier,
  RotationStateStore,
} from "./rotation-ports.ts";
import type { ProviderSet } from "./rotation-provider.ts";

export interface RotationEngineSettings {
  /** Lease expiry. The lease is renewed every third of it while a run holds it, so steps may take longer. */
  readonly leaseTtlMs: number;
  /** Soak when the credential's metadata has no `soak` (config rotation.soak). */
  readonly soakMs: number;
  /** How long verifyPair may wait out Salesforce's propagation delay. */
  readonly verifyTimeoutMs: number;
  /** Failed attempts of one step before the rotation fails for good (then only an operator restarts it). */
  readonly maxAttempts: number;
  /**
   * How long a run of failed attempts may go on (rotation.retry_budget, default 4h). Salesforce being unavailable
   * or rate-limited is retried within it past max_attempts; past the point of no return every retryable failure is.
   */
  readonly retryBudgetMs?: number | undefined;
  /** The first backoff after a failed attempt; it doubles per attempt (rotation.scan_interval, default 1m). */
  readonly retryBaseMs?: number | undefined;
  /** Standard mode: how long the old pair may live after promotion before it is retired. Default 0 (at once). */
  readonly retireAfterMs?: number | undefined;
  /**
   * Where secrets may go: the configured Salesforce connections and Marketing Cloud tenants. Metadata only
   * chooses among them (`sf_connection`, `sfmc_tenant`); the chosen one is pinned in the journal.
   */
  readonly destinations: Destinations;
}

/** A Marketing Cloud v2/token answer for one secret: issued, or refused with the OAuth error code. */
export type SfmcTokenAnswer = { readonly ok: true } | { readonly ok: false; readonly refusal: string };

/**
 * Asks a Marketing Cloud tenant's auth host for a token with this secret (provider=sfmc). Throws a RotatorError
 * (SALESFORCE_UNAVAILABLE, retryable) when there is no answer; never puts the secret in an error.
 */
export type SfmcTokenCheck = (
  authUrl: string,
  clientId: string,
  secret: SecretValue,
) => Promise<SfmcTokenAnswer>;

export interface RotationEngineDeps {
  /** The providers this engine rotates (the composition root's set). */
  readonly providers: ProviderSet;
  readonly issuer: CredentialIssuer;
  readonly store: CredentialStore;
  readonly state: RotationStateStore;
  readonly audit: AuditSink;
  readonly notifier: Notifier;
  readonly clock: Clock;
  /** Timers for the lease's background renewal; Node's own (unref'd) when absent. */
  readonly scheduler?: Scheduler | undefined;
  /** New rotation ids (a UUID in production). */
  readonly ids: () => string;
  /** This process's lease owner name: unique per process (host, pid, random), never a secret. */
  readonly owner: string;
  /** Keyed fingerprint (HMAC) of a consumer key, for audit and chat. */
  readonly fingerprint: (clientId: string) => string;
  /**
   * The CSPRNG provider=generated draws new secrets from (node:crypto randomBytes in production; fixed bytes in
   * tests). Without it generated credentials fail at their first step and nothing is changed.
   */
  readonly randomBytes?: ((size: number) => Uint8Array) | undefined;
  /** provider=sfmc verifies secrets here; without it sfmc credentials fail at their first step, unchanged. */
  readonly sfmcTokenCheck?: SfmcTokenCheck | undefined;
  readonly settings: RotationEngineSettings;
  /** Jitter for retry backoff, in [0, 1) (Math.random when absent). */
  readonly random?: (() => number) | undefined;
  /** Told about every audit or notification failure (for metrics and /readyz); never changes an outcome. */
  readonly onSinkFailure?: ((sink: "audit" | "notify", error: unknown) => void) | undefined;
  /** True once the daemon is stopping: a running rotation stops at the next step boundary (journal kept, lease released). */
  readonly shouldPause?: (() => boolean) | undefined;
}
