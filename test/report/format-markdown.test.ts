import { describe, expect, it } from "vitest";
import { buildExpiryReport } from "../../src/core/report/expiry-report.ts";
import { escapeMarkdown, formatReportMarkdown } from "../../src/report/format-markdown.ts";
import { fixtureReport, NOW } from "./report-fixture.ts";

describe("formatReportMarkdown", () => {
  const md = formatReportMarkdown(fixtureReport());

  it("has a title, the totals and a count table of every section", () => {
    expect(md.startsWith("# Credential expiry report\n")).toBe(true);
    expect(md).toContain(
      "Generated 2026-05-04 09:00 UTC. 12 credentials: 11 managed, 1 unmanaged; 10 need attention.",
    );
    expect(md).toContain("| Overdue | 2 |");
    expect(md).toContain("| OK | 1 |");
    expect(md).toContain("| Unmanaged | 1 |");
  });

  it("gives each attention section a heading and a table", () => {
    const headings = md.split("\n").filter((l) => l.startsWith("## "));
    expect(headings[0]).toBe("## Overdue (2)");
    expect(headings).toHaveLength(8);
    expect(md).toContain(
      "| api/overdue-a | salesforce-eca | 2026-04-24 09:00 | 10d ago | billing, crm | \\#billing | deadline passed 10d ago |",
    );
  });

  it("escapes values so they cannot add columns, links or HTML", () => {
    expect(escapeMarkdown("a|b")).toBe("a\\|b");
    expect(escapeMarkdown("<script>")).toBe("\\<script\\>");
    expect(escapeMarkdown("[x](http://e)")).toBe("\\[x\\](http://e)");
    const report = buildExpiryReport(
      [
        {
          path: "api/<b>|x",
          state: "invalid",
          reason: "r",
          contact: "[c](javascript:1)",
          consumers: [],
          stuck: false,
        },
      ],
      NOW,
    );
    const out = formatReportMarkdown(report);
    expect(out).toContain("| api/\\<b\\>\\|x |");
    expect(out).toContain("\\[c\\](javascript:1)");
    const row = out.split("\n").find((l) => l.startsWith("| api/")) ?? "";
    expect(row.split(/(?<!\\)\|/).length - 2).toBe(7);
  });
});
