// Promotion by evidence: the soak of a standard rotation with soak_until=readers. Publication pins the rule in the
// journal (promoteBy = published + soak_max, onSoakMax); the soak then ends
//   - never before promoteAfter (the minimum `soak`),
//   - as soon as every reader seen in the window before publication has read the published version (all-moved),
//   - at promoteBy: on_soak_max=promote promotes and names the laggards (soak-max); hold does not promote, says so
//     once (chat and audit) and waits for an operator (or for the laggards to move),
//   - at once when an operator ends it (rotate=now, rotate PATH, the API, an emergency flag).
// Missing evidence (no reader feed, or the feed failing) never promotes: the soak runs to soak_max and on_soak_max
// decides, saying why. The verdict needs no lease and writes nothing, so resume() judges a waiting journal without
// claiming it; only a promotion, or the one-time hold notice, goes on under the lease.

import { toDisplayText } from "../display-text.ts";
import { classifyError } from "../errors.ts";
import type { CredentialPolicy } from "../inventory/credential-policy.ts";
import { DEFAULT_READERS_WINDOW_MS, judgeReaders, type ReaderSeen } from "../readers/readers.ts";
import { formatDuration, HOUR_MS } from "../time.ts";
import type { RotationEngineDeps, RotationEngineSettings, RotationRun } from "./engine-deps.ts";
import {
  EVIDENCE_LABEL_CHARS,
  EVIDENCE_LISTED,
  type EvidenceReader,
  type JournalChanges,
  type JournalRecord,
  type PromotionDecision,
  type PromotionEvidence,
} from "./journal-record.ts";
import type { AuditEvidence } from "./rotation-state.ts";

/** How often a soak waiting for readers looks again (one ReaderEvidence read, no lease, no write). */
const READERS_RECHECK_MS = 60_000;
/** rotation.soak_max's default. */
const DEFAULT_SOAK_MAX_MS = 24 * HOUR_MS;
/** Laggards named in one line of chat or outcome text (the journal and the audit keep EVIDENCE_LISTED). */
const NAMED = 3;

/**
 * The soak rule a standard publication pins in the journal: nothing for soak_until=time; for readers, the
 * deadline (soak_max, never shorter than the soak) and what happens there.
 */
export function soakPins(
  policy: CredentialPolicy | undefined,
  settings: RotationEngineSettings,
  publishedAt: Date,
  soakMs: number,
): JournalChanges {
  if ((policy?.soakUntil ?? settings.soakUntil ?? "time") !== "readers") return {};
  const maxMs = Math.max(policy?.soakMaxMs ?? settings.soakMaxMs ?? DEFAULT_SOAK_MAX_MS, soakMs);
  return {
    promoteBy: new Date(publishedAt.getTime() + maxMs),
    onSoakMax: policy?.onSoakMax ?? settings.onSoakMax ?? "promote",
  };
}

/** Dry run: the soak a soak_until=readers credential would wait, in words; undefined for soak_until=time. */
export function readersPlanText(
  policy: CredentialPolicy,
  deps: RotationEngineDeps,
  soakMs: number,
): string | undefined {
  const pins = soakPins(policy, deps.settings, new Date(0), soakMs);
  if (pins.promoteBy === undefined) return undefined;
  const maxMs = pins.promoteBy.getTime();
  const feed =
    deps.readers === undefined ? " (no reader feed is configured: it waits the whole soak_max)" : "";
  return (
    `soak: until every reader has moved to the new pair (soak_until=readers), at least ${formatDuration(soakMs)}, ` +
    `at most ${formatDuration(maxMs)}; then on_soak_max=${pins.onSoakMax ?? "promote"}${feed}`
  );
}

/** True for a journal whose soak is soak_until=readers and still running. */
export function soaksForReaders(r: JournalRecord): boolean {
  return r.mode === "standard" && r.step === "published" && r.promoteBy !== undefined;
}

export type ReadersVerdict =
  | {
      readonly kind: "wait";
      readonly waiting: "soak" | "readers";
      readonly until: Date;
      readonly detail?: string;
    }
  | { readonly kind: "promote"; readonly evidence: PromotionEvidence }
  | { readonly kind: "hold"; readonly evidence: PromotionEvidence; readonly until: Date };

/** What the soak of a soak_until=readers journal does now. Reads the reader feed only; writes nothing. */
export async function readersVerdict(r: JournalRecord, deps: RotationEngineDeps): Promise<ReadersVerdict> {
  const now = deps.clock.now();
  if (r.soakEndedBy !== undefined) {
    return { kind: "promote", evidence: evidenceOf("operator", r, await look(r, deps)) };
  }
  if (r.promoteAfter !== undefined && now < r.promoteAfter) {
    return { kind: "wait", waiting: "soak", until: r.promoteAfter };
  }
  const seen = await look(r, deps);
  if (!("missing" in seen) && seen.lagging.length === 0) {
    return { kind: "promote", evidence: evidenceOf("all-moved", r, seen) };
  }
  const promoteBy = r.promoteBy ?? now;
  const next = new Date(now.getTime() + READERS_RECHECK_MS);
  if (now >= promoteBy) {
    const evidence = evidenceOf("soak-max", r, seen);
    return r.onSoakMax === "hold" ? { kind: "hold", evidence, until: next } : { kind: "promote", evidence };
  }
  const until = next < promoteBy ? next : promoteBy;
  return {
    kind: "wait",
    waiting: "readers",
    until,
    detail: waitingDetail(evidenceOf("soak-max", r, seen), now),
  };
}

type Look = { moved: ReaderSeen[]; lagging: ReaderSeen[] } | { missing: string };

/** The readers of the published version, or why there is no evidence. A failing feed is only a reason to wait. */
async function look(r: JournalRecord, deps: RotationEngineDeps): Promise<Look> {
  const feed = deps.readers;
  if (feed === undefined) return { missing: "no reader feed" };
  const version = r.kvVersionPublished;
  const publishedAt = r.publishedAt;
  if (version === undefined || publishedAt === undefined) {
    return { missing: "the journal does not say what was published" };
  }
  const windowMs = deps.settings.readersWindowMs ?? DEFAULT_READERS_WINDOW_MS;
  let seen: readonly ReaderSeen[];
  try {
    seen = await feed.readersOf(r.path, new Date(publishedAt.getTime() - windowMs));
  } catch (err) {
    return { missing: `the reader feed failed (${classifyError(err)})` };
  }
  const j = judgeReaders(seen, version, publishedAt, windowMs);
  return { moved: [...j.moved], lagging: [...j.lagging] };
}

function evidenceOf(decision: PromotionDecision, r: JournalRecord, seen: Look): PromotionEvidence {
  const publishedVersion = r.kvVersionPublished ?? 0;
  if ("missing" in seen) {
    return {
      decision,
      publishedVersion,
      movedCount: 0,
      laggingCount: 0,
      moved: [],
      lagging: [],
      missing: seen.missing,
    };
  }
  // The laggards that matter most come first: the ones read most recently are the ones still in use.
  const lagging = [...seen.lagging].sort((a, b) => b.at.getTime() - a.at.getTime());
  return {
    decision,
    publishedVersion,
    movedCount: seen.moved.length,
    laggingCount: seen.lagging.length,
    moved: seen.moved.slice(0, EVIDENCE_LISTED).map(kept),
    lagging: lagging.slice(0, EVIDENCE_LISTED).map(kept),
  };
}

function kept(s: ReaderSeen): EvidenceReader {
  return { label: labelText(s.label), version: s.version, at: s.at };
}

/** A reader's label for people: one line, no control or bidi characters, cut short. */
function labelText(label: string): string {
  return toDisplayText(label.replace(/\s+/g, " ").trim(), EVIDENCE_LABEL_CHARS) || "(no name)";
}

/** What the provider calls its credential, in "on the new pair". */
function nounOf(provider: string): string {
  return provider === "generated" ? "secret" : "pair";
}

/** "3 of 4 readers on the new pair (v8)". */
function tally(e: PromotionEvidence, noun: string): string {
  const total = e.movedCount + e.laggingCount;
  if (e.missing !== undefined) return `no reader evidence (${e.missing})`;
  if (total === 0) return "no reader seen in the window";
  return `${e.movedCount} of ${total} reader${total === 1 ? "" : "s"} on the new ${noun} (v${e.publishedVersion})`;
}

/** "token-billing-sync, last read v7 2h ago; … and 2 more". */
function laggardsText(e: PromotionEvidence, now: Date): string {
  const named = e.lagging
    .slice(0, NAMED)
    .map(
      (l) =>
        `${l.label}, last read v${l.version} ${formatDuration(Math.max(0, now.getTime() - l.at.getTime()))} ago`,
    );
  const more = e.laggingCount - named.length;
  return named.join("; ") + (more > 0 ? ` and ${more} more` : "");
}

/** The waiting description: "waiting for readers: 3 of 4 moved; waiting for billing-sync, last read v7 5m ago". */
function waitingDetail(e: PromotionEvidence, now: Date): string {
  if (e.missing !== undefined) return `waiting for readers: ${e.missing}; no promotion before soak_max`;
  const total = e.movedCount + e.laggingCount;
  return `waiting for readers: ${e.movedCount} of ${total} moved; waiting for ${laggardsText(e, now)}`;
}

/** One sentence for chat and people: what the promotion went by (`provider`: the journal's, for its words). */
export function evidenceText(e: PromotionEvidence, now: Date, provider: string, by?: string): string {
  const laggards = e.laggingCount > 0 ? laggardsText(e, now) : undefined;
  const noun = nounOf(provider);
  switch (e.decision) {
    case "all-moved":
      return `${tally(e, noun)}; promoted as soon as every reader had moved`;
    case "operator":
      return `${tally(e, noun)}; promoted when ${by ?? "an operator"} ended the soak${laggards === undefined ? "" : `, still on the old ${noun}: ${laggards}`}`;
    case "soak-max":
      return laggards === undefined
        ? `${tally(e, noun)}; promoted at soak_max`
        : `${tally(e, noun)}; promoted at soak_max without ${laggards}`;
  }
}

/** The hold's one notice: who lags and what to do. */
function holdText(r: JournalRecord, e: PromotionEvidence, now: Date): string {
  const who =
    e.missing !== undefined
      ? `there is no reader evidence (${e.missing})`
      : `${tally(e, nounOf(r.provider))}; still on the old ${nounOf(r.provider)}: ${laggardsText(e, now)}`;
  return (
    `Rotation of ${r.path} is held at soak_max (on_soak_max=hold): ${who}. Both still work and nothing is ` +
    "promoted. Make the laggards re-read KV and it promotes once they have, or set rotate=now to promote now " +
    "(or roll back with eca-rotator rollback)."
  );
}

/** The evidence as an audit event carries it (times as RFC 3339). */
export function auditEvidence(e: PromotionEvidence | undefined): AuditEvidence | undefined {
  if (e === undefined) return undefined;
  const reader = (l: EvidenceReader) => ({ label: l.label, version: l.version, at: l.at.toISOString() });
  return {
    decision: e.decision,
    publishedVersion: e.publishedVersion,
    movedCount: e.movedCount,
    laggingCount: e.laggingCount,
    moved: e.moved.map(reader),
    lagging: e.lagging.map(reader),
    ...(e.missing === undefined ? {} : { missing: e.missing }),
  };
}

/**
 * The soak step's part for a soak_until=readers journal, under the lease: a wait (the lease is released), or the
 * evidence to promote with. A hold is announced once (heldAt in the journal, an audit event, one chat notice)
 * and then only waited out.
 */
export async function readersSoak(
  run: RotationRun,
): Promise<
  | { readonly wait: { kind: "wait"; waiting: "soak" | "readers"; until: Date; detail?: string } }
  | { readonly evidence: PromotionEvidence }
> {
  const v = await readersVerdict(run.record, run.deps);
  const now = run.now();
  if (v.kind === "promote") return { evidence: v.evidence };
  if (v.kind === "wait") return { wait: v };
  if (run.record.heldAt === undefined) {
    await run.update({ heldAt: now });
    await run.emit("rotation.held", { evidence: auditEvidence(v.evidence) });
    await run.notify("rotation.action_needed", holdText(run.record, v.evidence, now));
  }
  return { wait: { kind: "wait", waiting: "readers", until: v.until, detail: heldDetail(v.evidence, now) } };
}

export function heldDetail(e: PromotionEvidence, now: Date): string {
  return `held at soak_max (on_soak_max=hold) until an operator sets rotate=now; ${waitingDetail(e, now)}`;
}

/**
 * After a soak-max promotion that left readers behind (or had no evidence): one chat notice naming them, since
 * they break when the old pair is retired.
 */
export async function tellLaggards(run: RotationRun, e: PromotionEvidence | undefined): Promise<void> {
  if (e?.decision !== "soak-max" || (e.laggingCount === 0 && e.missing === undefined)) return;
  await run.notify(
    "rotation.action_needed",
    `Rotation of ${run.path}: ${evidenceText(e, run.now(), run.record.provider)}. Readers still on the old ` +
      `${nounOf(run.record.provider)} fail once it is retired: ` +
      "make them re-read KV now.",
  );
}
