// The daemon's Prometheus metrics, on a registry of its own so tests can build several. Label
// values come only from closed sets (states, outcomes, providers, audit event types, sink and target kinds,
// connection names fixed at start-up) with one deliberate exception: `path` on the deadline gauge, because the
// contract asks for "seconds to each deadline". Its cardinality is the managed inventory, and the gauge is
// rebuilt on every scan so a deleted credential disappears with the next one.
import { readdirSync, readFileSync } from "node:fs";
import { CREDENTIAL_STATES, type InventoryItem } from "../core/inventory/inventory-item.ts";
import { PROVIDERS } from "../core/providers/provider-registry.ts";
import { AUDIT_MALFORMED_REASONS, AUDIT_SKIP_REASONS } from "../core/readers/audit-line.ts";
import type { RotationOutcome } from "../core/rotation/rotation-outcome.ts";
import { AUDIT_EVENT_TYPES, type AuditEventType } from "../core/rotation/rotation-state.ts";

const OUTCOMES = ["completed", "waiting", "failed", "rolled_back"] as const;
const SINK_NAMES = ["file", "syslog", "http", "stderr"] as const;
const TARGET_KINDS = ["slack", "teams", "webhook", "stderr"] as const;
const HTTP_ACCESS = ["read", "write"] as const;
const UNAUTHORIZED_REASONS = ["missing", "malformed", "wrong"] as const;

export interface DaemonMetrics {
  recordScan(items: readonly InventoryItem[], at: Date, durationMs: number): void;
  recordScanFailure(): void;
  recordOutcome(outcome: RotationOutcome, provider: string | undefined): void;
  recordStep(event: AuditEventType, seconds: number): void;
  recordAuditFailure(sink: string): void;
  /** An audit sink took an event (file: its line is written and synced). */
  recordAuditEvent(sink: string): void;
  recordNotification(kind: string, ok: boolean): void;
  recordApiUsage(connection: string, used: number, max: number): void;
  recordReportSent(): void;
  recordUnauthorized(access: string, reason: string): void;
  /** One audit line the reader feed judged (kept, skipped or malformed, with the reason), and the readers known. */
  recordReaderEvent(result: string, reason: string | undefined, readersKnown: number): void;
  text(): Promise<{ contentType: string; body: string }>;
}

/** Every provider, and "none" for entries without one (unmanaged, unreadable). */
const PROVIDER_LABELS = [...PROVIDERS.providerNames, "none"];

function providerLabel(provider: string | undefined): string {
  return PROVIDERS.providerNames.includes(provider ?? "") ? (provider as string) : "none";
}

/** Maps a value outside a closed set to "other" so a label can never carry free text. */
function closed<T extends string>(set: readonly T[], value: string | undefined): T | "other" {
  return (set as readonly string[]).includes(value ?? "") ? (value as T) : "other";
}

export function createDaemonMetrics(opts: {
  version: string;
  connections: readonly string[];
}): DaemonMetrics {
  const registry = new Registry();
  processMetrics(registry, "eca_rotator_");
  const connections = new Set(opts.connections);

  new Gauge({
    name: "eca_rotator_build_info",
    help: "Always 1; the version label says which build runs.",
    labelNames: ["version"],
    registry,
  }).set({ version: opts.version }, 1);

  const rotations = new Counter({
    name: "eca_rotator_rotations_total",
    help: "Rotation engine calls that did something, by outcome and provider (waiting: published, soaking; failed: an attempt failed).",
    labelNames: ["outcome", "provider"],
    registry,
  });
  const rotationSeconds = new Histogram({
    name: "eca_rotator_rotation_duration_seconds",
    help: "Completed rotations, from start to close (including soak and propagation waits).",
    labelNames: ["mode"],
    buckets: [1, 5, 30, 60, 300, 900, 1800, 3600, 7200, 86_400],
    registry,
  });
  const stepSeconds = new Histogram({
    name: "eca_rotator_rotation_step_duration_seconds",
    help: "Time from the previous audit event of the same rotation to this one, by the event that ends the step.",
    labelNames: ["event"],
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900],
    registry,
  });
  // One series per managed credential, read from the last scan's items when scraped: a gauge filled on each
  // scan would keep a second copy of every path (label set, hash key, value) and rebuild it every cycle.
  let scanned: readonly InventoryItem[] = [];
  new ScanDerivedGauge(
    {
      name: "eca_rotator_credential_deadline_seconds",
      help: "Seconds until each managed credential's rotation deadline (negative when overdue), as of the last scan.",
      labelNames: ["path", "provider"],
      registry,
    },
    () => {
      const values: { value: number; labels: { path: string; provider: string } }[] = [];
      for (const item of scanned) {
        if (item.state !== "unmanaged" && item.secondsToDeadline !== undefined) {
          values.push({
            value: item.secondsToDeadline,
            labels: { path: item.path, provider: closed(PROVIDERS.providerNames, item.provider) },
          });
        }
      }
      return values;
    },
  );
  const byState = new Gauge({
    name: "eca_rotator_credentials",
    help: "Credentials by state and provider (none: unmanaged or unreadable), as of the last scan.",
    labelNames: ["state", "provider"],
    registry,
  });
  const lastScan = new Gauge({
    name: "eca_rotator_last_successful_scan_timestamp_seconds",
    help: "Unix time of the last scan that completed.",
    registry,
  });
  const scanSeconds = new Histogram({
    name: "eca_rotator_scan_duration_seconds",
    help: "Wall time of a scan-and-act cycle.",
    buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    registry,
  });
  const scanFailures = new Counter({
    name: "eca_rotator_scan_failures_total",
    help: "Cycles that could not scan (Vault unreachable, token refused).",
    registry,
  });
  const auditFailures = new Counter({
    name: "eca_rotator_audit_failures_total",
    help: "Audit events a sink could not take after its retries (the rotation went on).",
    labelNames: ["sink"],
    registry,
  });
  // Compared with the audit file's line count, it shows lines cut off the file's end (which the chain cannot).
  const auditEvents = new Counter({
    name: "eca_rotator_audit_events_total",
    help: "Audit events a sink took (file: the line is written and synced; http: queued for a batch).",
    labelNames: ["sink"],
    registry,
  });
  const notifications = new Counter({
    name: "eca_rotator_notifications_total",
    help: "Chat messages by target kind and result (failed: after retries; the rotation went on).",
    labelNames: ["target", "result"],
    registry,
  });
  const apiUsage = new Gauge({
    name: "eca_rotator_salesforce_api_usage_ratio",
    help: "Share of the org's daily API limit used, from the last Sforce-Limit-Info header per connection.",
    labelNames: ["connection"],
    registry,
  });
  const reports = new Counter({
    name: "eca_rotator_weekly_reports_sent_total",
    help: "Weekly expiry reports this replica sent (one per period across all replicas).",
    registry,
  });

  const unauthorized = new Counter({
    name: "eca_rotator_http_unauthorized_total",
    help: "HTTP requests refused with 401, by access (read: a GET route behind read tokens; write: rotate) and reason (missing, malformed or wrong token).",
    labelNames: ["access", "reason"],
    registry,
  });

  const readerEvents = new Counter({
    name: "eca_rotator_reader_events_total",
    help: "Audit lines the reader feed took, by result (kept, skipped, malformed) and reason (none when kept).",
    labelNames: ["result", "reason"],
    registry,
  });
  const readersKnown = new Gauge({
    name: "eca_rotator_readers_known",
    help: "Readers (per credential path) this replica's reader book holds.",
    registry,
  });
  const byReaders = new Gauge({
    name: "eca_rotator_credentials_by_readers",
    help: "Credentials by their readers in readers.window as of the last scan: none, all_current (every reader read the current version) or some_lagging.",
    labelNames: ["state"],
    registry,
  });
  const READER_REASONS = [...AUDIT_SKIP_REASONS, ...AUDIT_MALFORMED_REASONS, "none"] as const;

  // Closed label sets start at zero so dashboards and alerts see the series before the first event.
  readerEvents.inc({ result: "kept", reason: "none" }, 0);
  for (const reason of AUDIT_SKIP_REASONS) readerEvents.inc({ result: "skipped", reason }, 0);
  for (const reason of AUDIT_MALFORMED_REASONS) readerEvents.inc({ result: "malformed", reason }, 0);
  for (const access of HTTP_ACCESS) {
    for (const reason of UNAUTHORIZED_REASONS) unauthorized.inc({ access, reason }, 0);
  }
  for (const state of CREDENTIAL_STATES) {
    for (const provider of PROVIDER_LABELS) byState.set({ state, provider }, 0);
  }
  for (const sink of SINK_NAMES) {
    auditFailures.inc({ sink }, 0);
    auditEvents.inc({ sink }, 0);
  }
  for (const target of TARGET_KINDS) {
    notifications.inc({ target, result: "sent" }, 0);
    notifications.inc({ target, result: "failed" }, 0);
  }
  for (const outcome of OUTCOMES) {
    for (const provider of PROVIDERS.providerNames) rotations.inc({ outcome, provider }, 0);
  }

  return {
    recordScan(items, at, durationMs) {
      const counts = new Map<string, number>();
      scanned = items;
      for (const item of items) {
        const key = `${item.state} ${providerLabel(item.provider)}`;
        counts.set(key, (counts.get(key) ?? 0) + 1);
      }
      for (const state of CREDENTIAL_STATES) {
        for (const provider of PROVIDER_LABELS) {
          byState.set({ state, provider }, counts.get(`${state} ${provider}`) ?? 0);
        }
      }
      const readers = { none: 0, all_current: 0, some_lagging: 0 };
      for (const { readers: r } of items) {
        if (r !== undefined)
          readers[r.total === 0 ? "none" : r.onCurrent === r.total ? "all_current" : "some_lagging"]++;
      }
      for (const [state, n] of Object.entries(readers)) byReaders.set({ state }, n);
      lastScan.set(at.getTime() / 1000);
      scanSeconds.observe(durationMs / 1000);
    },
    recordScanFailure() {
      scanFailures.inc();
    },
    recordOutcome(outcome, provider) {
      rotations.inc({
        outcome: closed(OUTCOMES, outcome.kind),
        provider: closed(PROVIDERS.providerNames, provider),
      });
      if (outcome.kind === "completed") {
        rotationSeconds.observe(
          { mode: closed(["standard", "emergency"], outcome.mode) },
          outcome.durationMs / 1000,
        );
      }
    },
    recordStep(event, seconds) {
      stepSeconds.observe({ event: closed(AUDIT_EVENT_TYPES, event) }, seconds);
    },
    recordAuditFailure(sink) {
      auditFailures.inc({ sink: closed(SINK_NAMES, sink) });
    },
    recordAuditEvent(sink) {
      auditEvents.inc({ sink: closed(SINK_NAMES, sink) });
    },
    recordNotification(kind, ok) {
      notifications.inc({ target: closed(TARGET_KINDS, kind), result: ok ? "sent" : "failed" });
    },
    recordApiUsage(connection, used, max) {
      if (!connections.has(connection) || max <= 0) return;
      apiUsage.set({ connection }, used / max);
    },
    recordReportSent() {
      reports.inc();
    },
    recordUnauthorized(access, reason) {
      unauthorized.inc({ access: closed(HTTP_ACCESS, access), reason: closed(UNAUTHORIZED_REASONS, reason) });
    },
    recordReaderEvent(result, reason, known) {
      readerEvents.inc({
        result: closed(["kept", "skipped", "malformed"], result),
        reason: closed(READER_REASONS, reason ?? "none"),
      });
      readersKnown.set(known);
    },
    async text() {
      return { contentType: CONTENT_TYPE, body: await registry.metrics() };
    },
  };
}

// A Prometheus text-format (0.0.4) writer: counters, gauges and histograms with labels, HELP and TYPE before each
// family's samples, series in the order they first appeared.

const CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

type Labels<L extends string> = Partial<Record<L, string>>;

interface MetricConfig<L extends string> {
  readonly name: string;
  readonly help: string;
  readonly labelNames?: readonly L[];
  readonly registry: Registry;
}

/** The exposition's escapes: backslash and newline everywhere, and the double quote inside label values. */
const escapeHelp = (text: string): string => text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
const escapeLabel = (value: string): string => escapeHelp(value).replace(/"/g, '\\"');

function formatValue(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Number.POSITIVE_INFINITY) return "+Inf";
  if (value === Number.NEGATIVE_INFINITY) return "-Inf";
  return String(value);
}

/** `{a="x",b="y"}` in the declared label order ("" for none); `extra` is a rendered pair such as `le="1"`. */
function labelText<L extends string>(names: readonly L[], labels: Labels<L>, extra?: string): string {
  const pairs: string[] = [];
  for (const name of names) {
    const value = labels[name];
    if (value !== undefined) pairs.push(`${name}="${escapeLabel(value)}"`);
  }
  if (extra !== undefined) pairs.push(extra);
  return pairs.length === 0 ? "" : `{${pairs.join(",")}}`;
}

class Registry {
  readonly #metrics: Metric[] = [];
  readonly #collectors: (() => Promise<void> | void)[] = [];

  add(metric: Metric): void {
    if (this.#metrics.some((m) => m.name === metric.name)) throw new Error(`metric ${metric.name} twice`);
    this.#metrics.push(metric);
  }

  /** Runs before every exposition, for values read from the process at scrape time. */
  onCollect(collect: () => Promise<void> | void): void {
    this.#collectors.push(collect);
  }

  async metrics(): Promise<string> {
    for (const collect of this.#collectors) await collect();
    const out: string[] = [];
    for (const m of this.#metrics) {
      out.push(`# HELP ${m.name} ${escapeHelp(m.help)}`, `# TYPE ${m.name} ${m.type}`);
      m.samples(out);
    }
    return `${out.join("\n")}\n`;
  }
}

abstract class Metric<L extends string = string> {
  abstract readonly type: "counter" | "gauge" | "histogram";
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly L[];

  constructor(config: MetricConfig<L>) {
    this.name = config.name;
    this.help = config.help;
    this.labelNames = config.labelNames ?? [];
    config.registry.add(this);
  }

  /** Appends this family's sample lines to `out`. */
  abstract samples(out: string[]): void;
}

/** A counter or gauge: one number per label set, keyed by its rendered labels. */
abstract class Scalar<L extends string> extends Metric<L> {
  protected readonly series = new Map<string, number>();

  constructor(config: MetricConfig<L>) {
    super(config);
    // An unlabelled series exists from the start, at zero.
    if (this.labelNames.length === 0) this.series.set("", 0);
  }

  protected add(labels: Labels<L>, by: number, replace: boolean): void {
    const key = labelText(this.labelNames, labels);
    this.series.set(key, (replace ? 0 : (this.series.get(key) ?? 0)) + by);
  }

  samples(out: string[]): void {
    for (const [labels, value] of this.series) out.push(`${this.name}${labels} ${formatValue(value)}`);
  }
}

class Counter<L extends string> extends Scalar<L> {
  readonly type = "counter";

  inc(labels: Labels<L> = {}, by = 1): void {
    if (!(by >= 0)) throw new Error(`counter ${this.name} cannot go down`);
    this.add(labels, by, false);
  }

  /** For a total the process keeps itself (CPU time), read at scrape. */
  setTotal(value: number): void {
    this.add({}, value, true);
  }
}

class Gauge<L extends string> extends Scalar<L> {
  readonly type = "gauge";

  set(labelsOrValue: Labels<L> | number, value?: number): void {
    if (typeof labelsOrValue === "number") this.add({}, labelsOrValue, true);
    else this.add(labelsOrValue, value ?? 0, true);
  }
}

/** A gauge whose series are computed when scraped (from state the daemon keeps anyway), never stored. */
class ScanDerivedGauge<L extends string> extends Metric<L> {
  readonly type = "gauge";
  readonly #values: () => { value: number; labels: Labels<L> }[];

  constructor(config: MetricConfig<L>, values: () => { value: number; labels: Labels<L> }[]) {
    super(config);
    this.#values = values;
  }

  samples(out: string[]): void {
    for (const { value, labels } of this.#values()) {
      out.push(`${this.name}${labelText(this.labelNames, labels)} ${formatValue(value)}`);
    }
  }
}

interface HistogramSeries<L extends string> {
  readonly labels: Labels<L>;
  /** Observations per bucket (not cumulative); the last slot is above the highest bound. */
  readonly counts: number[];
  sum: number;
  count: number;
}

class Histogram<L extends string> extends Metric<L> {
  readonly type = "histogram";
  readonly #buckets: readonly number[];
  readonly #series = new Map<string, HistogramSeries<L>>();

  constructor(config: MetricConfig<L> & { buckets: readonly number[] }) {
    super(config);
    this.#buckets = [...config.buckets].sort((a, b) => a - b);
    if (this.labelNames.length === 0) this.#seriesOf({});
  }

  observe(labelsOrValue: Labels<L> | number, value?: number): void {
    const labels = typeof labelsOrValue === "number" ? {} : labelsOrValue;
    const v = typeof labelsOrValue === "number" ? labelsOrValue : (value ?? 0);
    const s = this.#seriesOf(labels);
    const found = this.#buckets.findIndex((bound) => v <= bound);
    const i = found === -1 ? this.#buckets.length : found;
    s.counts[i] = (s.counts[i] ?? 0) + 1;
    s.sum += v;
    s.count += 1;
  }

  #seriesOf(labels: Labels<L>): HistogramSeries<L> {
    const key = labelText(this.labelNames, labels);
    let s = this.#series.get(key);
    if (s === undefined) {
      s = {
        labels: { ...labels },
        counts: new Array<number>(this.#buckets.length + 1).fill(0),
        sum: 0,
        count: 0,
      };
      this.#series.set(key, s);
    }
    return s;
  }

  samples(out: string[]): void {
    for (const [labels, s] of this.#series) {
      let cumulative = 0;
      this.#buckets.forEach((bound, i) => {
        cumulative += s.counts[i] ?? 0;
        out.push(
          `${this.name}_bucket${labelText(this.labelNames, s.labels, `le="${formatValue(bound)}"`)} ${cumulative}`,
        );
      });
      out.push(`${this.name}_bucket${labelText(this.labelNames, s.labels, 'le="+Inf"')} ${s.count}`);
      out.push(`${this.name}_sum${labels} ${formatValue(s.sum)}`, `${this.name}_count${labels} ${s.count}`);
    }
  }
}

/**
 * The process metrics worth their cost, read from Node when scraped: CPU seconds, start time, resident memory,
 * V8 heap, open and maximum file descriptors (Linux), event-loop lag and the Node.js version. Names and help
 * texts are the ones Prometheus client libraries use, so stock dashboards find them.
 */
function processMetrics(registry: Registry, prefix: string): void {
  const cpuUser = new Counter({
    name: `${prefix}process_cpu_user_seconds_total`,
    help: "Total user CPU time spent in seconds.",
    registry,
  });
  const cpuSystem = new Counter({
    name: `${prefix}process_cpu_system_seconds_total`,
    help: "Total system CPU time spent in seconds.",
    registry,
  });
  const cpu = new Counter({
    name: `${prefix}process_cpu_seconds_total`,
    help: "Total user and system CPU time spent in seconds.",
    registry,
  });
  const started = Math.round(Date.now() / 1000 - process.uptime());
  new Gauge({
    name: `${prefix}process_start_time_seconds`,
    help: "Start time of the process since unix epoch in seconds.",
    registry,
  }).set(started);
  const rss = new Gauge({
    name: `${prefix}process_resident_memory_bytes`,
    help: "Resident memory size in bytes.",
    registry,
  });
  const linux = process.platform === "linux";
  const openFds = linux
    ? new Gauge({ name: `${prefix}process_open_fds`, help: "Number of open file descriptors.", registry })
    : undefined;
  const maxFds = linux
    ? new Gauge({
        name: `${prefix}process_max_fds`,
        help: "Maximum number of open file descriptors.",
        registry,
      })
    : undefined;
  const heapTotal = new Gauge({
    name: `${prefix}nodejs_heap_size_total_bytes`,
    help: "Process heap size from Node.js in bytes.",
    registry,
  });
  const heapUsed = new Gauge({
    name: `${prefix}nodejs_heap_size_used_bytes`,
    help: "Process heap size used from Node.js in bytes.",
    registry,
  });
  const external = new Gauge({
    name: `${prefix}nodejs_external_memory_bytes`,
    help: "Node.js external memory size in bytes.",
    registry,
  });
  const lag = new Gauge({
    name: `${prefix}nodejs_eventloop_lag_seconds`,
    help: "Lag of event loop in seconds.",
    registry,
  });
  const [major = "", minor = "", patch = ""] = process.versions.node.split(".");
  new Gauge({
    name: `${prefix}nodejs_version_info`,
    help: "Node.js version info.",
    labelNames: ["version", "major", "minor", "patch"],
    registry,
  }).set({ version: process.version, major, minor, patch }, 1);

  registry.onCollect(async () => {
    const usage = process.cpuUsage();
    cpuUser.setTotal(usage.user / 1e6);
    cpuSystem.setTotal(usage.system / 1e6);
    cpu.setTotal((usage.user + usage.system) / 1e6);
    const mem = process.memoryUsage();
    rss.set(mem.rss);
    heapTotal.set(mem.heapTotal);
    heapUsed.set(mem.heapUsed);
    external.set(mem.external);
    if (openFds !== undefined && maxFds !== undefined) {
      try {
        // The listing holds the descriptor it is read through as well.
        openFds.set(readdirSync("/proc/self/fd").length - 1);
        const limit = /^Max open files\s+(\d+)/m.exec(readFileSync("/proc/self/limits", "utf8"))?.[1];
        if (limit !== undefined) maxFds.set(Number(limit));
      } catch {
        // No /proc (a sandbox): the two gauges keep their last values.
      }
    }
    // Time from now to the next turn of the event loop: how long ready callbacks wait.
    const t0 = process.hrtime.bigint();
    await new Promise<void>((resolve) => setImmediate(resolve));
    lag.set(Number(process.hrtime.bigint() - t0) / 1e9);
  });
}
