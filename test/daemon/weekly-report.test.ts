// WeeklyReportJob with the claim in the real Vault (two jobs on separate connections act as two replicas),
// a recording `send` and a FixedClock; and the weekly chat event built from a scan.
import { Cron } from "croner";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import type { KvV2 } from "../../src/adapters/vault/kv-v2.ts";
import { RotatorError } from "../../src/core/errors.ts";
import type { InventoryItem } from "../../src/core/inventory/inventory-item.ts";
import type { WeeklyReportChatEvent } from "../../src/core/notify/chat-event.ts";
import { FixedClock } from "../../src/core/time.ts";
import { createLogger } from "../../src/daemon/logger.ts";
import {
  scheduledRunAt,
  type WeeklyReportDeps,
  WeeklyReportJob,
  weeklyEvent,
} from "../../src/daemon/weekly-report.ts";
import { rootKv } from "../adapters/vault/vault-test-kit.ts";
import { admin, uniqueName } from "../support/vault-admin.ts";

const MOUNT = "secret";
const SCHEDULE = "0 9 * * 1"; // Mondays 09:00 UTC
const MONDAY_9 = new Date("2026-11-23T09:00:00.000Z");
const HOUR = 3_600_000;

const kvs: KvV2[] = [];
const jobs: WeeklyReportJob[] = [];
afterEach(() => {
  for (const j of jobs.splice(0)) j.stop();
});
afterAll(async () => {
  for (const kv of kvs) await kv.client.close();
});

function item(path: string, state: InventoryItem["state"], deadline?: string): InventoryItem {
  return {
    path,
    state,
    provider: state === "unmanaged" ? undefined : "salesforce-eca",
    consumers: [],
    stuck: false,
    deadline: deadline === undefined ? undefined : new Date(deadline),
  };
}

const SCAN: InventoryItem[] = [
  item("api-credentials/late", "overdue", "2026-11-20T00:00:00Z"),
  item("api-credentials/soon", "due_soon", "2026-11-30T00:00:00Z"),
  item("api-credentials/fine", "ok", "2027-01-01T00:00:00Z"),
];

interface Replica {
  readonly job: WeeklyReportJob;
  readonly sent: WeeklyReportChatEvent[];
  readonly logLines: string[];
  /** How many times onSent was called. */
  onSent(): number;
}

async function replica(
  entryPath: string,
  opts: {
    clock?: FixedClock;
    scan?: () => Promise<readonly InventoryItem[]>;
    send?: () => Promise<void>;
  } = {},
): Promise<Replica> {
  const kv = await rootKv(MOUNT);
  kvs.push(kv);
  const sent: WeeklyReportChatEvent[] = [];
  const logLines: string[] = [];
  let sentCount = 0;
  const deps: WeeklyReportDeps = {
    schedule: SCHEDULE,
    kv,
    entryPath,
    owner: uniqueName("replica"),
    clock: opts.clock ?? new FixedClock(new Date(MONDAY_9.getTime() + 2_000)),
    log: createLogger("info", { write: (line: string) => void logLines.push(line) }),
    scan: opts.scan ?? (async () => SCAN),
    send: async (event) => {
      await opts.send?.();
      sent.push(event);
    },
    onSent: () => {
      sentCount += 1;
    },
  };
  const job = new WeeklyReportJob(deps);
  jobs.push(job);
  return { job, sent, logLines, onSent: () => sentCount };
}

function entryPath(): string {
  return `${uniqueName("rotator-state")}/reports/weekly`;
}

async function claimed(path: string): Promise<string | undefined> {
  const res = await admin().request("GET", `${MOUNT}/data/${path}`);
  if (res.status === 404) return undefined;
  return (res.body as { data: { data: { period: string } } }).data.data.period;
}

describe("WeeklyReportJob.runFor", () => {
  it("sends once per period even with two replicas sharing the store", async () => {
    const path = entryPath();
    const a = await replica(path);
    const b = await replica(path);
    const results = await Promise.all([a.job.runFor(MONDAY_9), b.job.runFor(MONDAY_9)]);
    expect(results.sort()).toEqual(["claimed_elsewhere", "sent"]);
    expect(a.sent.length + b.sent.length).toBe(1);
    expect(a.onSent() + b.onSent()).toBe(1);
    const event = [...a.sent, ...b.sent][0];
    expect(event).toMatchObject({ kind: "report.weekly", period: "2026-11-23T09:00Z" });
    expect(await claimed(path)).toBe("2026-11-23T09:00Z");

    // Running the same period again (a second timer, a restart) sends nothing.
    expect(await a.job.runFor(MONDAY_9)).toBe("claimed_elsewhere");
    expect(await b.job.runFor(MONDAY_9)).toBe("claimed_elsewhere");

    // The next week is sent once more, by one of them.
    const next = new Date(MONDAY_9.getTime() + 7 * 24 * HOUR);
    const again = await Promise.all([b.job.runFor(next), a.job.runFor(next)]);
    expect(again.sort()).toEqual(["claimed_elsewhere", "sent"]);
    expect(a.sent.length + b.sent.length).toBe(2);
    expect(await claimed(path)).toBe("2026-11-30T09:00Z");
  });

  it("leaves the period unclaimed when the scan fails, so another replica sends it", async () => {
    const path = entryPath();
    const down = await replica(path, {
      scan: async () => {
        throw new RotatorError("VAULT_UNAVAILABLE", "Vault is down", { retryable: true });
      },
    });
    const up = await replica(path);
    expect(await down.job.runFor(MONDAY_9)).toBe("failed");
    expect(down.sent).toEqual([]);
    expect(await claimed(path)).toBeUndefined();
    expect(down.logLines.join("")).toContain("VAULT_UNAVAILABLE");

    expect(await up.job.runFor(MONDAY_9)).toBe("sent");
    expect(up.sent).toHaveLength(1);
  });

  it("loses a period whose send failed after the claim rather than risk sending it twice", async () => {
    const path = entryPath();
    const broken = await replica(path, {
      send: async () => {
        throw new RotatorError("NOTIFY_FAILED", "chat is down");
      },
    });
    const other = await replica(path);
    expect(await broken.job.runFor(MONDAY_9)).toBe("failed");
    expect(broken.onSent()).toBe(0);
    expect(await claimed(path)).toBe("2026-11-23T09:00Z");
    expect(await other.job.runFor(MONDAY_9)).toBe("claimed_elsewhere");
    expect(broken.logLines.join("")).toContain("weekly report failed");
  });

  it("reports at the clock's time with totals from the scan", async () => {
    const clock = new FixedClock("2026-11-23T09:00:01.500Z");
    const r = await replica(entryPath(), { clock });
    await r.job.runFor(MONDAY_9);
    expect(r.sent[0]).toMatchObject({
      at: new Date("2026-11-23T09:00:01.500Z"),
      totals: { all: 3, managed: 3, needingAttention: 2, overdue: 1, dueSoon: 1, failed: 0 },
    });
  });
});

describe("WeeklyReportJob.start", () => {
  it("catches up a period missed less than 24 hours ago", async () => {
    const path = entryPath();
    const r = await replica(path, { clock: new FixedClock(new Date(MONDAY_9.getTime() + 23 * HOUR)) });
    expect(await r.job.start()).toBe("sent");
    expect(r.sent.map((e) => e.period)).toEqual(["2026-11-23T09:00Z"]);
    expect(await claimed(path)).toBe("2026-11-23T09:00Z");
  });

  it("does not catch up a period missed more than 24 hours ago", async () => {
    const path = entryPath();
    const r = await replica(path, { clock: new FixedClock(new Date(MONDAY_9.getTime() + 25 * HOUR)) });
    expect(await r.job.start()).toBeUndefined();
    expect(r.sent).toEqual([]);
    expect(await claimed(path)).toBeUndefined();
  });

  it("does not send a caught-up period that another replica already sent", async () => {
    const path = entryPath();
    const first = await replica(path);
    expect(await first.job.runFor(MONDAY_9)).toBe("sent");
    const late = await replica(path, { clock: new FixedClock(new Date(MONDAY_9.getTime() + HOUR)) });
    expect(await late.job.start()).toBe("claimed_elsewhere");
    expect(late.sent).toEqual([]);
  });

  it("schedules the next run at the next Monday 09:00 UTC, and has none after stop", async () => {
    const r = await replica(entryPath(), { clock: new FixedClock(new Date(MONDAY_9.getTime() + 48 * HOUR)) });
    expect(r.job.nextRun()).toBeUndefined();
    await r.job.start();
    const next = r.job.nextRun();
    expect(next).toBeInstanceOf(Date);
    expect(next?.getUTCDay()).toBe(1);
    expect(next?.toISOString().slice(11)).toBe("09:00:00.000Z");
    expect(next?.getTime()).toBeGreaterThan(Date.now());
    r.job.stop();
    expect(r.job.nextRun()).toBeUndefined();
  });
});

describe("scheduledRunAt", () => {
  it("maps a timer that fired late back to the run it was scheduled for", () => {
    expect(scheduledRunAt(SCHEDULE, new Date("2026-11-23T09:00:00.000Z"))).toEqual(MONDAY_9);
    expect(scheduledRunAt(SCHEDULE, new Date("2026-11-23T09:00:00.004Z"))).toEqual(MONDAY_9);
    expect(scheduledRunAt(SCHEDULE, new Date("2026-11-23T09:01:30.000Z"))).toEqual(MONDAY_9);
    expect(scheduledRunAt("*/5 * * * * *", new Date("2026-11-23T09:00:07.020Z"))).toEqual(
      new Date("2026-11-23T09:00:05.000Z"),
    );
  });

  it("gives the runs croner gives in the time zone UTC, over schedules, years and leap days", () => {
    const schedules = [
      "0 9 * * 1",
      "*/5 * * * *",
      "30 2 1 * *",
      "0 0 29 2 *",
      "15 14 * * 1-5",
      "59 23 31 12 *",
    ];
    let compared = 0;
    for (const schedule of schedules) {
      for (let i = 0; i < 150; i++) {
        const at = new Date(Date.UTC(2023, 0, 1) + i * 7_919 * 60_000 * 11 + (i % 7) * 1_001);
        const inZone = new Cron(schedule, { timezone: "UTC", paused: true }).previousRuns(
          1,
          new Date(at.getTime() + 1),
        );
        expect(scheduledRunAt(schedule, at), `${schedule} at ${at.toISOString()}`).toEqual(inZone[0] ?? at);
        compared += 1;
      }
    }
    expect(compared).toBe(900);
  });
});

describe("weeklyEvent", () => {
  const at = new Date("2026-11-23T09:00:00Z");

  it("counts every credential, the managed ones and those needing attention by state", () => {
    const items = [
      item("a/overdue-1", "overdue", "2026-11-01T00:00:00Z"),
      item("a/overdue-2", "overdue", "2026-11-10T00:00:00Z"),
      item("a/soon", "due_soon", "2026-11-30T00:00:00Z"),
      item("a/failed", "failed", "2026-12-30T00:00:00Z"),
      item("a/flagged", "flagged", "2027-01-30T00:00:00Z"),
      item("a/ok", "ok", "2027-02-01T00:00:00Z"),
      item("a/plain", "unmanaged"),
    ];
    const e = weeklyEvent(items, at, "2026-11-23T09:00Z");
    expect(e).toMatchObject({ kind: "report.weekly", at, period: "2026-11-23T09:00Z" });
    expect(e.totals).toEqual({
      all: 7,
      managed: 6,
      needingAttention: 5,
      overdue: 2,
      dueSoon: 1,
      failed: 1,
    });
    expect(e.topItems.map((i) => i.path)).toEqual([
      "a/overdue-1",
      "a/overdue-2",
      "a/soon",
      "a/failed",
      "a/flagged",
    ]);
    expect(e.topItems[0]).toEqual({
      path: "a/overdue-1",
      state: "overdue",
      deadline: new Date("2026-11-01T00:00:00Z"),
    });
  });

  it("lists at most ten items, the most urgent first", () => {
    const items: InventoryItem[] = [];
    for (let i = 0; i < 8; i++)
      items.push(item(`a/soon-${i}`, "due_soon", `2026-11-${24 + (i % 5)}T00:00:00Z`));
    for (let i = 0; i < 6; i++) items.push(item(`a/late-${i}`, "overdue", `2026-11-${10 + i}T00:00:00Z`));
    for (let i = 0; i < 5; i++) items.push(item(`a/ok-${i}`, "ok", "2027-06-01T00:00:00Z"));
    const top = weeklyEvent(items, at, "p").topItems;
    expect(top).toHaveLength(10);
    expect(top.slice(0, 6).map((i) => i.path)).toEqual([0, 1, 2, 3, 4, 5].map((i) => `a/late-${i}`));
    expect(top.slice(6).every((i) => i.state === "due_soon")).toBe(true);
    const soonDeadlines = top.slice(6).map((i) => i.deadline?.getTime() ?? 0);
    expect([...soonDeadlines].sort((x, y) => x - y)).toEqual(soonDeadlines);
    expect(top.some((i) => i.state === "ok")).toBe(false);
  });

  it("has no items when nothing needs attention", () => {
    const e = weeklyEvent([item("a/ok", "ok", "2027-01-01T00:00:00Z"), item("b", "unmanaged")], at, "p");
    expect(e.topItems).toEqual([]);
    expect(e.totals).toMatchObject({ all: 2, managed: 1, needingAttention: 0 });
  });
});
