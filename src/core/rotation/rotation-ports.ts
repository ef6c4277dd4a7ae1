// The ports the rotation engine drives. The engine is core (no I/O of its own); adapters implement these on
// Vault (src/adapters/vault) and Salesforce (src/adapters/salesforce), fakes implement them in memory for
// unit tests (test/fakes). Every adapter throws RotatorError; the doc comments fix retry and idempotency.
import type { SecretValue } from "../secret-value.ts";
import type { IssuerTarget, JournalRecord } from "./journal-record.ts";
import type { AuditEvent, RotationMode } from "./rotation-state.ts";

export type { IssuerTarget };

/** A rotation's lease on one credential: one owner at a time, fenced by a counter that only grows. */
export interface Lease {
  readonly owner: string;
  readonly expiresAt: Date;
  readonly fence: number;
}

/** Who owns an external consumer (one path per consumer), under <state_prefix>/owners/. */
export interface ConsumerOwner {
  /** The credential path that owns the consumer. */
  readonly path: string;
  /** When this path proved possession and became the owner. */
  readonly since: Date;
  /** What the consumer is, for people: "org 00D…, app 0xI…, consumer 888…". */
  readonly subject: string;
  /** The path that owned it before an adoption. */
  readonly adoptedFrom?: string | undefined;
}

/** A consumer's owner key (a path below <state_prefix>/owners/) and its description. */
export interface ConsumerIdentity {
  readonly key: string;
  readonly subject: string;
}

/** A target as resolved, with the main key when the consumer list showed it (it spares a read of the main key). */
export interface ResolvedTarget extends IssuerTarget {
  readonly mainKey?: string | undefined;
}

export interface IssuerTargetRef {
  readonly connection: string;
  readonly appId?: string | undefined;
  readonly appName?: string | undefined;
  readonly consumerId?: string | undefined;
}

export interface StagedCredential {
  readonly id: string;
  readonly clientId: string;
  /** Undefined when Salesforce does not return it (the org setting for REST access to secrets is off). */
  readonly secret: SecretValue | undefined;
  readonly state: "active" | "rotated" | "expired";
}

export interface VerifyResult {
  readonly ok: boolean;
  readonly elapsedMs: number;
  readonly attempts: number;
  /** The error code of the last refusal when !ok. */
  readonly code?: string | undefined;
}

/** The provider side: Salesforce's staged-credentials API for one External Client App consumer. */
export interface CredentialIssuer {
  /** eca_app_id or eca_app_name (+ eca_consumer_id) → ids. SALESFORCE_NOT_FOUND, or POLICY_INVALID when an app has several consumers and none is named. */
  resolveTarget(ref: IssuerTargetRef): Promise<ResolvedTarget>;
  /** The consumer key Salesforce treats as main now. Idempotent; the adapter retries it. */
  readMainKey(target: IssuerTarget): Promise<string>;
  /** Zero or one staged set in practice. Idempotent; the adapter retries it. */
  listStaged(target: IssuerTarget): Promise<StagedCredential[]>;
  /** POST staged. Never retried: on an uncertain failure it throws with context.uncertain = true and the caller re-reads with listStaged. */
  createStaged(target: IssuerTarget): Promise<StagedCredential>;
  /**
   * DELETE staged/{id}. Idempotent: an id that is already gone counts as done. True when a record was deleted,
   * false when Salesforce had none with that id (a retried DELETE whose first answer was lost also says false).
   */
  deleteStaged(target: IssuerTarget, stagedId: string): Promise<boolean>;
  /** PATCH staged/{id} {"command":"rotate"}. Never retried: on uncertainty the caller compares readMainKey with the staged key. */
  promote(target: IssuerTarget, stagedId: string): Promise<void>;
  /** Can this pair log in (token + one authenticated call)? Polls through propagation delays up to timeoutMs. */
  verifyPair(
    connection: string,
    clientId: string,
    secret: SecretValue,
    timeoutMs: number,
  ): Promise<VerifyResult>;
  /**
   * One login attempt with the pair, to prove the old key dead. Dead only when Salesforce answers
   * invalid_client_id (the key is unknown); invalid_client (a known key with a wrong secret) and an issued
   * token are both "alive". Anything else (unavailable, rate limited) throws.
   */
  provePairDead(connection: string, clientId: string, secret: SecretValue): Promise<DeathProof>;
  /** The consumer key the rotator itself logs in with on this connection (for POLICY_SELF_ROTATION). */
  ownClientId(connection: string): Promise<string>;
  /** The 18-character id of the org this connection logs in to (consumer ownership is per org). */
  orgId(connection: string): Promise<string>;
}

/** What one login with an old pair showed. `answer`: the refusal code, or "token" when one was issued. */
export type DeathProof =
  | { readonly dead: true; readonly answer: "invalid_client_id" }
  | { readonly dead: false; readonly answer: string };

export interface StoredCredential {
  readonly version: number;
  /** The current version's fields; secret fields as SecretValue, others as given. */
  readonly data: Readonly<Record<string, string | SecretValue>>;
  readonly customMetadata: Readonly<Record<string, string>>;
}

/** The managed credential in KV v2. */
export interface CredentialStore {
  /** The current version; undefined when the entry or its current version is gone. */
  read(path: string): Promise<StoredCredential | undefined>;
  /** A new version holding the current fields merged with `fields`, only if the current version is `expectedVersion`. VAULT_CAS_CONFLICT otherwise: re-read, never blind-retry. */
  writeFields(
    path: string,
    fields: Readonly<Record<string, string | SecretValue>>,
    expectedVersion: number,
  ): Promise<{ version: number }>;
  /** Merge-patch custom_metadata (null removes a key); other teams' keys survive. Idempotent. */
  patchMetadata(path: string, patch: Readonly<Record<string, string | null>>): Promise<void>;
}

export interface Versioned<T> {
  readonly value: T;
  readonly version: number;
}

/** The rotator's own state under state_prefix: one journal record and one lease per credential path. */
export interface RotationStateStore {
  readJournal(path: string): Promise<Versioned<JournalRecord> | undefined>;
  /** cas = the version read (0 to create). VAULT_CAS_CONFLICT when someone else wrote in between. */
  writeJournal(path: string, record: JournalRecord, cas: number): Promise<number>;
  deleteJournal(path: string): Promise<void>;
  /** Credential paths that have a journal record (unfinished rotations). */
  listJournals(): AsyncIterable<string>;
  readLease(path: string): Promise<Versioned<Lease> | undefined>;
  /** Which credential path owns an external consumer (rotation-run.ts); undefined when none yet. */
  readOwner(key: string): Promise<Versioned<ConsumerOwner> | undefined>;
  /** cas = the version read (0 to create). VAULT_CAS_CONFLICT when someone else wrote in between. */
  writeOwner(key: string, owner: ConsumerOwner, cas: number): Promise<number>;
  writeLease(path: string, lease: Lease, cas: number): Promise<number>;
  deleteLease(path: string): Promise<void>;
}

/** Where audit events go. A failing sink never changes a rotation's outcome: the engine logs and counts. */
export interface AuditSink {
  emit(event: AuditEvent): Promise<void>;
}

/**
 * rotation.action_needed: the rotation waits for a person (activate in Setup, update the sender, …).
 * rotation.retrying: an emergency, or a rotation past promotion, started failing and backs off (once a rotation).
 */
type RotationNoticeKind =
  | "rotation.completed"
  | "rotation.failed"
  | "rotation.retrying"
  | "rotation.emergency"
  | "rotation.rolled_back"
  | "rotation.action_needed";

/** What a rotation tells chat: the facts as fields, and the words for people. Nothing is parsed out of `text`. */
export interface Notification {
  readonly kind: RotationNoticeKind;
  readonly path: string;
  readonly rotationId: string;
  readonly mode: RotationMode;
  readonly provider: string;
  /** The journal step the rotation was at when it spoke. */
  readonly step: string;
  /** With rotation.failed, rotation.retrying and rotation.rolled_back: the error code. */
  readonly errorCode?: string | undefined;
  /** Plain words for people; never a secret. */
  readonly text: string;
}

/** Chat. Deduplicated and retried by the adapter; failures never change a rotation's outcome. */
export interface Notifier {
  notify(n: Notification): Promise<void>;
}
