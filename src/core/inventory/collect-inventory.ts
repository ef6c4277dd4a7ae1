// Walks every configured prefix through the MetadataSource port and classifies each entry. Pure apart from
// the port: the unit tests drive it with the in-memory source, the CLI with the Vault one.
import { type ClassifyDefaults, classifyScanItem } from "./classify.ts";
import type { InventoryItem } from "./inventory-item.ts";
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
