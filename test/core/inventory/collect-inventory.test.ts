import { describe, expect, it } from "vitest";
import { RotatorError } from "../../../src/core/errors.ts";
import { DEFAULT_CLASSIFY_DEFAULTS } from "../../../src/core/inventory/classify.ts";
import {
  collectInventory,
  markRotationsWithoutJournal,
} from "../../../src/core/inventory/collect-inventory.ts";
import type { InventoryItem } from "../../../src/core/inventory/inventory-item.ts";
import { InMemoryMetadataSource } from "../../fakes/in-memory-metadata-source.ts";
import { kvEntry } from "../../fakes/kv-entry-builder.ts";

const NOW = new Date("2026-06-01T00:00:00Z");

describe("collectInventory", () => {
  it("classifies every entry of every prefix and lists each path once, sorted", async () => {
    const source = new InMemoryMetadataSource([
      kvEntry("api-credentials/b/two", {
        provider: "salesforce-eca",
        eca_app_name: "B",
        last_rotated: "2026-05-20T00:00:00Z",
      }),
      kvEntry("api-credentials/a/one", {
        provider: "salesforce-eca",
        eca_app_name: "A",
        last_rotated: "2025-01-01T00:00:00Z",
      }),
      kvEntry("other/x", {}),
    ]).addUnreadable("api-credentials/a/locked", "VAULT_PERMISSION_DENIED", "permission denied");
    // overlapping prefixes: api-credentials/a is inside api-credentials
    const inv = await collectInventory(
      source,
      ["api-credentials", "api-credentials/a", "other"],
      NOW,
      DEFAULT_CLASSIFY_DEFAULTS,
    );
    expect(inv.items.map((i) => [i.path, i.state])).toEqual([
      ["api-credentials/a/locked", "invalid"],
      ["api-credentials/a/one", "overdue"],
      ["api-credentials/b/two", "unverified"],
      ["other/x", "unmanaged"],
    ]);
    expect(inv.scannedAt).toEqual(NOW);
  });

  it("reports progress as entries arrive", async () => {
    const source = new InMemoryMetadataSource([kvEntry("p/a", {}), kvEntry("p/b", {}), kvEntry("q/c", {})]);
    const seen: Array<[number, string]> = [];
    await collectInventory(source, ["p", "q"], NOW, DEFAULT_CLASSIFY_DEFAULTS, (n, prefix) =>
      seen.push([n, prefix]),
    );
    expect(seen).toEqual([
      [1, "p"],
      [2, "p"],
      [3, "q"],
    ]);
  });

  it("lets a prefix that cannot be listed fail the whole collection with its error", async () => {
    const source = new InMemoryMetadataSource([kvEntry("p/a", {})]).failPrefix(
      "p",
      new RotatorError("VAULT_SEALED", "Vault is sealed"),
    );
    await expect(collectInventory(source, ["p"], NOW, DEFAULT_CLASSIFY_DEFAULTS)).rejects.toMatchObject({
      code: "VAULT_SEALED",
    });
  });
});

describe("markRotationsWithoutJournal", () => {
  const item = (path: string, rotationState: InventoryItem["rotationState"]): InventoryItem => ({
    path,
    state: rotationState === "in_progress" || rotationState === "awaiting_promotion" ? rotationState : "ok",
    rotationState,
    consumers: [],
    stuck: false,
  });
  async function* list(paths: string[]): AsyncIterable<string> {
    yield* paths;
  }

  it("marks a claimed rotation with no journal before or after the scan as stuck, with why; leaves the rest", async () => {
    const items = [
      item("a/elsewhere", "in_progress"),
      item("a/soaking-elsewhere", "awaiting_promotion"),
      item("a/ours", "in_progress"),
      item("a/started-meanwhile", "in_progress"),
      item("a/idle", "idle"),
      item("a/failed", "failed"),
    ];
    let listings = 0;
    const marked = await markRotationsWithoutJournal(items, new Set(["a/ours"]), () => {
      listings += 1;
      return list(["a/started-meanwhile"]);
    });
    expect(listings).toBe(1);
    expect(marked.filter((i) => i.noJournalHere).map((i) => i.path)).toEqual([
      "a/elsewhere",
      "a/soaking-elsewhere",
    ]);
    expect(marked[0]).toMatchObject({ stuck: true, state: "in_progress" });
    expect(marked[0]?.reason).toMatch(/rotation_state is in_progress but this rotator has no journal for it/);
    expect(marked.slice(2)).toEqual(items.slice(2));
  });

  it("lists nothing when no item claims a rotation without a journal", async () => {
    const items = [item("a/ours", "in_progress"), item("a/idle", "idle")];
    const marked = await markRotationsWithoutJournal(items, new Set(["a/ours"]), () => {
      throw new Error("must not list");
    });
    expect(marked).toEqual(items);
  });
});
