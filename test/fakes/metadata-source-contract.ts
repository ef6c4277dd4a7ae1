// The MetadataSource contract (src/core/inventory/kv-entry.ts) as a reusable suite: run it against the
// in-memory fake here and against the real Vault adapter in its own tests, so the fake stays honest.

import { describe, expect, it } from "vitest";
import type { KvEntryMetadata, MetadataSource, ScanItem } from "../../src/core/inventory/kv-entry.ts";

interface SeedEntry {
  /** Relative to the prefix the setup returns, e.g. "team-a/prod". */
  readonly path: string;
  readonly customMetadata: Readonly<Record<string, string>>;
}

/** Seeds the entries under a fresh prefix and returns a source plus that prefix (no trailing slash). */
export type MetadataSourceSetup = (
  entries: readonly SeedEntry[],
) => Promise<{ source: MetadataSource; prefix: string }>;

async function collect(items: AsyncIterable<ScanItem>): Promise<ScanItem[]> {
  const out: ScanItem[] = [];
  for await (const item of items) out.push(item);
  return out;
}

function entries(items: readonly ScanItem[]): KvEntryMetadata[] {
  return items.flatMap((i) => (i.kind === "entry" ? [i.entry] : []));
}

export function describeMetadataSourceContract(name: string, setup: MetadataSourceSetup): void {
  describe(`MetadataSource contract: ${name}`, () => {
    it("yields every entry under the prefix, recursively, with its custom_metadata", async () => {
      const { source, prefix } = await setup([
        { path: "a", customMetadata: { provider: "manual" } },
        { path: "team/b", customMetadata: {} },
        { path: "team/deep/c", customMetadata: { provider: "sfmc", consumers: "x, y" } },
      ]);
      const found = entries(await collect(source.scan(prefix)));
      expect(found.map((e) => e.path).sort()).toEqual([
        `${prefix}/a`,
        `${prefix}/team/b`,
        `${prefix}/team/deep/c`,
      ]);
      const deep = found.find((e) => e.path.endsWith("/deep/c"));
      expect(deep?.customMetadata).toEqual({ provider: "sfmc", consumers: "x, y" });
      expect(deep?.currentVersion).toBeGreaterThanOrEqual(1);
      expect(deep?.currentVersionDeleted).toBe(false);
      expect(Number.isNaN(Date.parse(deep?.createdTime ?? ""))).toBe(false);
    });

    it("scans a sub-folder only, and treats the prefix as a folder, not a string prefix", async () => {
      const { source, prefix } = await setup([
        { path: "team/x", customMetadata: {} },
        { path: "team-other/y", customMetadata: {} },
      ]);
      const found = entries(await collect(source.scan(`${prefix}/team`)));
      expect(found.map((e) => e.path)).toEqual([`${prefix}/team/x`]);
    });

    it("yields nothing for a prefix that does not exist", async () => {
      const { source, prefix } = await setup([{ path: "a", customMetadata: {} }]);
      expect(await collect(source.scan(`${prefix}/no-such-folder`))).toEqual([]);
    });
  });
}
