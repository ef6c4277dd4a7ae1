import { describe, expect, it } from "vitest";
import { RotatorError } from "../../src/core/errors.ts";
import type { ScanItem } from "../../src/core/inventory/kv-entry.ts";
import { InMemoryMetadataSource } from "./in-memory-metadata-source.ts";
import { kvEntry } from "./kv-entry-builder.ts";
import { describeMetadataSourceContract } from "./metadata-source-contract.ts";

let counter = 0;
describeMetadataSourceContract("InMemoryMetadataSource", async (seed) => {
  counter += 1;
  const prefix = `contract-${counter}`;
  const source = new InMemoryMetadataSource(
    seed.map((s) => kvEntry(`${prefix}/${s.path}`, s.customMetadata)),
  );
  return { source, prefix };
});

async function collect(items: AsyncIterable<ScanItem>): Promise<ScanItem[]> {
  const out: ScanItem[] = [];
  for await (const item of items) out.push(item);
  return out;
}

describe("InMemoryMetadataSource", () => {
  it("yields unreadable entries in path order instead of throwing", async () => {
    const source = new InMemoryMetadataSource([kvEntry("p/b", {})]).addUnreadable(
      "p/a",
      "VAULT_PERMISSION_DENIED",
      "denied",
    );
    expect(await collect(source.scan("/p/"))).toEqual([
      { kind: "unreadable", path: "p/a", code: "VAULT_PERMISSION_DENIED", message: "denied" },
      { kind: "entry", entry: kvEntry("p/b", {}) },
    ]);
  });

  it("throws the configured error for a failing prefix and records what was scanned", async () => {
    const sealed = new RotatorError("VAULT_SEALED", "Vault is sealed");
    const source = new InMemoryMetadataSource().failPrefix("p", sealed);
    await expect(collect(source.scan("p/"))).rejects.toBe(sealed);
    expect(source.scannedPrefixes).toEqual(["p"]);
  });

  it("forgets removed entries", async () => {
    const source = new InMemoryMetadataSource([kvEntry("p/a", {})]).remove("p/a");
    expect(await collect(source.scan("p"))).toEqual([]);
  });
});
