// The weekly expiry report (Mondays 09:00 UTC by default; report.schedule). At each scheduled time
// every replica wakes, one of them claims the period in Vault (report-claim.ts) and sends the report to the
// chat targets subscribed to report.weekly. A replica that starts within a day after a scheduled time nobody
// claimed (all were down at 09:00) sends it late rather than not at all. The schedule runs at the fixed UTC
// offset 0 (utcOffset), not in the time zone "UTC": croner evaluates a time zone through Intl.DateTimeFormat,
// which pulls ICU's zone data into the process (about 6 MB resident) for a zone without offset changes.
import { Cron } from "croner";
import type { KvV2 } from "../adapters/vault/kv-v2.ts";
import { classifyError } from "../core/errors.ts";
import type { InventoryItem } from "../core/inventory/inventory-item.ts";
import type { WeeklyReportChatEvent } from "../core/notify/chat-event.ts";
import { buildExpiryReport } from "../core/report/expiry-report.ts";
import type { Clock } from "../core/time.ts";
import type { Logger } from "./logger.ts";
import { claimReportPeriod, reportPeriod } from "./report-claim.ts";

const CATCH_UP_MS = 24 * 3_600_000;
const TOP_ITEMS = 10;

export interface WeeklyReportDeps {
  readonly schedule: string;
  readonly kv: Pick<KvV2, "readData" | "writeData">;
  /** <state_prefix>/reports/weekly */
  readonly entryPath: string;
  readonly owner: string;
  readonly clock: Clock;
  readonly log: Logger;
  readonly scan: () => Promise<readonly InventoryItem[]>;
  readonly send: (event: WeeklyReportChatEvent) => Promise<void>;
  readonly onSent: () => void;
}

export type ReportRun = "sent" | "claimed_elsewhere" | "failed";

export class WeeklyReportJob {
  readonly #d: WeeklyReportDeps;
  #cron: Cron | undefined;

  constructor(deps: WeeklyReportDeps) {
    this.#d = deps;
  }

  /** Starts the schedule; returns the late run for a missed period, if one is due (for logging and tests). */
  start(): Promise<ReportRun | undefined> {
    this.#cron = new Cron(this.#d.schedule, { utcOffset: 0, protect: true }, async (self: Cron) => {
      await this.runFor(scheduledRunAt(this.#d.schedule, self.currentRun() ?? this.#d.clock.now()));
    });
    const now = this.#d.clock.now();
    const missed = new Cron(this.#d.schedule, { utcOffset: 0, paused: true }).previousRuns(1, now)[0];
    if (missed === undefined || now.getTime() - missed.getTime() > CATCH_UP_MS)
      return Promise.resolve(undefined);
    return this.runFor(missed);
  }

  nextRun(): Date | undefined {
    return this.#cron?.nextRun() ?? undefined;
  }

  /** Stops the schedule and waits for a run already under way (a report half-sent at shutdown helps nobody). */
  async stop(): Promise<void> {
    this.#cron?.stop();
    await Promise.allSettled([...this.#runs]);
  }

  readonly #runs = new Set<Promise<ReportRun>>();

  runFor(scheduledAt: Date): Promise<ReportRun> {
    const run = this.#runFor(scheduledAt).finally(() => this.#runs.delete(run));
    this.#runs.add(run);
    return run;
  }

  async #runFor(scheduledAt: Date): Promise<ReportRun> {
    const d = this.#d;
    const period = reportPeriod(scheduledAt);
    try {
      // Scan first: a scan that fails (Vault down) leaves the period unclaimed for a replica that can.
      const items = await d.scan();
      if (!(await claimReportPeriod(d.kv, d.entryPath, period, d.owner, d.clock.now()))) {
        d.log.info({ period }, "weekly report: another replica has it");
        return "claimed_elsewhere";
      }
      await d.send(weeklyEvent(items, d.clock.now(), period));
      d.onSent();
      d.log.info({ period, credentials: items.length }, "weekly report sent");
      return "sent";
    } catch (err) {
      // Claimed but not sent: that period is lost rather than sent twice; `report` produces it on demand.
      d.log.error({ period, code: classifyError(err) }, "weekly report failed");
      return "failed";
    }
  }
}

/**
 * The scheduled time a run that fired at `firedAt` belongs to. Croner's currentRun() is the time the callback
 * actually started, not the scheduled one: a timer that fires a minute late (a busy event loop, a suspended VM)
 * would name another period, and its claim would win over the on-time replica's, sending the report twice.
 */
export function scheduledRunAt(schedule: string, firedAt: Date): Date {
  // previousRuns() excludes its reference instant itself: one millisecond later includes a run at firedAt.
  const at = new Date(firedAt.getTime() + 1);
  return new Cron(schedule, { utcOffset: 0, paused: true }).previousRuns(1, at)[0] ?? firedAt;
}

export function weeklyEvent(
  items: readonly InventoryItem[],
  at: Date,
  period: string,
): WeeklyReportChatEvent {
  const report = buildExpiryReport(items, at);
  const t = report.totals;
  const topItems = report.sections
    .filter((s) => s.attention)
    .flatMap((s) => s.items.map((i) => ({ path: i.path, state: s.id, deadline: i.deadline })))
    .slice(0, TOP_ITEMS);
  return {
    kind: "report.weekly",
    at,
    period,
    totals: {
      all: t.all,
      managed: t.managed,
      needingAttention: t.needingAttention,
      overdue: t.byState.overdue,
      dueSoon: t.byState.due_soon,
      failed: t.byState.failed,
    },
    topItems,
    readers:
      report.readers === undefined
        ? undefined
        : {
            noReader: report.readers.noReader.length,
            lagging: report.readers.lagging.length,
            discovery: report.readers.discovery.length,
          },
  };
}
