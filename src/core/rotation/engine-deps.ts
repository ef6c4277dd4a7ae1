// What the rotation engine is built from and what its providers plug into: the ports, the clock, an id source,
// this process's lease owner name and the settings from config (rotation.*), which the composition root fills in;
// the provider contract (RotationProvider), the set of providers the composition root hands over (ProviderSet),
// and the run a provider's steps work on (RotationRun). The types that name each other live here together, so
// the engine's modules import this one and it imports none of them.
//
// What a provider supplies to the shared engine. The engine owns the lease, the journal (cas + fence), the drive
// loop, failure handling (counted attempts, rollback before the point of no return, parking), audit, chat and
// outcomes; a provider owns what is specific to its credentials: which policies it accepts, its state machine
// and step functions per mode, its waits, its dry-run checks and the words of its refusals. Everything the rest of
// the program asks about a provider is on its profile (ProviderProfile): its own metadata keys, the scan's words,
// its chat next steps, its CLI outcome lines and its `check` findings. Providers live in
// src/core/providers/<name>/; the composition root hands the engine a ProviderSet, looked up by the journal's (or
// the metadata's) `provider`. The engine imports no provider.
import { RotatorError } from "../errors.ts";
import type { Destinations } from "../inventory/credential-policy.ts";
import {
  type CredentialPolicy,
  PolicyReader,
  type ProviderMetadata,
  parseCredentialPolicy,
} from "../inventory/credential-policy.ts";
import type { InventoryItem } from "../inventory/inventory-item.ts";
import type { OnSoakMax, SoakUntil } from "../inventory/policy-fields.ts";
import { notRotatedMessage } from "../manual/manual-actions.ts";
import type { DeadlineChatEvent, RotationChatEvent } from "../notify/chat-event.ts";
import type { CheckFinding, CredentialFacts, ProviderCheckContext } from "../providers/credential-facts.ts";
import type { ReaderEvidence } from "../readers/readers.ts";
import { SecretValue } from "../secret-value.ts";
import type { Clock, Scheduler } from "../time.ts";
import type { IssuerTarget, JournalChanges, JournalRecord } from "./journal-record.ts";
import type { LeaseHold } from "./lease.ts";
import type { RotationOutcome, WaitKind } from "./rotation-outcome.ts";
import type {
  AuditSink,
  ConsumerIdentity,
  CredentialIssuer,
  CredentialStore,
  Lease,
  Notification,
  Notifier,
  RotationStateStore,
  StoredCredential,
} from "./rotation-ports.ts";
import type {
  AuditEvent,
  AuditEventType,
  RotationMode,
  RotationStep,
  RotationTrigger,
  StepMachine,
} from "./rotation-state.ts";

export interface RotationEngineSettings {
  /** Lease expiry. The lease is renewed every third of it while a run holds it, so steps may take longer. */
  readonly leaseTtlMs: number;
  /** Soak when the credential's metadata has no `soak` (config rotation.soak). */
  readonly soakMs: number;
  /** What ends a standard soak when the metadata has no `soak_until` (config rotation.soak_until; default time). */
  readonly soakUntil?: SoakUntil | undefined;
  /** soak_until=readers: the longest soak when the metadata has no `soak_max` (config rotation.soak_max; 24h). */
  readonly soakMaxMs?: number | undefined;
  /** soak_until=readers at soak_max with readers lagging (config rotation.on_soak_max; default promote). */
  readonly onSoakMax?: OnSoakMax | undefined;
  /** How far before publication a reader counts (config readers.window; DEFAULT_READERS_WINDOW_MS). */
  readonly readersWindowMs?: number | undefined;
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
type SfmcTokenCheck = (authUrl: string, clientId: string, secret: SecretValue) => Promise<SfmcTokenAnswer>;

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
  /**
   * Who reads each credential (the reader feed over Vault's audit device). Without it a soak_until=readers soak
   * has no evidence and never promotes early: it runs to soak_max and on_soak_max decides.
   */
  readonly readers?: ReaderEvidence | undefined;
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

export interface StartOptions {
  readonly mode: RotationMode;
  readonly trigger: RotationTrigger;
  /** "scheduler", "operator-flag", "cli", "http:<token name>"; never a token. */
  readonly actor: string;
  /** rotate_reason; a flag trigger without one takes the metadata's. */
  readonly reason?: string | undefined;
  /** Skip unless the KV version is still the one the decision was made on (the scheduler passes it). */
  readonly expectKvVersion?: number | undefined;
  /**
   * trigger=schedule: the last_rotated the decision saw (undefined: none). A rotation that closed meanwhile moved
   * it, and the start is skipped; so is one whose metadata is no longer idle (a rotation failed or rolled back).
   */
  readonly expectLastRotated?: Date | undefined;
  /** The new rotation's id when the caller must know it first (the HTTP API answers with it); default deps.ids(). */
  readonly rotationId?: string | undefined;
}

export interface PlanCheck {
  readonly name: "journal" | "lease" | "credential" | "policy" | "salesforce" | "preflight";
  readonly ok: boolean;
  /** Plain words; never a secret. */
  readonly detail: string;
}

/**
 * What a step function returns. A step either moved the journal on (undefined), must wait (the soak, or
 * retire_after), or finished the rotation. Failures are thrown as RotatorError; the engine counts, retries,
 * rolls back or parks them.
 */
export type StepResult =
  | undefined
  | {
      readonly kind: "wait";
      readonly waiting: WaitKind;
      readonly until: Date;
      readonly detail?: string | undefined;
    }
  | { readonly kind: "done"; readonly outcome: RotationOutcome };

export type StepFunction = (run: RotationRun) => Promise<StepResult>;

/**
 * One engine call working on one credential, as steps see it (the engine's JournaledRun implements it): the
 * journal record and its version, the lease it holds, and the guarded ways to change anything.
 */
export interface RotationRun {
  readonly deps: RotationEngineDeps;
  readonly path: string;
  record: JournalRecord;
  journalVersion: number;
  readonly hold: LeaseHold;
  sinkFailures: number;
  /** What this engine call has seen for itself (see JournaledRun). */
  readonly seen: {
    claimRead?: StoredCredential | undefined;
    inspected?: boolean | undefined;
    promoted?: boolean | undefined;
  };
  /** The lease as last claimed or renewed. */
  readonly lease: Lease;
  /** The provider named in the journal: its state machine and steps drive this run. */
  readonly provider: RotationProvider;
  /** The target the inspect step resolved; a later step without one is a bug. */
  readonly target: IssuerTarget;
  /** The new pair from the journal (the staged step put it there before anything else used it). */
  readonly newPair: { clientId: string; secret: NonNullable<JournalRecord["newSecret"]> };
  readonly oldClientId: string;
  now(): Date;
  /** Before every write and Salesforce mutation: throws ROTATION_LEASE_HELD when the lease is no longer held. */
  guard(): Promise<void>;
  advance(step: RotationStep, changes?: JournalChanges): Promise<void>;
  update(changes: JournalChanges): Promise<void>;
  revive(step: RotationStep, changes?: JournalChanges): Promise<void>;
  create(): Promise<"created" | "exists">;
  write(next: JournalRecord, rawConflict?: boolean): Promise<void>;
  readCredential(): Promise<StoredCredential>;
  patchMetadata(patch: Readonly<Record<string, string | null>>): Promise<void>;
  flagClearing(keep?: boolean, read?: Readonly<Record<string, string>>): Promise<Record<string, null>>;
  endJournal(): Promise<void>;
  releaseLease(journalRemains?: boolean): Promise<void>;
  fingerprint(): string | undefined;
  emit(type: AuditEventType, extra?: Partial<AuditEvent>): Promise<void>;
  notify(kind: Notification["kind"], text: string, errorCode?: string): Promise<void>;
  sinkFailed(sink: "audit" | "notify", err: unknown): void;
  describeDuration(ms: number): string;
}

interface PlanWait {
  readonly soakMs: number;
  /** One line for people, e.g. "soak: 15m between publishing and promoting". */
  readonly text: string;
}

/**
 * Work the scan's metadata cannot show (sfmc: a secret an operator pasted into pending_api_key): which entries are
 * worth one data read, and whether what that read found starts a rotation. The scan runs it for every provider
 * that has one, after the flags and deadlines.
 */
export interface ProviderPickup {
  /** What the data read looks for, in messages (e.g. "pending_api_key"). */
  readonly looksFor: string;
  /** From metadata alone; `hasJournal`: an unfinished rotation exists (it is resumed, never restarted). */
  mayHaveWork(item: InventoryItem, hasJournal: boolean): boolean;
  /** From the entry's data, read once; undefined: nothing to start. The secret is not kept. */
  decide(cred: StoredCredential): { readonly mode: RotationMode; readonly reason: string } | undefined;
}

/**
 * What every provider, rotated by the engine or tracked only (manual), tells the rest of the program: its metadata
 * keys and scan words (ProviderMetadata), and the words below. Each hook returns undefined (or is absent) where the
 * generic words fit. Words are plain and never hold a secret.
 */
export interface ProviderProfile extends ProviderMetadata {
  /** The concrete next step a chat message about this provider's credential ends with. */
  chatNextStep?(event: RotationChatEvent | DeadlineChatEvent, mount: string): string | undefined;
  /** `rotate`, `rollback` and `run --once`: the one line saying what happened and what comes next. */
  outcomeText?(outcome: RotationOutcome, now: Date): string | undefined;
  /** `run --once`: the RESULT cell of the credential's row. */
  cycleResultText?(outcome: RotationOutcome, now: Date): string | undefined;
  /** `check`: this provider's findings; `needsSecretData`: the caller reads the secret data (presence only) first. */
  readonly checks?: {
    readonly needsSecretData: boolean;
    run(facts: CredentialFacts, ctx: ProviderCheckContext): CheckFinding[];
  };
}

export interface RotationProvider extends ProviderProfile {
  readonly machine: StepMachine;
  /**
   * Throws POLICY_INVALID (final) when this policy cannot be rotated by the provider, e.g. it chooses no
   * configured destination this path may use; the parser checked the rest.
   */
  checkPolicy(policy: CredentialPolicy, path: string, deps: RotationEngineDeps): void;
  /**
   * The provider's fields of a new `claimed` journal, from the credential as read at claim time (e.g. the
   * destination its secrets go to, pinned for the whole rotation).
   */
  claimFields(
    cred: StoredCredential,
    policy: CredentialPolicy,
    deps: RotationEngineDeps,
    path: string,
  ): JournalChanges;
  /** The function that moves a journal on from `step`; undefined for `failed`. */
  stepFunction(mode: RotationMode, step: RotationStep): StepFunction | undefined;
  /** A wait that the journal alone shows (resume's peek, without the lease). */
  waitingFor(r: JournalRecord, deps: RotationEngineDeps): { waiting: WaitKind; until: Date } | undefined;
  /**
   * start() found an unfinished journal of this provider: what the new request changes in it, and whether that
   * used up the operator's flag (it ended a wait it was meant to end). A flag not used up survives the rotation's
   * close and starts a new one (an emergency asked for after promotion, say).
   */
  onRepeatStart(
    r: JournalRecord,
    opts: StartOptions,
    now: Date,
  ): { readonly changes: JournalChanges; readonly usesFlag: boolean };
  /**
   * True when `resolve` may end a parked rotation of this provider (it reads the issuer's state to find out
   * what a failed step left behind); the others are resumed with rotate=now or rolled back.
   */
  readonly resolvesParked?: true;
  /** True when rotate=now during the overlap (awaiting_promotion) is the operator's go-ahead to end it. */
  readonly flagEndsOverlap: boolean;
  /**
   * True when soak_until=readers applies to the provider's standard soak (readers-soak.ts): publication pins it,
   * and rotate=now during such a soak is the operator's go-ahead to promote.
   */
  readonly readersSoak?: true;
  /** false: only an operator's flag starts a rotation; deadlines only remind (assisted providers such as sfmc). */
  readonly startsOnSchedule?: false;
  readonly pickup?: ProviderPickup;
  /** Why `rollback` is refused for a journal at `at`. */
  rollbackRefusal(mode: RotationMode, at: RotationStep | undefined): string;
  /** The last sentence of a failure notice: what was changed and what to do. */
  failureAdvice(mode: RotationMode, step: RotationStep, abandoned: boolean): string;
  /** Dry run: the soak a rotation in `mode` would wait, and what the wait is, in the provider's words. */
  planWait(policy: CredentialPolicy, mode: RotationMode, deps: RotationEngineDeps): PlanWait;
  /**
   * The external consumer the credential names, for the one-owner rule (rotation-run.ts), and how to prove
   * that the path holds its working secret (throws ROTATION_POSSESSION_UNPROVEN when it does not). Reads only.
   * Absent for providers with no external consumer (generated: the rotator makes the secret itself).
   */
  consumerOf?(
    deps: RotationEngineDeps,
    path: string,
    cred: StoredCredential,
    policy: CredentialPolicy,
  ): Promise<{ readonly consumer: ConsumerIdentity; prove(): Promise<void> }>;
  /** Dry run: the provider's own read-only checks. */
  planChecks(
    deps: RotationEngineDeps,
    path: string,
    cred: StoredCredential,
    add: (name: PlanCheck["name"], ok: boolean, detail: string) => void,
  ): Promise<void>;
}

/**
 * The providers this program knows, by name: the ones the engine rotates and the ones only tracked (manual). It
 * reads custom_metadata with them (PolicyReader): `provider` must name one.
 */
export class ProviderSet extends PolicyReader {
  readonly #profiles: ReadonlyMap<string, ProviderProfile>;
  readonly #byName: ReadonlyMap<string, RotationProvider>;

  constructor(providers: readonly (RotationProvider | ProviderProfile)[]) {
    super(providers);
    this.#profiles = new Map(providers.map((p) => [p.name, p]));
    this.#byName = new Map(
      providers.filter((p): p is RotationProvider => "machine" in p).map((p) => [p.name, p]),
    );
  }

  /** The providers the engine rotates, in registration order. */
  get rotators(): readonly RotationProvider[] {
    return [...this.#byName.values()];
  }

  /** What the provider of this name says of itself; undefined for a name not registered. */
  profile(name: string | undefined): ProviderProfile | undefined {
    return name === undefined ? undefined : this.#profiles.get(name);
  }

  /** The provider that rotates credentials of this `provider` value; undefined when the engine does not. */
  get(name: string | undefined): RotationProvider | undefined {
    return name === undefined ? undefined : this.#byName.get(name);
  }

  rotates(name: string | undefined): boolean {
    return this.get(name) !== undefined;
  }

  /** The pickup of the entry's provider, when it has one and the entry may hold work for it. */
  pickupFor(item: InventoryItem, hasJournal: boolean): ProviderPickup | undefined {
    const pickup = this.get(item.provider)?.pickup;
    return pickup?.mayHaveWork(item, hasJournal) === true ? pickup : undefined;
  }

  /** The journal's provider; a journal naming one this engine does not know is corrupt, never guessed at. */
  forJournal(name: string, path: string): RotationProvider {
    const p = this.#byName.get(name);
    if (p === undefined) {
      throw new RotatorError(
        "ROTATION_JOURNAL_CORRUPT",
        `the journal names provider "${name}", which the engine does not rotate`,
        { context: { path } },
      );
    }
    return p;
  }

  /** The credential's policy and provider, when the engine may rotate it; why not otherwise (a final error). */
  rotatable(
    cred: StoredCredential,
    path: string,
    deps: RotationEngineDeps,
  ): { policy: CredentialPolicy; provider: RotationProvider } {
    const policy = managedPolicy(cred, path, this);
    const provider = this.get(policy.provider);
    if (provider === undefined) {
      throw new RotatorError("POLICY_INVALID", notRotatedMessage(policy.provider), { context: { path } });
    }
    provider.checkPolicy(policy, path, deps);
    return { policy, provider };
  }
}

// The secret-data fields of a salesforce-eca credential as the engine reads them
// from a StoredCredential: consumer keys as text, secrets as SecretValue whatever the store handed back.
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
