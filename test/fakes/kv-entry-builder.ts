// Builds KvEntryMetadata for unit tests with sensible defaults: version 1 created at `createdTime`.

import type { KvEntryMetadata } from "../../src/core/inventory/kv-entry.ts";

export function kvEntry(
  path: string,
  customMetadata: Readonly<Record<string, string>>,
  overrides: Partial<Omit<KvEntryMetadata, "path" | "customMetadata">> = {},
): KvEntryMetadata {
  const createdTime = overrides.createdTime ?? "2026-01-01T00:00:00Z";
  return {
    path,
    currentVersion: 1,
    createdTime,
    updatedTime: createdTime,
    currentVersionCreatedTime: createdTime,
    currentVersionDeleted: false,
    customMetadata,
    ...overrides,
  };
}
