import { describe, expect, it } from "vitest";
import { buildExpiryReport } from "../../src/core/report/expiry-report.ts";
import { escapeHtml, formatReportHtml } from "../../src/report/format-html.ts";
import { fixtureReport, NOW } from "./report-fixture.ts";

describe("formatReportHtml", () => {
  const html = formatReportHtml(fixtureReport());

  it("is one self-contained page with no scripts or external resources", () => {
    expect(html.startsWith("<!DOCTYPE html>\n")).toBe(true);
    expect(html).toContain('<meta charset="utf-8">');
    expect(html).toContain("default-src 'none'");
    expect(html).not.toMatch(/<script|<link|src=|href=/i);
    expect(html.trimEnd().endsWith("</html>")).toBe(true);
  });

  it("shows totals, the count table and a table per attention section", () => {
    expect(html).toContain("12 credentials: 11 managed, 1 unmanaged; 10 need attention");
    expect(html).toContain('<tr><td>Overdue</td><td class="num">2</td></tr>');
    expect(html).toContain('<h2 class="red">Overdue (2)</h2>');
    expect(html).toContain('<h2 class="yellow">Due soon (1)</h2>');
    expect(html).toContain(
      "<td><code>api/overdue-a</code></td><td>salesforce-eca</td><td>2026-04-24 09:00</td>",
    );
    expect(html).not.toContain("api/fine");
  });

  it("escapes a path and a contact carrying markup", () => {
    const report = buildExpiryReport(
      [
        {
          path: "api/<script>alert(1)</script>",
          state: "overdue",
          reason: "x",
          contact: `"><img src=x onerror=alert(1)> & 'co'`,
          consumers: ["<b>bold</b>"],
          stuck: false,
        },
      ],
      NOW,
    );
    const out = formatReportHtml(report);
    expect(out).not.toContain("<script>");
    expect(out).not.toContain("<img");
    expect(out).not.toContain("<b>bold");
    expect(out).toContain("api/&lt;script&gt;alert(1)&lt;/script&gt;");
    expect(out).toContain("&quot;&gt;&lt;img src=x onerror=alert(1)&gt; &amp; &#39;co&#39;");
    expect(out).toContain("&lt;b&gt;bold&lt;/b&gt;");
  });

  it("escapes the five HTML-special characters", () => {
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe("&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
  });
});
