// The order people should read the inventory in: what is broken first, then what is late, then what will
// be soon, then what is busy, then the calm rest. Within a rank: nearest deadline first, then path.

import type { InventoryItem } from "../core/inventory/inventory-item.ts";

export const ATTENTION_ORDER = [
  "failed",
  "invalid",
  "stuck",
  "overdue",
  "unverified",
  "due_soon",
  "flagged",
  "in_progress",
  "awaiting_promotion",
  "ok",
  "unmanaged",
] as const;
export type AttentionGroup = (typeof ATTENTION_ORDER)[number];

/** The state, except that a stuck rotation (in_progress or awaiting_promotion too long) is its own group. */
export function attentionGroup(item: InventoryItem): AttentionGroup {
  if (item.stuck && (item.state === "in_progress" || item.state === "awaiting_promotion")) return "stuck";
  return item.state;
}

export function sortByAttention(items: readonly InventoryItem[]): InventoryItem[] {
  const rank = (item: InventoryItem) => ATTENTION_ORDER.indexOf(attentionGroup(item));
  const deadline = (item: InventoryItem) => item.deadline?.getTime() ?? Number.POSITIVE_INFINITY;
  return [...items].sort((a, b) => {
    const byRank = rank(a) - rank(b);
    if (byRank !== 0) return byRank;
    const da = deadline(a);
    const db = deadline(b);
    if (da !== db) return da < db ? -1 : 1;
    return a.path < b.path ? -1 : a.path > b.path ? 1 : 0;
  });
}
