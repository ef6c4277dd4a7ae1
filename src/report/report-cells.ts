// Cell values shared by the report and inventory formatters, so every format says the same thing.

import { toDisplayText } from "../core/display-text.ts";
import type { InventoryItem } from "../core/inventory/inventory-item.ts";
import { formatRelative } from "../core/time.ts";

/** Human time in UTC to the minute: "2026-04-01 09:30". Empty for no date. */
export function humanTime(date: Date | undefined): string {
  if (date === undefined || Number.isNaN(date.getTime())) return "";
  const iso = date.toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 16)}`;
}

/** ISO 8601 with milliseconds, or null. */
export function isoOrNull(date: Date | undefined): string | null {
  return date === undefined || Number.isNaN(date.getTime()) ? null : date.toISOString();
}

/** "in 12d 3h" / "3d 4h ago" from the item's secondsToDeadline; empty when there is no deadline. */
export function relativeDeadline(item: InventoryItem): string {
  return item.secondsToDeadline === undefined ? "" : formatRelative(item.secondsToDeadline * 1000);
}

/** Every text cell goes through this: no control or bidi characters, bounded length. */
export function cell(text: string | undefined, max = 200): string {
  return text === undefined ? "" : toDisplayText(text, max);
}

function consumersCell(item: InventoryItem, max = 200): string {
  return cell(item.consumers.join(", "), max);
}

/** The reason column: the state's reason, plus the last rotation error for failed rotations. */
export function reasonCell(item: InventoryItem, max = 200): string {
  const parts = [item.reason, item.state === "failed" ? item.lastError : undefined];
  if (item.trigger?.reason !== undefined && item.state === "flagged") parts.push(item.trigger.reason);
  return cell(parts.filter((p) => p !== undefined && p !== "").join(": "), max);
}

/** The columns of a report section row, in every format: path, provider, deadline, in, consumers, contact, reason. */
export function attentionRowCells(item: InventoryItem): string[] {
  return [
    cell(item.path),
    cell(item.provider),
    humanTime(item.deadline),
    relativeDeadline(item),
    consumersCell(item),
    cell(item.contact),
    reasonCell(item),
  ];
}

/** "3/4 current", "none" (no reader in the window), or empty when readers are unknown (no reader feed). */
export function readersCell(item: InventoryItem): string {
  const r = item.readers;
  if (r === undefined) return "";
  return r.total === 0 ? "none" : `${r.onCurrent}/${r.total} current`;
}
