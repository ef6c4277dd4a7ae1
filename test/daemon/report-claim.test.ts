// claimReportPeriod on the real server: the weekly report's once-per-period claim, made with check-and-set.
import { afterAll, describe, expect, it } from "vitest";
import type { KvV2 } from "../../src/adapters/vault/kv-v2.ts";
import { claimReportPeriod, reportPeriod } from "../../src/daemon/report-claim.ts";
import { rootKv } from "../adapters/vault/vault-test-kit.ts";
import { admin, uniqueName } from "../support/vault-admin.ts";

const MOUNT = "secret";
const NOW = new Date("2026-11-23T09:00:03.250Z");
const kvs: KvV2[] = [];
afterAll(async () => {
  for (const kv of kvs) await kv.client.close();
});

/** `count` separate connections, as separate replicas would have. */
async function replicas(count: number): Promise<KvV2[]> {
  const out: KvV2[] = [];
  for (let i = 0; i < count; i++) out.push(await rootKv(MOUNT));
  kvs.push(...out);
  return out;
}

async function stored(path: string): Promise<{ data: Record<string, unknown>; version: number }> {
  const body = (await admin().must("GET", `${MOUNT}/data/${path}`)) as {
    data: { data: Record<string, unknown>; metadata: { version: number } };
  };
  return { data: body.data.data, version: body.data.metadata.version };
}

describe("claimReportPeriod", () => {
  it("lets exactly one of five replicas racing for the same period claim it", async () => {
    const entry = `${uniqueName("rotator-state")}/reports/weekly`;
    const kv = await replicas(5);
    const won = await Promise.all(
      kv.map((k, i) => claimReportPeriod(k, entry, "2026-11-23T09:00Z", `replica-${i}`, NOW)),
    );
    expect(won.filter(Boolean)).toHaveLength(1);
    const winner = won.indexOf(true);
    expect(await stored(entry)).toEqual({
      data: { period: "2026-11-23T09:00Z", claimed_by: `replica-${winner}`, claimed_at: NOW.toISOString() },
      version: 1,
    });
  });

  it("lets exactly one replica claim a later period once, and refuses earlier and equal ones", async () => {
    const entry = `${uniqueName("rotator-state")}/reports/weekly`;
    const [a, b] = await replicas(2);
    if (a === undefined || b === undefined) throw new Error("two replicas");
    expect(await claimReportPeriod(a, entry, "2026-11-23T09:00Z", "a", NOW)).toBe(true);

    const next = "2026-11-30T09:00Z";
    const race = await Promise.all([
      claimReportPeriod(a, entry, next, "a", NOW),
      claimReportPeriod(b, entry, next, "b", NOW),
      claimReportPeriod(b, entry, next, "b", NOW),
    ]);
    expect(race.filter(Boolean)).toHaveLength(1);
    expect(await claimReportPeriod(a, entry, next, "a", NOW)).toBe(false);
    expect(await claimReportPeriod(b, entry, "2026-11-23T09:00Z", "b", NOW)).toBe(false);
    expect(await claimReportPeriod(b, entry, "2026-11-16T09:00Z", "b", NOW)).toBe(false);
    expect((await stored(entry)).data["period"]).toBe(next);
    expect((await stored(entry)).version).toBe(2);
  });

  it("claims over an entry whose current version was deleted", async () => {
    const entry = `${uniqueName("rotator-state")}/reports/weekly`;
    const [kv] = await replicas(1);
    if (kv === undefined) throw new Error("one replica");
    expect(await claimReportPeriod(kv, entry, "2026-11-23T09:00Z", "a", NOW)).toBe(true);
    await admin().must("DELETE", `${MOUNT}/data/${entry}`);
    expect(await claimReportPeriod(kv, entry, "2026-11-23T09:00Z", "a", NOW)).toBe(true);
    expect(await stored(entry)).toMatchObject({ data: { period: "2026-11-23T09:00Z" }, version: 2 });
  });

  it("throws errors other than a lost race (here: a mount that is not there)", async () => {
    const kv = await rootKv(uniqueName("no-such-mount"));
    kvs.push(kv);
    await expect(
      claimReportPeriod(kv, "state/reports/weekly", "2026-11-23T09:00Z", "a", NOW),
    ).rejects.toThrow();
  });
});

describe("reportPeriod", () => {
  it("is the scheduled time's UTC date and minute", () => {
    expect(reportPeriod(new Date("2026-11-23T09:00:00.000Z"))).toBe("2026-11-23T09:00Z");
    expect(reportPeriod(new Date("2026-11-23T09:00:59.999Z"))).toBe("2026-11-23T09:00Z");
    expect(reportPeriod(new Date("2026-01-05T23:59:00+02:00"))).toBe("2026-01-05T21:59Z");
  });

  it("sorts like the times it names, so a later period always compares greater", () => {
    const times = [
      "2026-02-01T09:00:00Z",
      "2026-11-02T09:00:00Z",
      "2026-11-23T09:00:00Z",
      "2027-01-04T00:00:00Z",
    ];
    const periods = times.map((t) => reportPeriod(new Date(t)));
    expect([...periods].sort()).toEqual(periods);
  });
});
