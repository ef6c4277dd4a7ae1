// What the inventory needs to know about one KV v2 entry. Built from metadata only (a scan never reads
// secret data): the Vault adapter fills it from `GET metadata/:path` or OpenBao's `detailed-metadata` LIST.

export interface KvEntryMetadata {
  /** Path of the entry relative to the KV mount, without a leading slash: "api-credentials/acme/prod". */
  readonly path: string;
  readonly currentVersion: number;
  /** RFC 3339: when the key was first written. */
  readonly createdTime: string;
  /** RFC 3339: last change to the key or its metadata. */
  readonly updatedTime: string;
  /** RFC 3339: when the current version was written; undefined when the server did not say. */
  readonly currentVersionCreatedTime: string | undefined;
  /** True when the current version is soft-deleted or destroyed. */
  readonly currentVersionDeleted: boolean;
  /** Exactly what Vault holds; every value is a string. */
  readonly customMetadata: Readonly<Record<string, string>>;
}

/** A scan yields either an entry or the reason one path could not be read (it never stops the scan). */
export type ScanItem =
  | { readonly kind: "entry"; readonly entry: KvEntryMetadata }
  | { readonly kind: "unreadable"; readonly path: string; readonly code: string; readonly message: string };

/** Port: where the inventory's metadata comes from (the Vault adapter, or an in-memory fake in unit tests). */
export interface MetadataSource {
  /**
   * Every KV entry under `prefix` (recursively), metadata only. A prefix that does not exist yields nothing.
   * Entries that cannot be read (permission, deleted between list and read) are yielded as "unreadable".
   * Throws RotatorError only when the prefix itself cannot be listed (sealed server, bad token, not KV v2).
   */
  scan(prefix: string): AsyncIterable<ScanItem>;
}
