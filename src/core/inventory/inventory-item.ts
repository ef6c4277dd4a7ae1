// One row of the inventory: what `scan` lists, what the expiry report groups, what metrics count.

import type { DeadlineBasis, PeriodSource } from "./deadline.ts";
import type {
  CredentialType,
  Risk,
  RotateWindow,
  RotationState,
  SoakUntil,
  TriggerMode,
} from "./policy-fields.ts";

/**
 * The closed set of states, in precedence order: when several apply, the first one wins.
 * - unmanaged: no `provider` key; listed, never written to.
 * - invalid: metadata that cannot be interpreted, a deleted current version, or an unreadable entry.
 * - failed: rotation_state=failed; a person must look (last_rotation_error says why).
 * - in_progress / awaiting_promotion: a rotation is under way (see `stuck`); it will fix any deadline.
 * - flagged: an operator set `rotate`; the rotator has not picked it up yet.
 * - overdue: the deadline has passed (now >= deadline). Wins over unverified: the older problem is worse.
 * - unverified: last_rotated is set but rotation_verified_at is missing or older than it.
 * - due_soon: inside the warning window (deadline - window <= now < deadline).
 * - ok: none of the above.
 */
export const CREDENTIAL_STATES = [
  "unmanaged",
  "invalid",
  "failed",
  "in_progress",
  "awaiting_promotion",
  "flagged",
  "overdue",
  "unverified",
  "due_soon",
  "ok",
] as const;
export type CredentialState = (typeof CREDENTIAL_STATES)[number];

export interface InventoryItem {
  /** KV path relative to the mount, e.g. "api-credentials/acme/prod". */
  readonly path: string;
  readonly state: CredentialState;
  /** Short, safe to print (never a long or odd metadata value). Always set for invalid; set for most states. */
  readonly reason?: string | undefined;
  /** One of the registered providers' names. */
  readonly provider?: string | undefined;
  readonly credentialType?: CredentialType | undefined;
  readonly risk?: Risk | undefined;
  readonly deadline?: Date | undefined;
  readonly deadlineBasis?: DeadlineBasis | undefined;
  readonly periodMs?: number | undefined;
  readonly periodSource?: PeriodSource | undefined;
  readonly cappedByExpiry?: boolean | undefined;
  /** Whole seconds from the classification time to the deadline; negative when overdue. */
  readonly secondsToDeadline?: number | undefined;
  readonly warningWindowMs?: number | undefined;
  readonly lastRotated?: Date | undefined;
  readonly verifiedAt?: Date | undefined;
  readonly rotationState?: RotationState | undefined;
  /** last_rotation_error as written by the rotator (free text, at most 512 characters). */
  readonly lastError?: string | undefined;
  readonly autoRotate?: boolean | undefined;
  /** rotate_window: when scheduled rotations may start (UTC); undefined means any time. */
  readonly rotateWindow?: RotateWindow | undefined;
  readonly consumers: readonly string[];
  readonly contact?: string | undefined;
  /** sf_connection: which configured Salesforce connection rotates it (undefined: the only one). */
  readonly sfConnection?: string | undefined;
  /** sfmc_tenant: which configured Marketing Cloud tenant checks its secrets (undefined: the only one). */
  readonly sfmcTenant?: string | undefined;
  readonly trigger?: { readonly mode: TriggerMode; readonly reason?: string | undefined } | undefined;
  /** in_progress or awaiting_promotion for longer than expected (see classifyEntry), or with no journal here. */
  readonly stuck: boolean;
  /**
   * rotation_state is in_progress or awaiting_promotion, yet this rotator has no journal for it: another
   * deployment (another state_prefix or config) is rotating it, or a state was left behind. Set only where the
   * journals could be listed (markRotationsWithoutJournal); the rotator starts no rotation of it meanwhile.
   */
  readonly noJournalHere?: boolean | undefined;
  readonly currentVersion?: number | undefined;
  readonly updatedTime?: Date | undefined;
  /** When the current KV version was written (from metadata); provider=manual records new values by it. */
  readonly versionCreated?: Date | undefined;
  /** expires_at: a hard expiry the provider enforces. */
  readonly expiresAt?: Date | undefined;
  /** What ends a standard soak (soak_until, else rotation.soak_until); set for items with a deadline. */
  readonly soakUntil?: SoakUntil | undefined;
  /** Who read it in readers.window (the reader feed's shared entries); undefined: no feed, or unreadable. */
  readonly readers?: ReadersSummary | undefined;
}

/** One reader's latest read of a credential, for people. */
export interface ReaderRow {
  /** The reader's label (display name, with the AppRole role or service account in brackets). */
  readonly label: string;
  /** The KV version the latest read returned. */
  readonly version: number;
  /**
   * When, in ms since the epoch: a number, not a Date, because every listed reader of every credential is held
   * between scans (50,000 rows at 10,000 credentials with five readers each; a Date costs three times as much).
   */
  readonly lastReadMs: number;
  /** The version read is the credential's current KV version (or later). */
  readonly current: boolean;
  /** The label matches a name in the credential's `consumers` (see consumerMatchesReader). */
  readonly declared: boolean;
}

/** A credential's readers in the window. */
export interface ReadersSummary {
  /** Readers seen in the window. */
  readonly total: number;
  /** Of those, the ones whose latest read returned the current version. */
  readonly onCurrent: number;
  /** At most READERS_LISTED of them: those on an old version first (latest read first), then by label. */
  readonly listed: readonly ReaderRow[];
  /** Declared consumers that match no reader seen in the window. */
  readonly unseenConsumers: readonly string[];
}
