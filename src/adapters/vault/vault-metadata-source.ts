// MetadataSource over KV v2. Two ways to read a tree's metadata:
//   detailed  OpenBao 2.2+ `detailed-metadata` LIST: one request per folder, metadata included;
//   per-key   LIST per folder plus one GET metadata per key, `concurrency` at a time (Vault CE).
// "auto" tries detailed once and remembers whether the server (and the token's policy) allows it. Items are
// yielded as they are read, so memory stays bounded by one folder listing plus the read window.

import { isRotatorError, RotatorError } from "../../core/errors.ts";
import type { KvEntryMetadata, MetadataSource, ScanItem } from "../../core/inventory/kv-entry.ts";
import { type Clock, systemClock } from "../../core/time.ts";
import { type KvMetadata, type KvV2, normalizeKvPath } from "./kv-v2.ts";

export type ListingMode = "auto" | "detailed" | "per-key";

export interface VaultMetadataSourceOptions {
  listing: ListingMode;
  /** Parallel metadata reads in per-key mode. */
  concurrency: number;
  /** Decides whether a scheduled deletion_time is already in the past; defaults to the client's clock. */
  clock?: Clock;
}

/** Errors that mean the whole scan cannot go on (as opposed to one unreadable entry). */
const SCAN_STOPPERS = new Set([
  "VAULT_UNAVAILABLE",
  "VAULT_SEALED",
  "VAULT_AUTH_FAILED",
  "VAULT_TLS",
  "VAULT_NOT_KV_V2",
  "VAULT_RATE_LIMITED",
]);

type Settled = { readonly item: ScanItem } | { readonly error: unknown };

export class VaultMetadataSource implements MetadataSource {
  readonly #kv: KvV2;
  readonly #listing: ListingMode;
  readonly #concurrency: number;
  readonly #clock: Clock;
  /** auto mode: whether detailed listing worked here (undefined: not tried yet). */
  #detailedWorks: boolean | undefined;
  #listingUsed: "detailed" | "per-key" | undefined;

  constructor(kv: KvV2, opts: VaultMetadataSourceOptions) {
    this.#kv = kv;
    this.#listing = opts.listing;
    this.#concurrency = Math.max(1, Math.floor(opts.concurrency));
    this.#clock = opts.clock ?? kv.client.clock ?? systemClock;
  }

  /** What the last scan actually used (for `check` and benchmarks). */
  get listingUsed(): "detailed" | "per-key" | undefined {
    return this.#listingUsed;
  }

  async *scan(prefix: string): AsyncIterable<ScanItem> {
    const base = normalizeKvPath(prefix);
    if (this.#listing !== "per-key" && this.#detailedWorks !== false) {
      const first = await this.#firstDetailedListing(base);
      if (first) {
        this.#listingUsed = "detailed";
        yield* this.#detailedFrom(base, first);
        return;
      }
    }
    this.#listingUsed = "per-key";
    yield* this.#perKey(base);
  }

  /** The prefix's detailed listing, or undefined when auto mode must fall back to per-key reads. */
  async #firstDetailedListing(base: string) {
    try {
      const listing = await this.#kv.listDetailed(base);
      if (listing) {
        this.#detailedWorks = true;
        return listing;
      }
      if (this.#listing === "detailed") {
        throw new RotatorError(
          "VAULT_BAD_REQUEST",
          `the server has no detailed-metadata listing (OpenBao 2.2+) on mount "${this.#kv.mount}"; ` +
            'set vault.listing to "auto" or "per-key"',
          { context: { mount: this.#kv.mount } },
        );
      }
    } catch (err) {
      // A policy without `list` on detailed-metadata/ is normal (it also reveals metadata of unreadable keys).
      if (this.#listing === "detailed" || !isRotatorError(err, "VAULT_PERMISSION_DENIED")) throw err;
    }
    this.#detailedWorks = false;
    return undefined;
  }

  async *#detailedFrom(
    base: string,
    listing: NonNullable<Awaited<ReturnType<KvV2["listDetailed"]>>>,
  ): AsyncGenerator<ScanItem> {
    const now = this.#clock.now().getTime();
    for (const [name, meta] of listing.entries) {
      yield { kind: "entry", entry: toEntry(join(base, name), meta, now) };
    }
    for (const name of listing.invalid) {
      yield unreadable(
        join(base, name),
        "VAULT_UNEXPECTED_RESPONSE",
        "metadata missing or malformed in the listing",
      );
    }
    for (const folder of listing.folders) {
      const sub = join(base, folder.replace(/\/$/, ""));
      let next: Awaited<ReturnType<KvV2["listDetailed"]>>;
      try {
        next = await this.#kv.listDetailed(sub);
      } catch (err) {
        if (isStopper(err)) throw err;
        yield unreadableFrom(`${sub}/`, err);
        continue;
      }
      if (next) yield* this.#detailedFrom(sub, next);
      else yield unreadable(`${sub}/`, "VAULT_BAD_REQUEST", "detailed listing unavailable for this folder");
    }
  }

  /** LIST every folder, GET each key's metadata with at most `concurrency` reads in flight, in listing order. */
  async *#perKey(base: string): AsyncGenerator<ScanItem> {
    const window: Promise<Settled>[] = [];
    for await (const found of this.#keys(base, true)) {
      if (found.kind === "unreadable") {
        yield found;
        continue;
      }
      window.push(this.#readOne(found.path));
      if (window.length >= this.#concurrency) yield unwrap(await (window.shift() as Promise<Settled>));
    }
    while (window.length > 0) yield unwrap(await (window.shift() as Promise<Settled>));
  }

  /** Every key path under `base`; a sub-folder that cannot be listed is reported, the prefix itself throws. */
  async *#keys(
    base: string,
    isPrefix: boolean,
  ): AsyncGenerator<{ kind: "key"; path: string } | Extract<ScanItem, { kind: "unreadable" }>> {
    let names: string[];
    try {
      names = await this.#kv.list(base);
    } catch (err) {
      if (isPrefix || isStopper(err)) throw err;
      yield unreadableFrom(`${base}/`, err);
      return;
    }
    for (const name of names) {
      const full = join(base, name.replace(/\/$/, ""));
      if (name.endsWith("/")) yield* this.#keys(full, false);
      else yield { kind: "key", path: full };
    }
  }

  /** Never rejects (a rejected promise waiting in the window would be an unhandled rejection). */
  async #readOne(path: string): Promise<Settled> {
    try {
      const meta = await this.#kv.readMetadata(path);
      if (!meta) return { item: unreadable(path, "VAULT_NOT_FOUND", "deleted between listing and reading") };
      return { item: { kind: "entry", entry: toEntry(path, meta, this.#clock.now().getTime()) } };
    } catch (err) {
      if (isStopper(err)) return { error: err };
      return { item: unreadableFrom(path, err) };
    }
  }
}

function unwrap(s: Settled): ScanItem {
  if ("error" in s) throw s.error;
  return s.item;
}

function isStopper(err: unknown): boolean {
  return !isRotatorError(err) || SCAN_STOPPERS.has(err.code);
}

function join(base: string, name: string): string {
  return base === "" ? name : `${base}/${name}`;
}

function unreadable(path: string, code: string, message: string): Extract<ScanItem, { kind: "unreadable" }> {
  return { kind: "unreadable", path, code, message };
}

function unreadableFrom(path: string, err: unknown): Extract<ScanItem, { kind: "unreadable" }> {
  return isRotatorError(err)
    ? unreadable(path, err.code, err.message)
    : unreadable(path, "UNCLASSIFIED", "unexpected error while reading metadata");
}

/** The inventory's view of one key; the current version's times come from versions[current_version]. */
export function toEntry(path: string, meta: KvMetadata, nowMs: number): KvEntryMetadata {
  const current = meta.versions[String(meta.currentVersion)];
  const deletionMs = current?.deletionTime ? Date.parse(current.deletionTime) : Number.NaN;
  return {
    path,
    currentVersion: meta.currentVersion,
    createdTime: meta.createdTime,
    updatedTime: meta.updatedTime,
    currentVersionCreatedTime: current?.createdTime,
    currentVersionDeleted:
      (current?.destroyed ?? false) || (!Number.isNaN(deletionMs) && deletionMs <= nowMs),
    customMetadata: meta.customMetadata,
  };
}
