import { describe, expect, it } from "vitest";
import { RotatorError } from "../../../src/core/errors.ts";
import { DEFAULT_CLASSIFY_DEFAULTS } from "../../../src/core/inventory/classify.ts";
import { collectInventory } from "../../../src/core/inventory/collect-inventory.ts";
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
