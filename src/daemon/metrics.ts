// The daemon's Prometheus metrics, on a registry of its own so tests can build several. Label
// values come only from closed sets (states, outcomes, providers, audit event types, sink and target kinds,
// connection names fixed at start-up) with one deliberate exception: `path` on the deadline gauge, because the
// contract asks for "seconds to each deadline". Its cardinality is the managed inventory, and the gauge is
// rebuilt on every scan so a deleted credential disappears with the next one.
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import { CREDENTIAL_STATES, type InventoryItem } from "../core/inventory/inventory-item.ts";
import { PROVIDERS } from "../core/providers/provider-registry.ts";
import { AUDIT_MALFORMED_REASONS, AUDIT_SKIP_REASONS } from "../core/readers/audit-line.ts";
import { AUDIT_EVENT_TYPES, type AuditEventType } from "../core/rotation/audit-events.ts";
import type { RotationOutcome } from "../core/rotation/rotation-outcome.ts";

const OUTCOMES = ["completed", "waiting", "failed", "rolled_back"] as const;
const SINK_NAMES = ["file", "syslog", "http", "stderr"] as const;
const TARGET_KINDS = ["slack", "teams", "webhook", "stderr"] as const;
const HTTP_ACCESS = ["read", "write"] as const;
const UNAUTHORIZED_REASONS = ["missing", "malformed", "wrong"] as const;

export interface DaemonMetrics {
  readonly registry: Registry;
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
  collectDefaultMetrics({ register: registry, prefix: "eca_rotator_" });
  // prom-client names three of its default gauges *_total, which promtool's lint (rightly) rejects.
  for (const suffix of ["active_handles_total", "active_requests_total", "active_resources_total"]) {
    registry.removeSingleMetric(`eca_rotator_nodejs_${suffix}`);
  }
  const connections = new Set(opts.connections);

  new Gauge({
    name: "eca_rotator_build_info",
    help: "Always 1; the version label says which build runs.",
    labelNames: ["version"],
    registers: [registry],
  }).set({ version: opts.version }, 1);

  const rotations = new Counter({
    name: "eca_rotator_rotations_total",
    help: "Rotation engine calls that did something, by outcome and provider (waiting: published, soaking; failed: an attempt failed).",
    labelNames: ["outcome", "provider"],
    registers: [registry],
  });
  const rotationSeconds = new Histogram({
    name: "eca_rotator_rotation_duration_seconds",
    help: "Completed rotations, from start to close (including soak and propagation waits).",
    labelNames: ["mode"],
    buckets: [1, 5, 30, 60, 300, 900, 1800, 3600, 7200, 86_400],
    registers: [registry],
  });
  const stepSeconds = new Histogram({
    name: "eca_rotator_rotation_step_duration_seconds",
    help: "Time from the previous audit event of the same rotation to this one, by the event that ends the step.",
    labelNames: ["event"],
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900],
    registers: [registry],
  });
  // One series per managed credential, read from the last scan's items when scraped: a gauge filled on each
  // scan would keep a second copy of every path (label set, hash key, value) and rebuild it every cycle.
  let scanned: readonly InventoryItem[] = [];
  new ScanDerivedGauge(
    {
      name: "eca_rotator_credential_deadline_seconds",
      help: "Seconds until each managed credential's rotation deadline (negative when overdue), as of the last scan.",
      labelNames: ["path", "provider"],
      registers: [registry],
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
    registers: [registry],
  });
  const lastScan = new Gauge({
    name: "eca_rotator_last_successful_scan_timestamp_seconds",
    help: "Unix time of the last scan that completed.",
    registers: [registry],
  });
  const scanSeconds = new Histogram({
    name: "eca_rotator_scan_duration_seconds",
    help: "Wall time of a scan-and-act cycle.",
    buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    registers: [registry],
  });
  const scanFailures = new Counter({
    name: "eca_rotator_scan_failures_total",
    help: "Cycles that could not scan (Vault unreachable, token refused).",
    registers: [registry],
  });
  const auditFailures = new Counter({
    name: "eca_rotator_audit_failures_total",
    help: "Audit events a sink could not take after its retries (the rotation went on).",
    labelNames: ["sink"],
    registers: [registry],
  });
  // Compared with the audit file's line count, it shows lines cut off the file's end (which the chain cannot).
  const auditEvents = new Counter({
    name: "eca_rotator_audit_events_total",
    help: "Audit events a sink took (file: the line is written and synced; http: queued for a batch).",
    labelNames: ["sink"],
    registers: [registry],
  });
  const notifications = new Counter({
    name: "eca_rotator_notifications_total",
    help: "Chat messages by target kind and result (failed: after retries; the rotation went on).",
    labelNames: ["target", "result"],
    registers: [registry],
  });
  const apiUsage = new Gauge({
    name: "eca_rotator_salesforce_api_usage_ratio",
    help: "Share of the org's daily API limit used, from the last Sforce-Limit-Info header per connection.",
    labelNames: ["connection"],
    registers: [registry],
  });
  const reports = new Counter({
    name: "eca_rotator_weekly_reports_sent_total",
    help: "Weekly expiry reports this replica sent (one per period across all replicas).",
    registers: [registry],
  });

  const unauthorized = new Counter({
    name: "eca_rotator_http_unauthorized_total",
    help: "HTTP requests refused with 401, by access (read: a GET route behind read tokens; write: rotate) and reason (missing, malformed or wrong token).",
    labelNames: ["access", "reason"],
    registers: [registry],
  });

  const readerEvents = new Counter({
    name: "eca_rotator_reader_events_total",
    help: "Audit lines the reader feed took, by result (kept, skipped, malformed) and reason (none when kept).",
    labelNames: ["result", "reason"],
    registers: [registry],
  });
  const readersKnown = new Gauge({
    name: "eca_rotator_readers_known",
    help: "Readers (per credential path) this replica's reader book holds.",
    registers: [registry],
  });
  const byReaders = new Gauge({
    name: "eca_rotator_credentials_by_readers",
    help: "Credentials by their readers in readers.window as of the last scan: none, all_current (every reader read the current version) or some_lagging.",
    labelNames: ["state"],
    registers: [registry],
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
    registry,
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
      return { contentType: registry.contentType, body: await registry.metrics() };
    },
  };
}

/** A gauge whose series are computed when scraped (from state the daemon keeps anyway), never stored. */
class ScanDerivedGauge<T extends string> extends Gauge<T> {
  readonly #values: () => { value: number; labels: Partial<Record<T, string>> }[];

  constructor(
    config: ConstructorParameters<typeof Gauge<T>>[0],
    values: () => { value: number; labels: Partial<Record<T, string>> }[],
  ) {
    super(config);
    this.#values = values;
  }

  override async get() {
    const base = await super.get();
    return { ...base, values: this.#values() };
  }
}
