import { describe, expect, it } from "vitest";
import type { InventoryItem } from "../../src/core/inventory/inventory-item.ts";
import type { RotationOutcome } from "../../src/core/rotation/rotation-outcome.ts";
import { createDaemonMetrics } from "../../src/daemon/metrics.ts";
import { requireTool, runTool } from "../support/system-tools.ts";

const at = new Date("2026-11-23T09:00:00Z");

function item(path: string, state: InventoryItem["state"], secondsToDeadline?: number): InventoryItem {
  return {
    path,
    state,
    provider: state === "unmanaged" ? undefined : "salesforce-eca",
    consumers: [],
    stuck: false,
    secondsToDeadline,
  };
}

function completed(): Extract<RotationOutcome, { kind: "completed" }> {
  return {
    kind: "completed",
    path: "api-credentials/a",
    rotationId: "r1",
    mode: "standard",
    sinkFailures: 0,
    kvVersion: 3,
    keyFingerprint: "fp",
    durationMs: 4_200,
    outageMs: undefined,
  };
}

describe("daemon metrics", () => {
  it("passes promtool check metrics after a scan, rotations, failures and odd paths", async () => {
    const promtool = requireTool("promtool", "prometheus");
    const m = createDaemonMetrics({ version: "0.1.0", connections: ["prod"] });
    m.recordScan(
      [
        item("api-credentials/ok", "ok", 86_400 * 30),
        item("api-credentials/late", "overdue", -3_600),
        item('api-credentials/we"ird\\path\nx', "due_soon", 600),
        item("other/unmanaged", "unmanaged"),
      ],
      at,
      1_250,
    );
    m.recordOutcome(completed(), "salesforce-eca");
    m.recordStep("rotation.staged", 0.42);
    m.recordAuditFailure("syslog");
    m.recordAuditEvent("file");
    m.recordAuditEvent("file");
    m.recordNotification("slack", false);
    m.recordApiUsage("prod", 250, 15_000);
    m.recordReportSent();
    m.recordUnauthorized("read", "wrong");
    const { body, contentType } = await m.text();
    expect(contentType).toMatch(/^text\/plain/);
    const check = await runTool(promtool, ["check", "metrics"], body);
    expect(check.stderr + check.stdout).toBe("");
    expect(check.code).toBe(0);

    expect(body).toContain('eca_rotator_credentials{state="overdue",provider="salesforce-eca"} 1');
    expect(body).toContain('eca_rotator_credentials{state="failed",provider="salesforce-eca"} 0');
    expect(body).toContain('eca_rotator_credentials{state="unmanaged",provider="none"} 1');
    // Every provider's series exist before its first rotation, so alerts and dashboards see them.
    expect(body).toContain('eca_rotator_rotations_total{outcome="failed",provider="sfmc"} 0');
    expect(body).toContain('eca_rotator_credentials{state="overdue",provider="generated"} 0');
    expect(body).toContain(
      'eca_rotator_credential_deadline_seconds{path="api-credentials/late",provider="salesforce-eca"} -3600',
    );
    expect(body).not.toContain('path="other/unmanaged"');
    expect(body).toContain(`eca_rotator_last_successful_scan_timestamp_seconds ${at.getTime() / 1000}`);
    expect(body).toContain('eca_rotator_rotations_total{outcome="completed",provider="salesforce-eca"} 1');
    expect(body).toContain('eca_rotator_audit_failures_total{sink="syslog"} 1');
    expect(body).toContain('eca_rotator_audit_events_total{sink="file"} 2');
    expect(body).toContain('eca_rotator_audit_events_total{sink="http"} 0');
    expect(body).toContain('eca_rotator_notifications_total{target="slack",result="failed"} 1');
    expect(body).toContain('eca_rotator_salesforce_api_usage_ratio{connection="prod"} 0.016666666666666666');
    expect(body).toContain('eca_rotator_http_unauthorized_total{access="read",reason="wrong"} 1');
    // The other closed-set series exist from the start.
    expect(body).toContain('eca_rotator_http_unauthorized_total{access="write",reason="missing"} 0');
  });

  it("counts credentials by their readers: none, all on the current version, some lagging", async () => {
    const m = createDaemonMetrics({ version: "0.1.0", connections: [] });
    const readers = (total: number, onCurrent: number) => ({
      total,
      onCurrent,
      listed: [],
      unseenConsumers: [],
    });
    m.recordScan(
      [
        { ...item("a", "ok"), readers: readers(0, 0) },
        { ...item("b", "ok"), readers: readers(3, 3) },
        { ...item("c", "ok"), readers: readers(4, 3) },
        { ...item("d", "ok"), readers: readers(2, 0) },
        item("e", "ok"),
      ],
      at,
      10,
    );
    const { body } = await m.text();
    expect(body).toContain('eca_rotator_credentials_by_readers{state="none"} 1');
    expect(body).toContain('eca_rotator_credentials_by_readers{state="all_current"} 1');
    expect(body).toContain('eca_rotator_credentials_by_readers{state="some_lagging"} 2');
  });

  it("maps label values outside the closed sets to other and ignores unknown connections", async () => {
    const m = createDaemonMetrics({ version: "0.1.0", connections: ["prod"] });
    m.recordAuditFailure("test-secret-canary-sink");
    m.recordNotification("https://hooks.example/test-secret-canary", true);
    m.recordApiUsage("test-secret-canary-conn", 1, 2);
    m.recordUnauthorized("test-secret-canary-access", "test-secret-canary-reason");
    const { body } = await m.text();
    expect(body).not.toContain("canary");
    expect(body).toContain('eca_rotator_audit_failures_total{sink="other"} 1');
    expect(body).toContain('eca_rotator_notifications_total{target="other",result="sent"} 1');
    expect(body).toContain('eca_rotator_http_unauthorized_total{access="other",reason="other"} 1');
  });

  it("drops a credential's deadline series when a later scan no longer lists it", async () => {
    const m = createDaemonMetrics({ version: "0.1.0", connections: [] });
    m.recordScan([item("api-credentials/gone", "ok", 100)], at, 10);
    expect((await m.text()).body).toContain('path="api-credentials/gone"');
    m.recordScan([], at, 10);
    expect((await m.text()).body).not.toContain('path="api-credentials/gone"');
  });
});

/** One sample line: name, labels (unescaped) and value. */
interface Sample {
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly value: number;
}

interface Family {
  readonly name: string;
  readonly type: string;
  readonly samples: Sample[];
}

const NAME = "[a-zA-Z_:][a-zA-Z0-9_:]*";
const LABEL_NAME = "[a-zA-Z_][a-zA-Z0-9_]*";
// A label value: any character but backslash, quote and newline, or one of the three escapes.
const LABEL_VALUE = '(?:[^"\\\\\\n]|\\\\[\\\\"n])*';
const LABEL = `${LABEL_NAME}="${LABEL_VALUE}"`;
const VALUE = "(?:[+-]?(?:\\d+\\.?\\d*|\\.\\d+)(?:[eE][+-]?\\d+)?|[+-]Inf|NaN)";
const SAMPLE_LINE = new RegExp(`^(${NAME})(?:\\{(${LABEL}(?:,${LABEL})*)\\})? (${VALUE})$`);
const HELP_LINE = new RegExp(`^# HELP (${NAME}) ((?:[^\\\\\\n]|\\\\[\\\\n])*)$`);
const TYPE_LINE = new RegExp(`^# TYPE (${NAME}) (counter|gauge|histogram|summary|untyped)$`);

const unescapeLabel = (v: string): string =>
  v.replace(/\\(["\\n])/g, (_, c: string) => (c === "n" ? "\n" : c));

/**
 * Parses a text-format 0.0.4 exposition strictly: every line is a HELP, a TYPE or a sample; each family is
 * HELP, then TYPE, then its samples, once; a sample belongs to the family just declared (histograms: _bucket,
 * _sum, _count). Throws naming the first line that breaks a rule.
 */
function parseExposition(body: string): Map<string, Family> {
  expect(body.endsWith("\n"), "the body ends with a newline").toBe(true);
  const families = new Map<string, Family>();
  let current: Family | undefined;
  let help: string | undefined;
  body
    .slice(0, -1)
    .split("\n")
    .forEach((line, i) => {
      const where = `line ${i + 1}: ${JSON.stringify(line)}`;
      const h = HELP_LINE.exec(line);
      const t = TYPE_LINE.exec(line);
      const s = SAMPLE_LINE.exec(line);
      if (h) {
        if (help !== undefined) throw new Error(`HELP without TYPE before ${where}`);
        if (families.has(h[1] ?? "")) throw new Error(`family declared twice at ${where}`);
        help = h[1];
      } else if (t) {
        if (help !== t[1]) throw new Error(`TYPE without its HELP at ${where}`);
        current = { name: t[1] ?? "", type: t[2] ?? "", samples: [] };
        families.set(current.name, current);
        help = undefined;
      } else if (s) {
        if (current === undefined || help !== undefined)
          throw new Error(`sample outside a family at ${where}`);
        const allowed =
          current.type === "histogram"
            ? ["_bucket", "_sum", "_count"].map((x) => current?.name + x)
            : [current.name];
        if (!allowed.includes(s[1] ?? "")) throw new Error(`sample of another family at ${where}`);
        const labels: Record<string, string> = {};
        for (const m of (s[2] ?? "").matchAll(new RegExp(`(${LABEL_NAME})="(${LABEL_VALUE})"`, "g"))) {
          if ((m[1] ?? "") in labels) throw new Error(`label repeated at ${where}`);
          labels[m[1] ?? ""] = unescapeLabel(m[2] ?? "");
        }
        const raw = s[3] ?? "";
        const value = raw === "+Inf" ? Infinity : raw === "-Inf" ? -Infinity : Number(raw);
        current.samples.push({ name: s[1] ?? "", labels, value });
      } else {
        throw new Error(`not a HELP, TYPE or sample line: ${where}`);
      }
    });
  if (help !== undefined) throw new Error(`HELP of ${help} without TYPE`);
  return families;
}

/** Checks every histogram: per label set, ascending `le` bounds, cumulative counts, +Inf last and = _count. */
function checkHistograms(families: Map<string, Family>): number {
  let checked = 0;
  for (const f of families.values()) {
    if (f.type !== "histogram") continue;
    const key = (labels: Record<string, string>) =>
      JSON.stringify(Object.entries(labels).filter(([k]) => k !== "le"));
    const sets = new Map<string, { le: number; count: number }[]>();
    for (const s of f.samples.filter((x) => x.name === `${f.name}_bucket`)) {
      const le = s.labels["le"];
      expect(le, `${f.name} bucket without le`).toBeDefined();
      const list = sets.get(key(s.labels)) ?? [];
      list.push({ le: le === "+Inf" ? Infinity : Number(le), count: s.value });
      sets.set(key(s.labels), list);
    }
    for (const [labels, buckets] of sets) {
      for (let i = 1; i < buckets.length; i++) {
        expect(buckets[i]?.le, `${f.name}${labels} bounds ascend`).toBeGreaterThan(buckets[i - 1]?.le ?? 0);
        expect(buckets[i]?.count, `${f.name}${labels} cumulative`).toBeGreaterThanOrEqual(
          buckets[i - 1]?.count ?? 0,
        );
      }
      expect(buckets.at(-1)?.le, `${f.name}${labels} ends at +Inf`).toBe(Infinity);
      const count = f.samples.find((s) => s.name === `${f.name}_count` && key(s.labels) === labels);
      const sum = f.samples.find((s) => s.name === `${f.name}_sum` && key(s.labels) === labels);
      expect(count?.value, `${f.name}${labels} +Inf = _count`).toBe(buckets.at(-1)?.count);
      expect(sum, `${f.name}${labels} has _sum`).toBeDefined();
      checked += 1;
    }
  }
  return checked;
}

describe("the /metrics exposition", () => {
  it("parses with a strict line grammar: HELP and TYPE for every family, cumulative histograms", async () => {
    const m = createDaemonMetrics({ version: "0.1.0", connections: ["prod"] });
    m.recordScan([item("api-credentials/a", "ok", 3_600), item("other/u", "unmanaged")], at, 700);
    m.recordScan([item("api-credentials/a", "ok", 3_500)], at, 40_000);
    m.recordScanFailure();
    m.recordOutcome(completed(), "salesforce-eca");
    m.recordOutcome({ ...completed(), mode: "emergency", durationMs: 100_000_000 }, "sfmc");
    for (const seconds of [0.01, 0.3, 0.3, 7, 1_000]) m.recordStep("rotation.staged", seconds);
    m.recordStep("rotation.completed", 2);
    m.recordApiUsage("prod", 1, 3);
    const families = parseExposition((await m.text()).body);

    expect(checkHistograms(families)).toBe(5);
    const step = families.get("eca_rotator_rotation_step_duration_seconds");
    const staged = (le: string) =>
      step?.samples.find((s) => s.labels["event"] === "rotation.staged" && s.labels["le"] === le)?.value;
    expect([staged("0.05"), staged("0.5"), staged("10"), staged("900"), staged("+Inf")]).toEqual([
      1, 3, 4, 4, 5,
    ]);
    const scan = families.get("eca_rotator_scan_duration_seconds");
    expect(scan?.samples.find((s) => s.name.endsWith("_sum"))?.value).toBe(40.7);
    expect(families.get("eca_rotator_scan_failures_total")?.type).toBe("counter");
    expect(families.get("eca_rotator_scan_failures_total")?.samples[0]?.value).toBe(1);
    // The process metrics an operator (and bench/memory-bench.ts) reads.
    for (const name of [
      "process_resident_memory_bytes",
      "process_cpu_seconds_total",
      "process_start_time_seconds",
      "nodejs_heap_size_used_bytes",
      "nodejs_heap_size_total_bytes",
      "nodejs_eventloop_lag_seconds",
    ]) {
      const value = families.get(`eca_rotator_${name}`)?.samples[0]?.value;
      expect(value, name).toBeGreaterThan(0);
    }
    const rss = families.get("eca_rotator_process_resident_memory_bytes")?.samples[0]?.value ?? 0;
    expect(Math.abs(rss - process.memoryUsage.rss())).toBeLessThan(64 * 2 ** 20);
  });

  it("escapes a hostile path label (quote, backslash, newline) so it reads back unchanged", async () => {
    const hostile = 'api-credentials/a"} 1\n# TYPE x counter\nx{y="\\';
    const m = createDaemonMetrics({ version: "0.1.0", connections: [] });
    m.recordScan([item(hostile, "overdue", -5)], at, 10);
    const { body } = await m.text();
    expect(body).toContain(
      'eca_rotator_credential_deadline_seconds{path="api-credentials/a\\"} 1\\n# TYPE x counter\\nx{y=\\"\\\\",provider="salesforce-eca"} -5',
    );
    const families = parseExposition(body);
    expect(families.has("x")).toBe(false);
    const deadline = families.get("eca_rotator_credential_deadline_seconds")?.samples;
    expect(deadline).toEqual([
      {
        name: "eca_rotator_credential_deadline_seconds",
        labels: { path: hostile, provider: "salesforce-eca" },
        value: -5,
      },
    ]);
  });
});
