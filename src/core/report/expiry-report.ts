// The weekly expiry report as a model (formatting lives in src/report). Every credential lands in exactly
// one section: a stuck rotation is listed under "stuck" rather than "in progress", so counts add up.

import {
  CREDENTIAL_STATES,
  type CredentialState,
  type InventoryItem,
  type ReaderRow,
} from "../inventory/inventory-item.ts";

/** Section ids in report order: the order, then the calmer ones, then what needs nothing. */
export const REPORT_SECTION_IDS = [
  "overdue",
  "due_soon",
  "failed",
  "unverified",
  "stuck",
  "invalid",
  "flagged",
  "in_progress",
  "ok",
  "unmanaged",
] as const;
export type ReportSectionId = (typeof REPORT_SECTION_IDS)[number];

const SECTION_TITLES: Readonly<Record<ReportSectionId, string>> = {
  overdue: "Overdue",
  due_soon: "Due soon",
  failed: "Failed rotations",
  unverified: "Rotated but not verified",
  stuck: "Stuck rotations",
  invalid: "Invalid or unreadable",
  flagged: "Flagged for rotation",
  in_progress: "Rotation in progress",
  ok: "OK",
  unmanaged: "Unmanaged",
};

export interface ReportSection {
  readonly id: ReportSectionId;
  readonly title: string;
  /** True for the sections a person should read; false for ok and unmanaged. */
  readonly attention: boolean;
  readonly items: readonly InventoryItem[];
}

interface ReportTotals {
  readonly all: number;
  readonly managed: number;
  readonly unmanaged: number;
  /** Credentials listed in attention sections. */
  readonly needingAttention: number;
  readonly stuck: number;
  /** Every state of the closed set, zero when absent. */
  readonly byState: Readonly<Record<CredentialState, number>>;
}

export interface ExpiryReport {
  readonly generatedAt: Date;
  readonly totals: ReportTotals;
  /** Always every id of REPORT_SECTION_IDS, in that order, possibly empty. */
  readonly sections: readonly ReportSection[];
  /** What the reader feed saw; undefined when no credential has readers (no `readers:`, or unreadable). */
  readonly readers?: ReaderFindings | undefined;
}

/** The reader feed's findings over the managed credentials, each list sorted by path. */
interface ReaderFindings {
  /** No reader in readers.window: unused, or read by something the feed does not see. */
  readonly noReader: readonly InventoryItem[];
  /** Readers whose latest read returned an older version than the current one. */
  readonly lagging: readonly { readonly item: InventoryItem; readonly readers: readonly ReaderRow[] }[];
  /**
   * Readers beside the declared `consumers`: readers that match no declared name, and declared names that
   * match no reader in the window.
   */
  readonly discovery: readonly {
    readonly item: InventoryItem;
    readonly undeclared: readonly ReaderRow[];
    readonly unseenConsumers: readonly string[];
  }[];
}

/** Findings from the items' readers summaries; undefined when none has one. */
function readerFindings(items: readonly InventoryItem[]): ReaderFindings | undefined {
  const known = items.filter((i) => i.readers !== undefined && i.state !== "unmanaged").sort(comparePaths);
  if (!items.some((i) => i.readers !== undefined)) return undefined;
  const noReader: InventoryItem[] = [];
  const lagging: { item: InventoryItem; readers: ReaderRow[] }[] = [];
  const discovery: { item: InventoryItem; undeclared: ReaderRow[]; unseenConsumers: string[] }[] = [];
  for (const item of known) {
    const r = item.readers;
    if (r === undefined) continue;
    if (r.total === 0) noReader.push(item);
    const old = r.listed.filter((x) => !x.current);
    if (old.length > 0) lagging.push({ item, readers: old });
    const undeclared = r.listed.filter((x) => !x.declared);
    if (undeclared.length > 0 || r.unseenConsumers.length > 0)
      discovery.push({ item, undeclared, unseenConsumers: [...r.unseenConsumers] });
  }
  return { noReader, lagging, discovery };
}

function sectionFor(item: InventoryItem): ReportSectionId {
  switch (item.state) {
    case "in_progress":
    case "awaiting_promotion":
      return item.stuck ? "stuck" : "in_progress";
    default:
      return item.state;
  }
}

/** `now` should be the instant the items were classified at, so secondsToDeadline agrees with generatedAt. */
export function buildExpiryReport(items: readonly InventoryItem[], now: Date): ExpiryReport {
  const grouped = new Map<ReportSectionId, InventoryItem[]>(REPORT_SECTION_IDS.map((id) => [id, []]));
  const byState = Object.fromEntries(CREDENTIAL_STATES.map((s) => [s, 0])) as Record<CredentialState, number>;
  let stuck = 0;
  for (const item of items) {
    grouped.get(sectionFor(item))?.push(item);
    byState[item.state] += 1;
    if (item.stuck) stuck += 1;
  }
  const sections = REPORT_SECTION_IDS.map((id): ReportSection => {
    const sectionItems = grouped.get(id) ?? [];
    const byPathOnly = id === "invalid" || id === "unmanaged";
    sectionItems.sort(byPathOnly ? comparePaths : compareDeadlines);
    const attention = id !== "ok" && id !== "unmanaged";
    return { id, title: SECTION_TITLES[id], attention, items: sectionItems };
  });
  const needingAttention = sections.reduce((n, s) => n + (s.attention ? s.items.length : 0), 0);
  return {
    generatedAt: new Date(now.getTime()),
    totals: {
      all: items.length,
      managed: items.length - byState.unmanaged,
      unmanaged: byState.unmanaged,
      needingAttention,
      stuck,
      byState,
    },
    sections,
    readers: readerFindings(items),
  };
}

/** `--fail-on` levels: which states make `report` exit 1. */
export type FailOn = "overdue" | "due" | "never";

/**
 * overdue: overdue or failed (something is, or may be, past its deadline with nobody fixing it).
 * due: anything a person should act on: also due_soon, flagged, unverified, invalid and stuck rotations.
 *      Rotations in progress that are not stuck do not count.
 * never: always 0.
 */
const FAIL_ON_STATES: Readonly<Record<FailOn, readonly ReportSectionId[]>> = {
  overdue: ["overdue", "failed"],
  due: ["overdue", "failed", "due_soon", "flagged", "unverified", "invalid", "stuck"],
  never: [],
};

export function exitCodeFor(report: ExpiryReport, failOn: FailOn): 0 | 1 {
  const failing = new Set(FAIL_ON_STATES[failOn]);
  return report.sections.some((s) => failing.has(s.id) && s.items.length > 0) ? 1 : 0;
}

/** Soonest (most overdue) deadline first; no deadline last; ties by path. */
function compareDeadlines(a: InventoryItem, b: InventoryItem): number {
  const da = a.deadline?.getTime() ?? Number.POSITIVE_INFINITY;
  const db = b.deadline?.getTime() ?? Number.POSITIVE_INFINITY;
  return da === db ? comparePaths(a, b) : da < db ? -1 : 1;
}

function comparePaths(a: InventoryItem, b: InventoryItem): number {
  return a.path < b.path ? -1 : a.path > b.path ? 1 : 0;
}
