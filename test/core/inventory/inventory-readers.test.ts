import { describe, expect, it } from "vitest";
import { RotatorError } from "../../../src/core/errors.ts";
import { DEFAULT_CLASSIFY_DEFAULTS } from "../../../src/core/inventory/classify.ts";
import {
  collectInventory,
  consumerMatchesReader,
  READERS_LISTED,
  summarizeReaders,
  withReaders,
} from "../../../src/core/inventory/collect-inventory.ts";
import { HOUR_MS } from "../../../src/core/time.ts";
import { InMemoryMetadataSource } from "../../fakes/in-memory-metadata-source.ts";
import { InMemoryReaders } from "../../fakes/in-memory-readers.ts";
import { kvEntry } from "../../fakes/kv-entry-builder.ts";

const NOW = new Date("2026-06-01T12:00:00Z");
const WINDOW = 7 * 24 * HOUR_MS;
const hoursAgo = (h: number) => new Date(NOW.getTime() - h * HOUR_MS);
const ECA = { provider: "salesforce-eca", eca_app_name: "A", last_rotated: "2026-05-30T00:00:00Z" };

async function scan(n: number, consumers = "billing-sync, crm") {
  const entries = Array.from({ length: n }, (_, i) =>
    kvEntry(`api-credentials/c${String(i).padStart(5, "0")}`, { ...ECA, consumers }, { currentVersion: 8 }),
  );
  return (
    await collectInventory(
      new InMemoryMetadataSource(entries),
      ["api-credentials"],
      NOW,
      DEFAULT_CLASSIFY_DEFAULTS,
    )
  ).items;
}

describe("withReaders", () => {
  it("fills every credential's readers from one read of the directory, with the window as `since`", async () => {
    const items = await scan(2_000);
    const readers = new InMemoryReaders()
      .add("api-credentials/c00001", { label: "approle (billing-sync)", version: 8, at: hoursAgo(1) })
      .add("api-credentials/c00001", { label: "token-report-job", version: 7, at: hoursAgo(2) })
      .add("api-credentials/c00001", { label: "token-ancient", version: 5, at: hoursAgo(24 * 8) });
    const out = await withReaders(items, readers, NOW, WINDOW);
    expect(readers.calls).toBe(1);
    expect(out).toHaveLength(2_000);
    const one = out.find((i) => i.path === "api-credentials/c00001")?.readers;
    expect(one).toEqual({
      total: 2,
      onCurrent: 1,
      listed: [
        {
          label: "token-report-job",
          version: 7,
          lastReadMs: hoursAgo(2).getTime(),
          current: false,
          declared: false,
        },
        {
          label: "approle (billing-sync)",
          version: 8,
          lastReadMs: hoursAgo(1).getTime(),
          current: true,
          declared: true,
        },
      ],
      unseenConsumers: ["crm"],
    });
    // Known to have no reader (not unknown): total 0, every declared consumer unseen.
    expect(out.find((i) => i.path === "api-credentials/c00002")?.readers).toEqual({
      total: 0,
      onCurrent: 0,
      listed: [],
      unseenConsumers: ["billing-sync", "crm"],
    });
  });

  it("leaves readers unknown, and says why, when the directory cannot be read; without one, nothing", async () => {
    const items = await scan(3);
    const readers = new InMemoryReaders();
    readers.failWith = new RotatorError("VAULT_UNAVAILABLE", "down", { retryable: true });
    const errors: unknown[] = [];
    const out = await withReaders(items, readers, NOW, WINDOW, (e) => errors.push(e));
    expect(out.every((i) => i.readers === undefined)).toBe(true);
    expect(errors).toHaveLength(1);
    expect((await withReaders(items, undefined, NOW, WINDOW)).every((i) => i.readers === undefined)).toBe(
      true,
    );
  });
});

describe("summarizeReaders", () => {
  it("lists old versions first (latest read first), then the current ones by label, capped", () => {
    const seen = Array.from({ length: READERS_LISTED + 10 }, (_, i) => ({
      id: `entity:${i}`,
      label: `reader-${String(i).padStart(3, "0")}`,
      version: i % 2 === 0 ? 8 : 6,
      at: hoursAgo(i),
    }));
    const s = summarizeReaders(seen, { currentVersion: 8, consumers: [] });
    expect(s.total).toBe(READERS_LISTED + 10);
    expect(s.onCurrent).toBe(30);
    expect(s.listed).toHaveLength(READERS_LISTED);
    expect(s.listed.slice(0, 3).map((r) => r.label)).toEqual(["reader-001", "reader-003", "reader-005"]);
    expect(s.listed.slice(0, 30).every((r) => !r.current)).toBe(true);
    expect(s.listed[30]?.label).toBe("reader-000");
  });
});

describe("consumerMatchesReader", () => {
  it.each([
    ["billing-sync", "approle (billing-sync)", true],
    ["Billing-Sync", "approle (billing-sync)", true],
    ["billing-sync", "token-billing-sync", true],
    ["billing-sync", "kubernetes-prod-billing-sync (prod/billing-sync)", true],
    ["prod/billing-sync", "kubernetes-prod-billing-sync (prod/billing-sync)", true],
    ["approle (billing-sync)", "approle (billing-sync)", true],
    ["approle", "approle (billing-sync)", true],
    ["billing-sync", "billing-sync-v2", false],
    ["billing", "approle (billing-sync)", false],
    ["", "approle (billing-sync)", false],
    ["prod", "kubernetes-prod-billing-sync (prod/billing-sync)", false],
  ])("%s vs %s: %s", (name, label, match) => {
    expect(consumerMatchesReader(name, label)).toBe(match);
  });
});
