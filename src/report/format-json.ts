// `report --format json`. The shape (version 1; a change of meaning bumps `schema`):
// {
//   "schema": "eca-rotator/expiry-report@1",
//   "generated_at": "2026-05-04T09:00:00.000Z",
//   "totals": { "all", "managed", "unmanaged", "needing_attention", "stuck",
//               "by_state": { "<every state of the closed set>": number } },
//   "sections": [ { "id", "title", "attention", "count", "items": [InventoryItemJson] } ],  // every section, fixed order
//   "readers": null | { "no_reader": [path], "lagging": [{ "path", "readers": [reader] }],
//                       "discovery": [{ "path", "undeclared": [reader], "unseen_consumers": [name] }] }
// }
// (reader: { "label", "version", "last_read_at", "current", "declared" }, as in InventoryItemJson.readers.listed)

import type { ExpiryReport } from "../core/report/expiry-report.ts";
import { type InventoryItemJson, itemToJson, type ReaderRowJson, readerRowToJson } from "./item-json.ts";

const EXPIRY_REPORT_SCHEMA = "eca-rotator/expiry-report@1";

interface ExpiryReportJson {
  readonly schema: typeof EXPIRY_REPORT_SCHEMA;
  readonly generated_at: string;
  readonly totals: {
    readonly all: number;
    readonly managed: number;
    readonly unmanaged: number;
    readonly needing_attention: number;
    readonly stuck: number;
    readonly by_state: Readonly<Record<string, number>>;
  };
  readonly sections: readonly {
    readonly id: string;
    readonly title: string;
    readonly attention: boolean;
    readonly count: number;
    readonly items: readonly InventoryItemJson[];
  }[];
  readonly readers: {
    readonly no_reader: readonly string[];
    readonly lagging: readonly { readonly path: string; readonly readers: readonly ReaderRowJson[] }[];
    readonly discovery: readonly {
      readonly path: string;
      readonly undeclared: readonly ReaderRowJson[];
      readonly unseen_consumers: readonly string[];
    }[];
  } | null;
}

function expiryReportToJson(report: ExpiryReport): ExpiryReportJson {
  const { totals } = report;
  return {
    schema: EXPIRY_REPORT_SCHEMA,
    generated_at: report.generatedAt.toISOString(),
    totals: {
      all: totals.all,
      managed: totals.managed,
      unmanaged: totals.unmanaged,
      needing_attention: totals.needingAttention,
      stuck: totals.stuck,
      by_state: { ...totals.byState },
    },
    sections: report.sections.map((s) => ({
      id: s.id,
      title: s.title,
      attention: s.attention,
      count: s.items.length,
      items: s.items.map(itemToJson),
    })),
    readers:
      report.readers === undefined
        ? null
        : {
            no_reader: report.readers.noReader.map((i) => i.path),
            lagging: report.readers.lagging.map((l) => ({
              path: l.item.path,
              readers: l.readers.map(readerRowToJson),
            })),
            discovery: report.readers.discovery.map((d) => ({
              path: d.item.path,
              undeclared: d.undeclared.map(readerRowToJson),
              unseen_consumers: [...d.unseenConsumers],
            })),
          },
  };
}

/** Pretty-printed with a trailing newline. */
export function formatReportJson(report: ExpiryReport): string {
  return `${JSON.stringify(expiryReportToJson(report), null, 2)}\n`;
}
