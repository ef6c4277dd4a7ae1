// Walks every configured prefix through the MetadataSource port and classifies each entry. Pure apart from
// the port: the unit tests drive it with the in-memory source, the CLI with the Vault one.

import type { ReaderDirectory, ReaderSeen } from "../readers/readers.ts";
import { type ClassifyDefaults, classifyScanItem } from "./classify.ts";
import type { InventoryItem, ReaderRow, ReadersSummary } from "./inventory-item.ts";
import type { MetadataSource } from "./kv-entry.ts";
import type { RotationState } from "./policy-fields.ts";

export interface Inventory {
  /** One item per KV path, sorted by path (overlapping prefixes never list a path twice). */
  readonly items: readonly InventoryItem[];
  /** The instant every deadline was measured against. */
  readonly scannedAt: Date;
  readonly prefixes: readonly string[];
}

export type ScanProgress = (seen: number, prefix: string) => void;

export async function collectInventory(
  source: MetadataSource,
  prefixes: readonly string[],
  now: Date,
  defaults: ClassifyDefaults,
  onProgress?: ScanProgress,
): Promise<Inventory> {
  const byPath = new Map<string, InventoryItem>();
  let seen = 0;
  for (const prefix of prefixes) {
    for await (const scanItem of source.scan(prefix)) {
      const item = classifyScanItem(scanItem, now, defaults);
      byPath.set(item.path, item);
      seen += 1;
      onProgress?.(seen, prefix);
    }
  }
  const items = [...byPath.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { items, scannedAt: now, prefixes };
}

/**
 * Why a credential whose metadata says a rotation is under way is not this rotator's to touch, when no journal
 * of it exists under this rotator's state_prefix; undefined for any other state. The rotator writes the journal
 * before it sets in_progress and stamps idle or failed before it deletes the journal, so its own crashes never
 * leave this behind: another deployment (another state_prefix, or a run --once with its own config) is rotating
 * the credential, or the state was set by hand, or a journal was deleted by hand.
 */
export function rotationWithoutJournal(state: RotationState | undefined): string | undefined {
  if (state !== "in_progress" && state !== "awaiting_promotion") return undefined;
  return (
    `rotation_state is ${state} but this rotator has no journal for it: another deployment (another ` +
    "state_prefix, or a run --once with its own config) is rotating it, or the state was left behind; " +
    "nothing starts here until it ends (finish or resolve it where it runs, or clear rotation_state)"
  );
}

/**
 * Marks the items whose metadata says a rotation is under way with no journal here (rotationWithoutJournal):
 * stuck, with the reason, so scan, reports and the status page put them where a person must act, and the
 * scheduler leaves them alone. A journal listed before the scan or after it counts (`journalsBefore`, then
 * `listJournals` once, only when some item is left to mark), so a rotation that starts or ends while the scan
 * runs is not mistaken for another deployment's.
 */
export async function markRotationsWithoutJournal(
  items: readonly InventoryItem[],
  journalsBefore: ReadonlySet<string>,
  listJournals: () => AsyncIterable<string>,
): Promise<InventoryItem[]> {
  const suspects = items.filter(
    (i) => rotationWithoutJournal(i.rotationState) !== undefined && !journalsBefore.has(i.path),
  );
  if (suspects.length === 0) return [...items];
  const after = new Set<string>();
  for await (const path of listJournals()) after.add(path);
  const marked = new Set(suspects.filter((i) => !after.has(i.path)).map((i) => i.path));
  return items.map((i) =>
    marked.has(i.path)
      ? { ...i, stuck: true, noJournalHere: true, reason: rotationWithoutJournal(i.rotationState) }
      : i,
  );
}

/** Readers listed per credential (the counts cover them all). */
export const READERS_LISTED = 50;

/**
 * The items with their readers in the window before `now`, from one read of the reader directory (the shared
 * shard entries: at most 256 KV reads, whatever the number of credentials). When the directory cannot be read
 * the items stay without readers (unknown, not "none") and `onError` hears why: a scan never fails for it.
 */
export async function withReaders(
  items: readonly InventoryItem[],
  directory: ReaderDirectory | undefined,
  now: Date,
  windowMs: number,
  onError?: (err: unknown) => void,
): Promise<InventoryItem[]> {
  if (directory === undefined) return [...items];
  let byPath: ReadonlyMap<string, readonly ReaderSeen[]>;
  try {
    byPath = await directory.allReaders(new Date(now.getTime() - windowMs));
  } catch (err) {
    onError?.(err);
    return [...items];
  }
  return items.map((i) => ({ ...i, readers: summarizeReaders(byPath.get(i.path) ?? [], i) }));
}

/** One credential's readers against its current version and its declared consumers. */
export function summarizeReaders(
  seen: readonly ReaderSeen[],
  item: Pick<InventoryItem, "currentVersion" | "consumers">,
): ReadersSummary {
  const current = item.currentVersion ?? 0;
  const wanted = item.consumers.map((c) => c.trim().toLowerCase());
  const matched = new Set<number>();
  let onCurrent = 0;
  const rows: ReaderRow[] = seen.map((r) => {
    let declared = false;
    if (wanted.length > 0) {
      const names = readerNames(r.label);
      wanted.forEach((w, i) => {
        if (w !== "" && names.includes(w)) {
          declared = true;
          matched.add(i);
        }
      });
    }
    const isCurrent = r.version >= current;
    if (isCurrent) onCurrent++;
    return { label: r.label, version: r.version, lastReadMs: r.at.getTime(), current: isCurrent, declared };
  });
  if (rows.length > 1) {
    rows.sort((a, b) => {
      if (a.current !== b.current) return a.current ? 1 : -1;
      if (!a.current) return b.lastReadMs - a.lastReadMs;
      return a.label < b.label ? -1 : a.label > b.label ? 1 : 0;
    });
  }
  return {
    total: rows.length,
    onCurrent,
    listed: rows.length > READERS_LISTED ? rows.slice(0, READERS_LISTED) : rows,
    unseenConsumers: item.consumers.filter((_, i) => !matched.has(i)),
  };
}

/**
 * Is the declared consumer `name` this reader? Case-insensitively, `name` equals the whole label, its display
 * name (the part before " ("), that name without Vault's "token-" prefix, the role or service account in its
 * brackets, or, for "namespace/account", the account alone. "billing-sync" matches "approle (billing-sync)",
 * "token-billing-sync" and "kubernetes-prod-billing-sync (prod/billing-sync)"; not "billing-sync-v2".
 */
export function consumerMatchesReader(name: string, label: string): boolean {
  const want = name.trim().toLowerCase();
  return want !== "" && readerNames(label).includes(want);
}

/** The names a reader's label answers to, lower-cased (see consumerMatchesReader). */
function readerNames(label: string): string[] {
  const l = label.toLowerCase();
  const names = [l];
  const open = l.lastIndexOf(" (");
  const display = open > 0 && l.endsWith(")") ? l.slice(0, open) : l;
  if (display !== l) {
    const extra = l.slice(open + 2, -1);
    names.push(display, extra);
    const slash = extra.lastIndexOf("/");
    if (slash >= 0) names.push(extra.slice(slash + 1));
  }
  if (display.startsWith("token-")) names.push(display.slice("token-".length));
  return names;
}
