// The reader feed's findings in the inventory outputs and the report: scan's JSON and table, the report model,
// every human format with hostile labels, the JSON report and the weekly chat counts.
import { describe, expect, it } from "vitest";
import { withReaders } from "../../src/core/inventory/collect-inventory.ts";
import type { InventoryItem } from "../../src/core/inventory/inventory-item.ts";
import { buildExpiryReport } from "../../src/core/report/expiry-report.ts";
import { HOUR_MS } from "../../src/core/time.ts";
import { weeklyEvent } from "../../src/daemon/weekly-report.ts";
import { formatReportHtml } from "../../src/report/format-html.ts";
import { formatInventoryJson, formatInventoryTable } from "../../src/report/format-inventory.ts";
import { formatReportJson } from "../../src/report/format-json.ts";
import { formatReportMarkdown } from "../../src/report/format-markdown.ts";
import { formatReportTable } from "../../src/report/format-table.ts";
import { InMemoryReaders } from "../fakes/in-memory-readers.ts";
import { fixtureItems, NOW } from "./report-fixture.ts";

const WINDOW = 7 * 24 * HOUR_MS;
const hoursAgo = (h: number) => new Date(NOW.getTime() - h * HOUR_MS);
const HOSTILE = "<img src=x onerror=alert(1)>|[x](http://evil)\u202Egnp.exe";

/** The fixture with api/overdue-a (consumers billing, crm; KV version 1) read by two, one of them behind. */
async function itemsWithReaders(): Promise<InventoryItem[]> {
  const items = fixtureItems().map((i) => (i.path === "api/overdue-a" ? { ...i, currentVersion: 8 } : i));
  const readers = new InMemoryReaders()
    .add("api/overdue-a", { label: "approle (billing)", version: 8, at: hoursAgo(1) })
    .add("api/overdue-a", { label: "token-billing-sync", version: 7, at: hoursAgo(2) })
    .add("api/fine", { label: HOSTILE, version: 1, at: hoursAgo(3) });
  return withReaders(items, readers, NOW, WINDOW);
}

describe("scan output with readers", () => {
  it("gives every item its readers in JSON, and a READERS column in the table", async () => {
    const items = await itemsWithReaders();
    const json = JSON.parse(formatInventoryJson(items, NOW)) as {
      items: { path: string; readers: unknown }[];
    };
    expect(json.items.find((i) => i.path === "api/overdue-a")?.readers).toEqual({
      total: 2,
      on_current: 1,
      listed: [
        {
          label: "token-billing-sync",
          version: 7,
          last_read_at: hoursAgo(2).toISOString(),
          current: false,
          declared: false,
        },
        {
          label: "approle (billing)",
          version: 8,
          last_read_at: hoursAgo(1).toISOString(),
          current: true,
          declared: true,
        },
      ],
      unseen_consumers: ["crm"],
    });
    expect(json.items.find((i) => i.path === "api/due-soon")?.readers).toMatchObject({ total: 0 });
    const table = formatInventoryTable(items, NOW).split("\n");
    expect(table[0]).toMatch(/PROVIDER\s+READERS\s+REASON/);
    expect(table.find((l) => l.startsWith("api/overdue-a"))).toContain("1/2 current");
    expect(table.find((l) => l.startsWith("api/due-soon"))).toMatch(/\bnone\b/);
  });

  it("without a reader feed: readers null in JSON and no READERS column", () => {
    const items = fixtureItems();
    const json = JSON.parse(formatInventoryJson(items, NOW)) as { items: { readers: unknown }[] };
    expect(json.items.every((i) => i.readers === null)).toBe(true);
    expect(formatInventoryTable(items, NOW)).not.toContain("READERS");
  });
});

describe("report reader findings", () => {
  it("lists credentials with no reader, readers on an old version, and readers beside the consumers", async () => {
    const report = buildExpiryReport(await itemsWithReaders(), NOW);
    const f = report.readers;
    expect(f?.noReader.map((i) => i.path)).not.toContain("api/overdue-a");
    expect(f?.noReader.map((i) => i.path)).toContain("api/due-soon");
    // Unmanaged credentials are no finding.
    expect(f?.noReader.map((i) => i.path)).not.toContain("api/other-team");
    expect(f?.lagging.map((l) => [l.item.path, l.readers.map((r) => r.label)])).toEqual([
      ["api/overdue-a", ["token-billing-sync"]],
    ]);
    const a = f?.discovery.find((d) => d.item.path === "api/overdue-a");
    expect(a?.undeclared.map((r) => r.label)).toEqual(["token-billing-sync"]);
    expect(a?.unseenConsumers).toEqual(["crm"]);
    expect(f?.discovery.find((d) => d.item.path === "api/fine")?.undeclared).toHaveLength(1);

    const json = JSON.parse(formatReportJson(report)) as { readers: { lagging: unknown[] } };
    expect(json.readers.lagging).toEqual([
      {
        path: "api/overdue-a",
        readers: [
          {
            label: "token-billing-sync",
            version: 7,
            last_read_at: hoursAgo(2).toISOString(),
            current: false,
            declared: false,
          },
        ],
      },
    ]);
    const table = formatReportTable(report);
    expect(table).toContain("READERS: STILL ON AN OLD VERSION (1)");
    expect(table).toMatch(/api\/overdue-a\s+current v8; token-billing-sync \(v7, 2h ago\)/);
    expect(table).toContain("declared, never seen: crm");

    const chat = weeklyEvent(await itemsWithReaders(), NOW, "2026-W19");
    expect(chat.readers).toEqual({
      noReader: f?.noReader.length,
      lagging: 1,
      discovery: f?.discovery.length,
    });
  });

  it("has no reader findings without a reader feed", () => {
    const report = buildExpiryReport(fixtureItems(), NOW);
    expect(report.readers).toBeUndefined();
    expect(formatReportTable(report)).not.toContain("READERS");
    expect(JSON.parse(formatReportJson(report)).readers).toBeNull();
    expect(weeklyEvent(fixtureItems(), NOW, "2026-W19").readers).toBeUndefined();
  });

  it("escapes hostile reader labels in every format: no HTML, no Markdown links or columns, no bidi", async () => {
    const report = buildExpiryReport(await itemsWithReaders(), NOW);
    const html = formatReportHtml(report);
    expect(html).not.toContain("<img");
    expect(html).toContain("&lt;img src=x onerror=alert(1)&gt;");
    const md = formatReportMarkdown(report);
    const row = md.split("\n").find((l) => l.startsWith("| api/fine")) ?? "";
    expect(row).toContain("\\<img");
    expect(row).toContain("\\[x\\](http://evil)");
    // Two columns: the label's pipe is escaped.
    expect(row.split(/(?<!\\)\|/).length - 2).toBe(2);
    for (const out of [html, md, formatReportTable(report)]) expect(out).not.toContain("\u202E");
  });
});
