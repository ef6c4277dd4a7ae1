// Walks every configured prefix through the MetadataSource port and classifies each entry. Pure apart from
// the port: the unit tests drive it with the in-memory source, the CLI with the Vault one.
import { type ClassifyDefaults, classifyScanItem } from "./classify.ts";
import type { InventoryItem } from "./inventory-item.ts";
import type { MetadataSource } from "./kv-entry.ts";

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
