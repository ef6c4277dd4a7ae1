// The reader book: credential path → reader id → that reader's latest read, bounded, and its compact shared form.
// Each replica keeps one in memory, fed by its audit source, and every share_interval writes the paths that
// changed into shard entries under the state prefix (src/adapters/vault/vault-reader-shards.ts), so any replica
// can answer for any path. Merging keeps, per reader, the read with the latest time (the higher version on a tie):
// the merge is commutative and idempotent, so replicas that write the same shard in any order converge.
import type { AuditRead } from "./audit-line.ts";
import { MAX_READER_LABEL, safeLabel } from "./audit-line.ts";
import type { ReaderSeen } from "./readers.ts";

/** One reader's latest read of one path. `at` is milliseconds since the epoch. */
export interface BookEntry {
  readonly label: string;
  readonly version: number;
  readonly at: number;
}

export type PathReaders = Map<string, BookEntry>;

export interface ReaderBookLimits {
  /** Reads older than this are dropped (readers.window). */
  readonly windowMs: number;
  /** Readers kept per path; the one with the oldest read goes first. */
  readonly maxReadersPerPath: number;
  /** Readers kept over all paths; the oldest reads go first. */
  readonly maxReaders: number;
}

export const DEFAULT_MAX_READERS_PER_PATH = 256;
export const DEFAULT_MAX_READERS = 200_000;

/**
 * Does `b` replace `a` for the same reader? The later read wins; on the same instant, the higher version, then
 * the greater label: a total order, so merging is commutative whatever the replicas hold.
 */
export function newer(b: BookEntry, a: BookEntry): boolean {
  if (b.at !== a.at) return b.at > a.at;
  if (b.version !== a.version) return b.version > a.version;
  return b.label > a.label;
}

export class ReaderBook {
  readonly #paths = new Map<string, PathReaders>();
  readonly #dirty = new Set<string>();
  readonly #limits: ReaderBookLimits;
  #size = 0;

  constructor(limits: ReaderBookLimits) {
    this.#limits = limits;
  }

  /** Readers over all paths. */
  get size(): number {
    return this.#size;
  }

  /** Records a read; true when it changed the book (a later read, or a new reader). */
  add(read: AuditRead): boolean {
    return this.put(read.path, read.readerId, { label: read.label, version: read.version, at: read.at });
  }

  /**
   * Records one reader's read of `path` if it is newer than what the book holds; true when it changed. The
   * strings are kept as given: pass flat ones (the parser builds them with join, not concatenation: a token
   * reader's 85-character id made by concatenation keeps its pieces alive, 370 bytes instead of 110).
   */
  put(path: string, readerId: string, entry: BookEntry, opts: { dirty?: boolean } = {}): boolean {
    let readers = this.#paths.get(path);
    const held = readers?.get(readerId);
    if (held !== undefined && !newer(entry, held)) return false;
    if (readers === undefined) {
      readers = new Map();
      this.#paths.set(path, readers);
    }
    if (held === undefined) {
      this.#size++;
      readers.set(readerId, entry);
    } else {
      // The key stays the one first stored; an unchanged label keeps the string already held.
      const label = held.label === entry.label ? held.label : entry.label;
      readers.set(readerId, { label, version: entry.version, at: entry.at });
    }
    if (opts.dirty !== false) this.#dirty.add(path);
    if (readers.size > this.#limits.maxReadersPerPath) this.#evictOldestOf(path, readers);
    if (this.#size > this.#limits.maxReaders) this.#evictOldest();
    return true;
  }

  /** Every reader of `path` whose latest read is at or after `sinceMs`. */
  readersOf(path: string, sinceMs: number): ReaderSeen[] {
    const out: ReaderSeen[] = [];
    for (const [id, e] of this.#paths.get(path) ?? []) {
      if (e.at >= sinceMs) out.push({ id, label: e.label, version: e.version, at: new Date(e.at) });
    }
    return out;
  }

  /** Every path the book holds readers of. */
  paths(): IterableIterator<string> {
    return this.#paths.keys();
  }

  /** The readers of `path` as held (no copy; do not change it). */
  entriesOf(path: string): ReadonlyMap<string, BookEntry> | undefined {
    return this.#paths.get(path);
  }

  /** Drops reads older than the window. */
  prune(nowMs: number): void {
    const oldest = nowMs - this.#limits.windowMs;
    for (const [path, readers] of this.#paths) {
      for (const [id, e] of readers) {
        if (e.at < oldest) {
          readers.delete(id);
          this.#size--;
        }
      }
      if (readers.size === 0) this.#paths.delete(path);
    }
  }

  /** The paths changed since the last call (the flush writes their shards). */
  takeDirty(): string[] {
    const paths = [...this.#dirty];
    this.#dirty.clear();
    return paths;
  }

  /** Marks paths dirty again (a flush that failed). */
  markDirty(paths: Iterable<string>): void {
    for (const p of paths) if (this.#paths.has(p)) this.#dirty.add(p);
  }

  #evictOldestOf(path: string, readers: PathReaders): void {
    let oldestId: string | undefined;
    let oldestAt = Number.POSITIVE_INFINITY;
    for (const [id, e] of readers) {
      if (e.at < oldestAt) {
        oldestAt = e.at;
        oldestId = id;
      }
    }
    if (oldestId !== undefined) {
      readers.delete(oldestId);
      this.#size--;
    }
    if (readers.size === 0) this.#paths.delete(path);
  }

  /** Over the total cap: drops the oldest 1% at once, so a flood of new readers costs one sort per 1%. */
  #evictOldest(): void {
    const ats: number[] = [];
    for (const readers of this.#paths.values()) for (const e of readers.values()) ats.push(e.at);
    ats.sort((a, b) => a - b);
    const drop = Math.max(this.#size - this.#limits.maxReaders, Math.ceil(this.#limits.maxReaders / 100));
    const cutoff = ats[Math.min(drop, ats.length) - 1] ?? Number.NEGATIVE_INFINITY;
    let left = drop;
    for (const [path, readers] of this.#paths) {
      for (const [id, e] of readers) {
        if (left > 0 && e.at <= cutoff) {
          readers.delete(id);
          this.#size--;
          left--;
        }
      }
      if (readers.size === 0) this.#paths.delete(path);
    }
  }
}

// The shared form. Readers of all paths are split over READER_SHARDS entries by a hash of the path, so 10,000
// credentials make 256 entries of about forty paths each rather than one giant entry, and a flush rewrites only
// the shards whose paths changed. An entry's KV data:
//   { "format": 1, "paths": [ [path, [ [reader id, label, version, at ms], ... ]], ... ] }
// Arrays rather than objects keyed by path or reader: nothing read back can name an object's prototype.

export const READER_SHARDS = 256;
const SHARD_FORMAT = 1;

/** The shard of a path: two hex digits of its FNV-1a hash (the same on every replica). */
export function shardOf(path: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < path.length; i++) {
    h ^= path.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return (h % READER_SHARDS).toString(16).padStart(2, "0");
}

export type ShardContent = Map<string, PathReaders>;

/** The KV data of a shard. */
export function encodeShard(content: ShardContent): { format: number; paths: unknown[] } {
  const paths: unknown[] = [];
  for (const [path, readers] of content) {
    if (readers.size === 0) continue;
    const rows: unknown[] = [];
    for (const [id, e] of readers) rows.push([id, e.label, e.version, e.at]);
    paths.push([path, rows]);
  }
  return { format: SHARD_FORMAT, paths };
}

const MAX_ID_LENGTH = 512;

/**
 * A shard's KV data back into its content. Rows with the wrong shape are dropped (counted in `bad`), never
 * thrown on: the entry is written by replicas, but its store is shared, so it is read like any input.
 */
export function decodeShard(data: unknown): { content: ShardContent; bad: number } {
  const content: ShardContent = new Map();
  let bad = 0;
  if (typeof data !== "object" || data === null || Array.isArray(data)) return { content, bad: 1 };
  const d = data as Record<string, unknown>;
  if (!Object.hasOwn(d, "paths") || d["format"] !== SHARD_FORMAT || !Array.isArray(d["paths"]))
    return { content, bad: 1 };
  for (const p of d["paths"] as unknown[]) {
    if (!Array.isArray(p) || typeof p[0] !== "string" || p[0] === "" || !Array.isArray(p[1])) {
      bad++;
      continue;
    }
    const path = p[0];
    let readers = content.get(path);
    for (const r of p[1] as unknown[]) {
      if (!Array.isArray(r)) {
        bad++;
        continue;
      }
      const [id, label, version, at] = r as unknown[];
      if (
        typeof id !== "string" ||
        id === "" ||
        id.length > MAX_ID_LENGTH ||
        typeof label !== "string" ||
        typeof version !== "number" ||
        !Number.isSafeInteger(version) ||
        version < 1 ||
        typeof at !== "number" ||
        !Number.isFinite(at)
      ) {
        bad++;
        continue;
      }
      const entry = { label: safeLabel(label.slice(0, MAX_READER_LABEL)), version, at };
      readers ??= new Map();
      const held = readers.get(id);
      if (held === undefined || newer(entry, held)) readers.set(id, entry);
    }
    if (readers !== undefined && readers.size > 0) content.set(path, readers);
  }
  return { content, bad };
}

/**
 * `ours` merged into `theirs` (a new map; neither is changed): per path and reader the newer read wins; reads
 * older than `oldestMs` go; each path keeps at most `maxPerPath` readers (the newest).
 */
export function mergeShards(
  theirs: ShardContent,
  ours: ShardContent,
  oldestMs: number,
  maxPerPath: number,
): ShardContent {
  const out: ShardContent = new Map();
  for (const side of [theirs, ours]) {
    for (const [path, readers] of side) {
      let merged = out.get(path);
      for (const [id, e] of readers) {
        if (e.at < oldestMs) continue;
        merged ??= new Map();
        const held = merged.get(id);
        if (held === undefined || newer(e, held)) merged.set(id, e);
      }
      if (merged !== undefined && merged.size > 0) out.set(path, merged);
    }
  }
  for (const [path, readers] of out) {
    if (readers.size <= maxPerPath) continue;
    const kept = [...readers].sort((a, b) => b[1].at - a[1].at).slice(0, maxPerPath);
    out.set(path, new Map(kept));
  }
  return out;
}
