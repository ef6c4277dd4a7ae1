import { describe, expect, it } from "vitest";
import {
  type JournalRecord,
  parseJournalFields,
  toJournalFields,
} from "../../../src/core/rotation/journal-record.ts";
import { SecretValue } from "../../../src/core/secret-value.ts";

const CANARY = "test-secret-canary-journal";

const record: JournalRecord = {
  rotationId: "rot-1",
  path: "api-credentials/crm",
  provider: "salesforce-eca",
  mode: "standard",
  trigger: "flag",
  actor: "operator-flag",
  reason: "INC-9",
  step: "staged",
  fence: 3,
  owner: "replica-a",
  attempts: 0,
  startedAt: new Date("2026-03-01T10:00:00.000Z"),
  updatedAt: new Date("2026-03-01T10:00:05.000Z"),
  kvVersionRead: 7,
  kvVersionPublished: undefined,
  target: { connection: "prod", appId: "0xIWt0000003lOzMAI", consumerId: "888Wt00000001IAAA" },
  oldClientId: "3MVGold",
  stagedId: "0ugWt00000000w5",
  newClientId: "3MVGnew",
  newSecret: SecretValue.of(CANARY),
  promoteAfter: undefined,
  promotedAt: undefined,
  lastError: undefined,
};

/** What the store does: reveal secrets into plain strings for Vault. */
function asStored(fields: Record<string, string | SecretValue>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(fields).map(([k, v]) => [k, typeof v === "string" ? v : v.reveal()]),
  );
}

describe("journal record fields", () => {
  it("round-trips through the KV representation, secret included", () => {
    const parsed = parseJournalFields(asStored(toJournalFields(record)));
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    expect(parsed.record.newSecret?.reveal()).toBe(CANARY);
    expect({ ...parsed.record, newSecret: undefined }).toEqual({ ...record, newSecret: undefined });
  });

  it("keeps the secret a SecretValue in the fields, so serialising them never shows it", () => {
    expect(JSON.stringify(toJournalFields(record))).not.toContain(CANARY);
  });

  it("omits fields that are not set", () => {
    const fields = toJournalFields({
      ...record,
      stagedId: undefined,
      newSecret: undefined,
      reason: undefined,
    });
    expect(Object.keys(fields)).not.toContain("staged_id");
    expect(Object.keys(fields)).not.toContain("new_secret");
    expect(Object.keys(fields)).not.toContain("reason");
  });

  it("round-trips the publication time and the step a failed rotation stopped at", () => {
    const failed: JournalRecord = {
      ...record,
      step: "failed",
      failedStep: "promoting",
      publishedAt: new Date("2026-03-01T10:01:00.000Z"),
    };
    const fields = asStored(toJournalFields(failed));
    expect(fields).toMatchObject({ failed_step: "promoting", published_at: "2026-03-01T10:01:00.000Z" });
    const parsed = parseJournalFields(fields);
    expect(parsed.ok && parsed.record.failedStep).toBe("promoting");
    expect(parsed.ok && parsed.record.publishedAt?.toISOString()).toBe("2026-03-01T10:01:00.000Z");
    expect(parseJournalFields({ ...fields, failed_step: "nowhere" })).toMatchObject({ ok: false });
  });

  it("keeps the last failure's error code in its own field, and reads it from an older journal's line", () => {
    const failed: JournalRecord = {
      ...record,
      step: "failed",
      failedStep: "promoting",
      lastError: "SALESFORCE_UNAVAILABLE: PAYMENTS_EU: the org answered 503",
      lastErrorCode: "SALESFORCE_UNAVAILABLE",
    };
    const fields = asStored(toJournalFields(failed));
    expect(fields).toMatchObject({ last_error_code: "SALESFORCE_UNAVAILABLE" });
    const parsed = parseJournalFields(fields);
    expect(parsed.ok && parsed.record.lastErrorCode).toBe("SALESFORCE_UNAVAILABLE");
    // A journal written before the field existed: the code is the line's head, and only its head.
    const { last_error_code: _, ...older } = fields;
    const legacy = parseJournalFields(older);
    expect(legacy.ok && legacy.record.lastErrorCode).toBe("SALESFORCE_UNAVAILABLE");
    const prose = parseJournalFields({ ...older, last_error: "rolled back by an operator: PAYMENTS_EU: x" });
    expect(prose.ok && prose.record.lastErrorCode).toBeUndefined();
    expect(parseJournalFields({ ...fields, last_error_code: "not a code" })).toMatchObject({ ok: false });
  });

  it("round-trips the backoff of a failed attempt and the outage's keep-the-flag mark", () => {
    const backing: JournalRecord = {
      ...record,
      attempts: 2,
      retryAfter: new Date("2026-03-01T10:05:00.000Z"),
      failingSince: new Date("2026-03-01T10:02:00.000Z"),
      keepTrigger: true,
    };
    const fields = asStored(toJournalFields(backing));
    expect(fields).toMatchObject({
      retry_after: "2026-03-01T10:05:00.000Z",
      failing_since: "2026-03-01T10:02:00.000Z",
      keep_trigger: "true",
    });
    const parsed = parseJournalFields(fields);
    expect(parsed.ok && parsed.record.retryAfter?.toISOString()).toBe("2026-03-01T10:05:00.000Z");
    expect(parsed.ok && parsed.record.failingSince?.toISOString()).toBe("2026-03-01T10:02:00.000Z");
    expect(parsed.ok && parsed.record.keepTrigger).toBe(true);
    expect(Object.keys(asStored(toJournalFields(record)))).not.toContain("keep_trigger");
    expect(parseJournalFields({ ...fields, retry_after: "soon" })).toMatchObject({ ok: false });
  });

  it("reports a damaged record by field names only, never by value", () => {
    const stored = asStored(toJournalFields(record));
    const parsed = parseJournalFields({ ...stored, step: CANARY, fence: "three", started_at: "yesterday" });
    expect(parsed).toEqual({
      ok: false,
      reason: "journal record has bad or missing fields: step, fence, started_at",
    });
    expect(parseJournalFields({})).toMatchObject({ ok: false });
  });

  it("round-trips the soak_until=readers fields and the promotion evidence", () => {
    const readers: JournalRecord = {
      ...record,
      step: "promoting",
      kvVersionPublished: 8,
      publishedAt: new Date("2026-03-01T10:01:00.000Z"),
      promoteAfter: new Date("2026-03-01T10:16:00.000Z"),
      promoteBy: new Date("2026-03-02T10:01:00.000Z"),
      onSoakMax: "hold",
      soakEndedBy: "cli",
      heldAt: new Date("2026-03-02T10:01:30.000Z"),
      evidence: {
        decision: "operator",
        publishedVersion: 8,
        movedCount: 3,
        laggingCount: 1,
        moved: [
          { label: "crm-sync", version: 8, at: new Date("2026-03-01T10:05:00.000Z") },
          { label: "etl (nightly)", version: 9, at: new Date("2026-03-01T11:00:00.000Z") },
          { label: "web", version: 8, at: new Date("2026-03-01T10:02:00.000Z") },
        ],
        lagging: [{ label: "token-billing-sync", version: 7, at: new Date("2026-03-02T08:00:00.000Z") }],
      },
    };
    const fields = asStored(toJournalFields(readers));
    expect(fields).toMatchObject({
      promote_by: "2026-03-02T10:01:00.000Z",
      on_soak_max: "hold",
      soak_ended_by: "cli",
      held_at: "2026-03-02T10:01:30.000Z",
    });
    expect(JSON.parse(fields["promotion_evidence"] ?? "")).toMatchObject({
      decision: "operator",
      published_version: 8,
      lagging: [{ label: "token-billing-sync", version: 7, at: "2026-03-02T08:00:00.000Z" }],
    });
    const parsed = parseJournalFields(fields);
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    expect({ ...parsed.record, newSecret: undefined }).toEqual({ ...readers, newSecret: undefined });

    // Evidence with no feed behind it says why.
    const missing = {
      ...readers,
      evidence: {
        ...readers.evidence!,
        decision: "soak-max" as const,
        moved: [],
        lagging: [],
        movedCount: 0,
        laggingCount: 0,
        missing: "no reader feed",
      },
    };
    const again = parseJournalFields(asStored(toJournalFields(missing)));
    expect(again.ok && again.record.evidence).toEqual(missing.evidence);
  });

  it("reads a journal written before promotion by evidence (no readers fields) as soak_until=time", () => {
    const fields = asStored(toJournalFields({ ...record, step: "published", kvVersionPublished: 8 }));
    for (const key of ["promote_by", "on_soak_max", "soak_ended_by", "held_at", "promotion_evidence"]) {
      expect(Object.keys(fields)).not.toContain(key);
    }
    const parsed = parseJournalFields(fields);
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    expect(parsed.record.promoteBy).toBeUndefined();
    expect(parsed.record.evidence).toBeUndefined();
    expect("promoteBy" in parsed.record).toBe(false);
  });

  it("refuses damaged evidence by its field name", () => {
    const fields = asStored(toJournalFields(record));
    for (const bad of [
      "{",
      '{"decision":"guess"}',
      JSON.stringify({
        decision: "all-moved",
        published_version: 8,
        moved_count: 0,
        lagging_count: 0,
        moved: [],
        lagging: [],
        extra: CANARY,
      }),
    ]) {
      expect(parseJournalFields({ ...fields, promotion_evidence: bad })).toEqual({
        ok: false,
        reason: "journal record has bad or missing fields: promotion_evidence",
      });
    }
  });
});
