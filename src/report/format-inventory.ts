// `scan` output: every credential, sorted by path. Table for people, JSON for scripts:
// { "schema": "eca-rotator/inventory@1", "generated_at": ISO, "count": n,
//   "by_state": { "<every state>": n }, "items": [InventoryItemJson] }

import {
  CREDENTIAL_STATES,
  type CredentialState,
  type InventoryItem,
} from "../core/inventory/inventory-item.ts";
import { renderTextTable, type TextColumn } from "./format-table.ts";
import { type InventoryItemJson, itemToJson } from "./item-json.ts";
import { cell, humanTime, readersCell, reasonCell, relativeDeadline } from "./report-cells.ts";

const INVENTORY_SCHEMA = "eca-rotator/inventory@1";

const INVENTORY_TABLE_COLUMNS: readonly TextColumn[] = [
  { header: "PATH", maxWidth: 60 },
  { header: "STATE", maxWidth: 26 },
  { header: "DEADLINE (UTC)", maxWidth: 16 },
  { header: "IN", maxWidth: 14 },
  { header: "PROVIDER", maxWidth: 14 },
  { header: "REASON", maxWidth: 80 },
];
/** Only when a reader feed is configured: readers on the current version of those seen in readers.window. */
const READERS_COLUMN: TextColumn = { header: "READERS", maxWidth: 16 };

interface InventoryJson {
  readonly schema: typeof INVENTORY_SCHEMA;
  readonly generated_at: string;
  readonly count: number;
  readonly by_state: Readonly<Record<CredentialState, number>>;
  readonly items: readonly InventoryItemJson[];
}

export function formatInventoryTable(items: readonly InventoryItem[], now: Date): string {
  const sorted = sortByPath(items);
  const withReaders = items.some((i) => i.readers !== undefined);
  const rows = sorted.map((item) => [
    cell(item.path),
    item.stuck ? `${item.state} (stuck)` : item.state,
    humanTime(item.deadline),
    relativeDeadline(item),
    cell(item.provider),
    ...(withReaders ? [readersCell(item)] : []),
    reasonCell(item),
  ]);
  const columns = withReaders
    ? [...INVENTORY_TABLE_COLUMNS.slice(0, -1), READERS_COLUMN, ...INVENTORY_TABLE_COLUMNS.slice(-1)]
    : INVENTORY_TABLE_COLUMNS;
  const counts = countByState(items);
  const summary = CREDENTIAL_STATES.filter((s) => counts[s] > 0)
    .map((s) => `${counts[s]} ${s}`)
    .join(", ");
  const noun = items.length === 1 ? "credential" : "credentials";
  const footer = `${items.length} ${noun} as of ${humanTime(now)} UTC${summary === "" ? "" : `: ${summary}`}`;
  const table = items.length === 0 ? [] : renderTextTable(columns, rows);
  return `${[...table, footer].join("\n")}\n`;
}

function inventoryToJson(items: readonly InventoryItem[], now: Date): InventoryJson {
  return {
    schema: INVENTORY_SCHEMA,
    generated_at: now.toISOString(),
    count: items.length,
    by_state: countByState(items),
    items: sortByPath(items).map(itemToJson),
  };
}

export function formatInventoryJson(items: readonly InventoryItem[], now: Date): string {
  return `${JSON.stringify(inventoryToJson(items, now), null, 2)}\n`;
}

function sortByPath(items: readonly InventoryItem[]): InventoryItem[] {
  return [...items].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

function countByState(items: readonly InventoryItem[]): Record<CredentialState, number> {
  const counts = Object.fromEntries(CREDENTIAL_STATES.map((s) => [s, 0])) as Record<CredentialState, number>;
  for (const item of items) counts[item.state] += 1;
  return counts;
}
