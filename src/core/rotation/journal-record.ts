// The rotation journal: one record per credential under rotation, written to Vault (state_prefix) with
// check-and-set before every irreversible Salesforce call, and holding the new pair from the moment Salesforce
// returns it. A crashed or killed process loses nothing: the next run reads the record and resumes from its
// step. Stored as a KV v2 entry of string fields (toJournalFields / parseJournalFields).
import { z } from "zod";
import type { ErrorCode } from "../errors.ts";
import { SecretValue } from "../secret-value.ts";
import { parseRfc3339 } from "../time.ts";
import {
  ROTATION_STATES,
  ROTATION_TRIGGERS,
  type RotationMode,
  type RotationStep,
  type RotationTrigger,
} from "./rotation-state.ts";

/** An error code as the engine writes it: upper case, digits and underscores. */
const ERROR_CODE_SHAPE = /^[A-Z][A-Z0-9_]+$/;

/** Which Salesforce consumer a credential is, resolved once per rotation and kept in the journal. */
export interface IssuerTarget {
  readonly connection: string;
  readonly appId: string; // 18 characters
  readonly consumerId: string;
}

export interface JournalRecord {
  readonly rotationId: string;
  readonly path: string;
  readonly provider: string;
  readonly mode: RotationMode;
  readonly trigger: RotationTrigger;
  readonly actor: string;
  readonly reason: string | undefined;
  readonly step: RotationStep;
  /** The lease fence this record was written under; a record from an older fence is stale. */
  readonly fence: number;
  readonly owner: string;
  /** Failed attempts of the current step; capped by rotation.max_attempts. */
  readonly attempts: number;
  readonly startedAt: Date;
  readonly updatedAt: Date;
  /** The credential's KV version when the rotation started (the version the publish must build on). */
  readonly kvVersionRead: number;
  readonly kvVersionPublished: number | undefined;
  readonly target: IssuerTarget | undefined;
  readonly oldClientId: string | undefined;
  readonly stagedId: string | undefined;
  readonly newClientId: string | undefined;
  readonly newSecret: SecretValue | undefined;
  /** Standard mode: when the soak ends and promotion may run. */
  readonly promoteAfter: Date | undefined;
  /** When Salesforce's main pair changed (emergency mode's outage starts here). */
  readonly promotedAt: Date | undefined;
  /** "CODE: message" of the last failure; never a secret. */
  readonly lastError: string | undefined;
  /** The error code of the last failure (lastError's code, kept apart so nobody reads it back out of the text). */
  readonly lastErrorCode?: ErrorCode | "UNCLASSIFIED" | undefined;
  /** When the new pair was published to KV (emergency mode's outage ends here). Optional: added later. */
  readonly publishedAt?: Date | undefined;
  /** With step `failed`: the step the rotation failed in, where an operator's flag resumes it. */
  readonly failedStep?: RotationStep | undefined;
  /**
   * provider=generated: keyed fingerprint of the secret that was current when the rotation began ("none" when
   * there was none), to tell our own KV writes from someone else's without keeping the old secret.
   */
  readonly oldSecretFingerprint?: string | undefined;
  /**
   * Where this rotation's secrets go, pinned when it starts: the configured connection or tenant name and its
   * origin. A later step refuses to send anything if the configuration no longer names that origin.
   */
  readonly destination?: string | undefined;
  readonly destinationOrigin?: string | undefined;
  /**
   * When a login with the old consumer key was refused with invalid_client_id (Salesforce no longer knows the
   * key): the proof that the old pair is dead, recorded before anything relies on it.
   */
  readonly oldKeyDeadAt?: Date | undefined;
  /**
   * The operator's flag (`rotate`, `rotate_reason`) as the metadata held it when the rotation was claimed. A flag
   * is cleared at the end only while it still holds these values: one set during the rotation (an emergency
   * after promotion, say) survives and is acted on next.
   */
  readonly flag?: string | undefined;
  readonly flagReason?: string | undefined;
  /** With step `rolling_back`: the step the rotation was rolled back from (`promoting` revokes first). */
  readonly rolledBackFrom?: RotationStep | undefined;
  /** An emergency asked for during a standard rotation: retire the old pair without waiting for retire_after. */
  readonly retireNow?: boolean | undefined;
  /**
   * After a failed attempt that will be retried: the earliest time the next attempt may run (exponential backoff
   * with jitter), so a Salesforce outage is not hammered every scan_interval. Cleared when a step succeeds.
   */
  readonly retryAfter?: Date | undefined;
  /** When the current run of failed attempts began: rotation.retry_budget counts from here. */
  readonly failingSince?: Date | undefined;
  /**
   * The rotation ended (rolled back or parked) because Salesforce stayed unreachable or rate-limited: an operator's
   * rotate flag is left set, so the request is carried out once Salesforce answers again.
   */
  readonly keepTrigger?: boolean | undefined;
  /**
   * soak_until=readers (pinned at publication, like the soak): the soak ends once every reader has moved to the
   * published version, not before promoteAfter and at the latest at promoteBy (soak_max), where onSoakMax says
   * whether to promote anyway or hold. Absent: the soak ends at promoteAfter (soak_until=time).
   */
  readonly promoteBy?: Date | undefined;
  readonly onSoakMax?: "promote" | "hold" | undefined;
  /** An operator ended a soak_until=readers soak (rotate=now, rotate PATH, the API, an emergency flag): who. */
  readonly soakEndedBy?: string | undefined;
  /** on_soak_max=hold: when soak_max ran out with readers lagging and the hold was announced (once). */
  readonly heldAt?: Date | undefined;
  /** What the promotion of a soak_until=readers rotation went by; recorded with the intent to promote. */
  readonly evidence?: PromotionEvidence | undefined;
}

/** Why a soak_until=readers rotation was promoted. */
const PROMOTION_DECISIONS = ["all-moved", "soak-max", "operator"] as const;
export type PromotionDecision = (typeof PROMOTION_DECISIONS)[number];

/** One reader as the evidence names it: its label (for people), the version of its latest read, and when. */
export interface EvidenceReader {
  readonly label: string;
  readonly version: number;
  readonly at: Date;
}

/**
 * The evidence one promotion went by. The lists are capped (EVIDENCE_LISTED readers each, labels cut) so the
 * journal and the audit event stay small; the counts are whole.
 */
export interface PromotionEvidence {
  readonly decision: PromotionDecision;
  /** The KV version whose readers were judged. */
  readonly publishedVersion: number;
  readonly movedCount: number;
  readonly laggingCount: number;
  readonly moved: readonly EvidenceReader[];
  readonly lagging: readonly EvidenceReader[];
  /** Why there was no evidence to go by: "no reader feed", "the reader feed failed (CODE)". */
  readonly missing?: string | undefined;
}

/** Readers listed per list in a recorded evidence, and the longest label kept. */
export const EVIDENCE_LISTED = 10;
export const EVIDENCE_LABEL_CHARS = 64;

const evidenceReaderSchema = z.strictObject({
  label: z.string().max(EVIDENCE_LABEL_CHARS * 2),
  version: z.number().int().nonnegative(),
  at: z.string().transform((s, ctx) => {
    const d = parseRfc3339(s);
    if (d === undefined) {
      ctx.addIssue({ code: "custom", message: "not an RFC 3339 time" });
      return z.NEVER;
    }
    return d;
  }),
});

const evidenceSchema = z.strictObject({
  decision: z.enum(PROMOTION_DECISIONS),
  published_version: z.number().int().nonnegative(),
  moved_count: z.number().int().nonnegative(),
  lagging_count: z.number().int().nonnegative(),
  moved: z.array(evidenceReaderSchema).max(EVIDENCE_LISTED),
  lagging: z.array(evidenceReaderSchema).max(EVIDENCE_LISTED),
  missing: z.string().max(200).optional(),
});

/** The evidence as one JSON string field of the journal. */
function evidenceJson(e: PromotionEvidence): string {
  const reader = (r: EvidenceReader) => ({ label: r.label, version: r.version, at: r.at.toISOString() });
  return JSON.stringify({
    decision: e.decision,
    published_version: e.publishedVersion,
    moved_count: e.movedCount,
    lagging_count: e.laggingCount,
    moved: e.moved.map(reader),
    lagging: e.lagging.map(reader),
    ...(e.missing === undefined ? {} : { missing: e.missing }),
  });
}

const evidenceField = z.string().transform((s, ctx): PromotionEvidence => {
  let raw: unknown;
  try {
    raw = JSON.parse(s);
  } catch {
    ctx.addIssue({ code: "custom", message: "not JSON" });
    return z.NEVER;
  }
  const parsed = evidenceSchema.safeParse(raw);
  if (!parsed.success) {
    ctx.addIssue({ code: "custom", message: "not a promotion evidence" });
    return z.NEVER;
  }
  const e = parsed.data;
  return {
    decision: e.decision,
    publishedVersion: e.published_version,
    movedCount: e.moved_count,
    laggingCount: e.lagging_count,
    moved: e.moved,
    lagging: e.lagging,
    ...(e.missing === undefined ? {} : { missing: e.missing }),
  };
});

const SECRET_FIELD = "new_secret";

/** The KV fields of a record: every value a string, the new secret as a SecretValue (revealed only by the store). */
export function toJournalFields(r: JournalRecord): Record<string, string | SecretValue> {
  const out: Record<string, string | SecretValue> = {
    rotation_id: r.rotationId,
    path: r.path,
    provider: r.provider,
    mode: r.mode,
    trigger: r.trigger,
    actor: r.actor,
    step: r.step,
    fence: String(r.fence),
    owner: r.owner,
    attempts: String(r.attempts),
    started_at: r.startedAt.toISOString(),
    updated_at: r.updatedAt.toISOString(),
    kv_version_read: String(r.kvVersionRead),
  };
  const optional: Record<string, string | undefined> = {
    reason: r.reason,
    kv_version_published: r.kvVersionPublished?.toString(),
    connection: r.target?.connection,
    app_id: r.target?.appId,
    consumer_id: r.target?.consumerId,
    old_client_id: r.oldClientId,
    staged_id: r.stagedId,
    new_client_id: r.newClientId,
    promote_after: r.promoteAfter?.toISOString(),
    promoted_at: r.promotedAt?.toISOString(),
    last_error: r.lastError,
    last_error_code: r.lastErrorCode,
    published_at: r.publishedAt?.toISOString(),
    failed_step: r.failedStep,
    old_secret_fingerprint: r.oldSecretFingerprint,
    destination: r.destination,
    destination_origin: r.destinationOrigin,
    old_key_dead_at: r.oldKeyDeadAt?.toISOString(),
    flag: r.flag,
    flag_reason: r.flagReason,
    rolled_back_from: r.rolledBackFrom,
    retire_now: r.retireNow === true ? "true" : undefined,
    retry_after: r.retryAfter?.toISOString(),
    failing_since: r.failingSince?.toISOString(),
    keep_trigger: r.keepTrigger === true ? "true" : undefined,
    promote_by: r.promoteBy?.toISOString(),
    on_soak_max: r.onSoakMax,
    soak_ended_by: r.soakEndedBy,
    held_at: r.heldAt?.toISOString(),
    promotion_evidence: r.evidence === undefined ? undefined : evidenceJson(r.evidence),
  };
  for (const [k, v] of Object.entries(optional)) if (v !== undefined) out[k] = v;
  if (r.newSecret !== undefined) out[SECRET_FIELD] = r.newSecret;
  return out;
}

const text = z.string().min(1);
const count = z
  .string()
  .regex(/^\d{1,12}$/)
  .transform(Number);
const time = z.string().transform((s, ctx) => {
  const d = parseRfc3339(s);
  if (d === undefined) {
    ctx.addIssue({ code: "custom", message: "not an RFC 3339 time" });
    return z.NEVER;
  }
  return d;
});

const JournalFieldsSchema = z.looseObject({
  rotation_id: text,
  path: text,
  provider: text,
  mode: z.enum(["standard", "emergency"]),
  trigger: z.enum(ROTATION_TRIGGERS),
  actor: text,
  step: z.enum(ROTATION_STATES),
  fence: count,
  owner: text,
  attempts: count,
  started_at: time,
  updated_at: time,
  kv_version_read: count,
  reason: z.string().optional(),
  kv_version_published: count.optional(),
  connection: text.optional(),
  app_id: text.optional(),
  consumer_id: text.optional(),
  old_client_id: text.optional(),
  staged_id: text.optional(),
  new_client_id: text.optional(),
  new_secret: text.optional(),
  promote_after: time.optional(),
  promoted_at: time.optional(),
  last_error: z.string().optional(),
  last_error_code: z.string().regex(ERROR_CODE_SHAPE).optional(),
  published_at: time.optional(),
  failed_step: z.enum(ROTATION_STATES).optional(),
  old_secret_fingerprint: text.optional(),
  destination: text.optional(),
  destination_origin: text.optional(),
  old_key_dead_at: time.optional(),
  flag: text.optional(),
  flag_reason: z.string().optional(),
  rolled_back_from: z.enum(ROTATION_STATES).optional(),
  retire_now: z.literal("true").optional(),
  retry_after: time.optional(),
  failing_since: time.optional(),
  keep_trigger: z.literal("true").optional(),
  promote_by: time.optional(),
  on_soak_max: z.enum(["promote", "hold"]).optional(),
  soak_ended_by: text.optional(),
  held_at: time.optional(),
  promotion_evidence: evidenceField.optional(),
});

/** Parses what the store read back. A record that does not parse is reported, never guessed at. */
export function parseJournalFields(
  data: Readonly<Record<string, unknown>>,
): { ok: true; record: JournalRecord } | { ok: false; reason: string } {
  const parsed = JournalFieldsSchema.safeParse(data);
  if (!parsed.success) {
    // Issue paths only: a value could be the secret.
    const keys = [...new Set(parsed.error.issues.map((i) => i.path.join(".") || "(record)"))];
    return { ok: false, reason: `journal record has bad or missing fields: ${keys.join(", ")}` };
  }
  const f = parsed.data;
  const target =
    f.connection !== undefined && f.app_id !== undefined && f.consumer_id !== undefined
      ? { connection: f.connection, appId: f.app_id, consumerId: f.consumer_id }
      : undefined;
  return {
    ok: true,
    record: {
      rotationId: f.rotation_id,
      path: f.path,
      provider: f.provider,
      mode: f.mode,
      trigger: f.trigger,
      actor: f.actor,
      reason: f.reason,
      step: f.step,
      fence: f.fence,
      owner: f.owner,
      attempts: f.attempts,
      startedAt: f.started_at,
      updatedAt: f.updated_at,
      kvVersionRead: f.kv_version_read,
      kvVersionPublished: f.kv_version_published,
      target,
      oldClientId: f.old_client_id,
      stagedId: f.staged_id,
      newClientId: f.new_client_id,
      newSecret: f.new_secret === undefined ? undefined : SecretValue.of(f.new_secret),
      promoteAfter: f.promote_after,
      promotedAt: f.promoted_at,
      lastError: f.last_error,
      lastErrorCode: (f.last_error_code ?? legacyErrorCode(f.last_error)) as
        | ErrorCode
        | "UNCLASSIFIED"
        | undefined,
      publishedAt: f.published_at,
      failedStep: f.failed_step,
      oldSecretFingerprint: f.old_secret_fingerprint,
      destination: f.destination,
      destinationOrigin: f.destination_origin,
      oldKeyDeadAt: f.old_key_dead_at,
      flag: f.flag,
      flagReason: f.flag_reason,
      rolledBackFrom: f.rolled_back_from,
      retireNow: f.retire_now === "true" ? true : undefined,
      retryAfter: f.retry_after,
      failingSince: f.failing_since,
      keepTrigger: f.keep_trigger === "true" ? true : undefined,
      ...(f.promote_by === undefined ? {} : { promoteBy: f.promote_by }),
      ...(f.on_soak_max === undefined ? {} : { onSoakMax: f.on_soak_max }),
      ...(f.soak_ended_by === undefined ? {} : { soakEndedBy: f.soak_ended_by }),
      ...(f.held_at === undefined ? {} : { heldAt: f.held_at }),
      ...(f.promotion_evidence === undefined ? {} : { evidence: f.promotion_evidence }),
    },
  };
}

/** Journal fields a step may change; the run fills in fence, owner, updatedAt and attempts. */
export type JournalChanges = Partial<
  Omit<JournalRecord, "rotationId" | "path" | "fence" | "owner" | "updatedAt" | "step">
>;

/**
 * A journal written before last_error_code existed (a rotation in flight across an upgrade) has the code only
 * at the start of last_error, where the engine always put it ("CODE: message").
 */
function legacyErrorCode(line: string | undefined): string | undefined {
  const colon = line?.indexOf(": ") ?? -1;
  const head = line !== undefined && colon > 0 ? line.slice(0, colon) : undefined;
  return head !== undefined && ERROR_CODE_SHAPE.test(head) ? head : undefined;
}
