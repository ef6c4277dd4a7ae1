// The reader feed: audit lines from Vault's socket or file audit device → the parser → this replica's reader
// book → the shared shard entries every share_interval; and the ReaderEvidence the soak step asks, answered
// from the shared entries (cached briefly) merged with this replica's own book (what it has not flushed yet).
// Trust: a line is believed because of where it comes from (a loopback or unix socket, a log file only Vault
// writes). A forged line can at worst make a rotation promote early or hold it until soak_max; the feed keeps
// no secret, so none can leak through it.
//
// The sources start before the daemon connects to Vault: Vault refuses to start while a socket audit device it
// is configured with cannot connect, so a feed that waited for Vault would wait for ever. Lines that arrive
// before attach() (which names the rotator's own token and the shared store) wait in a bounded backlog.
import {
  type AuditLineSink,
  AuditSocketListener,
  type AuditSource,
} from "../adapters/vault/audit-feed-sources.ts";
import type { VaultReaderShards } from "../adapters/vault/vault-reader-shards.ts";
import { isRotatorError, RotatorError } from "../core/errors.ts";
import {
  AUDIT_MALFORMED_REASONS,
  AUDIT_SKIP_REASONS,
  type AuditLineFilter,
  type AuditLineResult,
  type AuditMalformedReason,
  type AuditSkipReason,
  parseAuditLine,
} from "../core/readers/audit-line.ts";
import {
  type BookEntry,
  DEFAULT_MAX_READERS,
  DEFAULT_MAX_READERS_PER_PATH,
  newer,
  ReaderBook,
  type ShardContent,
  shardOf,
} from "../core/readers/reader-book.ts";
import type { ReaderDirectory, ReaderEvidence, ReaderSeen } from "../core/readers/readers.ts";
import type { Clock } from "../core/time.ts";
import { forEachBounded } from "./rotation-cycle.ts";

/** How long a shard read from Vault answers readersOf before it is read again. */
const SHARD_CACHE_MS = 5_000;
/** Shard reads in flight at once when every path's readers are asked for (allReaders). */
const SHARD_READ_CONCURRENCY = 8;
/** The backlog before attach(): lines and bytes. */
const MAX_BACKLOG_LINES = 10_000;
const MAX_BACKLOG_CHARS = 32 * 1024 * 1024;

export interface ReaderFeedStats {
  kept: number;
  readonly skipped: Record<AuditSkipReason, number>;
  readonly malformed: Record<AuditMalformedReason, number>;
}

export interface ReaderFeedOptions {
  readonly kvMount: string;
  readonly prefixes: readonly string[];
  readonly namespace: string | undefined;
  /** readers.ignore */
  readonly ignore: readonly string[];
  readonly clock: Clock;
  readonly windowMs: number;
  readonly shareIntervalMs: number;
  readonly maxReadersPerPath?: number;
  readonly maxReaders?: number;
}

/** What the feed learns once the daemon is connected to Vault. */
export interface ReaderFeedAttachment {
  /** The rotator's own token (auth/token/lookup-self): its entity id, else its display name. */
  readonly ownEntityId: string | undefined;
  readonly ownDisplayName: string | undefined;
  readonly shards: VaultReaderShards;
  /** Each line's verdict (metrics). */
  readonly onResult?: ((result: AuditLineResult) => void) | undefined;
  /** A flush that failed (it is retried at the next interval). */
  readonly onFlushFailure?: ((err: unknown) => void) | undefined;
}

export class ReaderFeed implements ReaderEvidence, ReaderDirectory, AuditLineSink {
  readonly #o: ReaderFeedOptions;
  readonly #book: ReaderBook;
  readonly #maxPerPath: number;
  readonly #cache = new Map<string, { content: ShardContent; until: number }>();
  readonly #sources: AuditSource[] = [];
  #attached: (ReaderFeedAttachment & { filter: AuditLineFilter }) | undefined;
  #backlog: string[] = [];
  #backlogChars = 0;
  #backlogDropped = 0;
  readonly stats: ReaderFeedStats = {
    kept: 0,
    skipped: Object.fromEntries(AUDIT_SKIP_REASONS.map((r) => [r, 0])) as Record<AuditSkipReason, number>,
    malformed: Object.fromEntries(AUDIT_MALFORMED_REASONS.map((r) => [r, 0])) as Record<
      AuditMalformedReason,
      number
    >,
  };
  #timer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> | undefined;

  constructor(opts: ReaderFeedOptions) {
    this.#o = opts;
    this.#maxPerPath = opts.maxReadersPerPath ?? DEFAULT_MAX_READERS_PER_PATH;
    this.#book = new ReaderBook({
      windowMs: opts.windowMs,
      maxReadersPerPath: this.#maxPerPath,
      maxReaders: opts.maxReaders ?? DEFAULT_MAX_READERS,
    });
  }

  /** A socket source is listening (Vault's socket audit device depends on it to start). */
  get listens(): boolean {
    return this.#sources.some((s) => s instanceof AuditSocketListener);
  }

  /** Readers this replica's book holds. */
  get readersKnown(): number {
    return this.#book.size;
  }

  /** AuditLineSink: one line from a source. */
  line(text: string): void {
    const a = this.#attached;
    if (a === undefined) {
      if (this.#backlog.length >= MAX_BACKLOG_LINES || this.#backlogChars + text.length > MAX_BACKLOG_CHARS) {
        this.#backlogDropped++;
        return;
      }
      this.#backlog.push(text);
      this.#backlogChars += text.length;
      return;
    }
    this.#count(parseAuditLine(text, a.filter, this.#o.clock.now().getTime()));
  }

  /** AuditLineSink: a line over the cap went past. */
  oversized(): void {
    this.#count({ kind: "malformed", reason: "oversized" });
  }

  #count(result: AuditLineResult): void {
    if (result.kind === "kept") {
      this.stats.kept++;
      this.#book.add(result.read);
    } else if (result.kind === "skipped") this.stats.skipped[result.reason]++;
    else this.stats.malformed[result.reason]++;
    this.#attached?.onResult?.(result);
  }

  /** Starts the sources (before Vault is reached; lines wait in the backlog until attach()). */
  async start(sources: readonly AuditSource[]): Promise<void> {
    for (const s of sources) {
      await s.start();
      this.#sources.push(s);
    }
  }

  /** Names the rotator's own token and the shared store, takes the backlog in, and starts sharing. */
  attach(a: ReaderFeedAttachment): void {
    this.#attached = {
      ...a,
      filter: {
        kvMount: this.#o.kvMount,
        prefixes: this.#o.prefixes,
        namespace: this.#o.namespace,
        ownEntityId: a.ownEntityId,
        ownDisplayName: a.ownDisplayName,
        ignore: new Set(this.#o.ignore),
      },
    };
    const backlog = this.#backlog;
    this.#backlog = [];
    this.#backlogChars = 0;
    for (const text of backlog) this.line(text);
    for (; this.#backlogDropped > 0; this.#backlogDropped--)
      this.#count({ kind: "skipped", reason: "backlog" });
    const tick = () => {
      this.#timer = setTimeout(() => {
        void this.flush().finally(() => {
          if (this.#timer !== undefined) tick();
        });
      }, this.#o.shareIntervalMs);
      this.#timer.unref();
    };
    tick();
  }

  /** Stops the sources, then shares what is left (best effort). */
  async stop(): Promise<void> {
    const timer = this.#timer;
    this.#timer = undefined;
    if (timer !== undefined) clearTimeout(timer);
    for (const s of this.#sources.splice(0).reverse()) await s.stop();
    if (this.#attached !== undefined) await this.flush();
  }

  /** Writes the shards of every path read since the last flush; failures are reported and retried next time. */
  async flush(): Promise<void> {
    while (this.#flushing !== undefined) await this.#flushing;
    this.#flushing = this.#flushOnce().finally(() => {
      this.#flushing = undefined;
    });
    return this.#flushing;
  }

  async #flushOnce(): Promise<void> {
    const a = this.#attached;
    if (a === undefined) return;
    const now = this.#o.clock.now().getTime();
    this.#book.prune(now);
    const byShard = new Map<string, string[]>();
    for (const path of this.#book.takeDirty()) {
      const shard = shardOf(path);
      const list = byShard.get(shard);
      if (list === undefined) byShard.set(shard, [path]);
      else list.push(path);
    }
    for (const [shard, paths] of byShard) {
      const ours: ShardContent = new Map();
      for (const p of paths) {
        const readers = this.#book.entriesOf(p);
        if (readers !== undefined) ours.set(p, new Map(readers));
      }
      try {
        const written = await a.shards.merge(shard, ours, now - this.#o.windowMs, this.#maxPerPath);
        this.#remember(shard, written, now);
      } catch (err) {
        this.#book.markDirty(paths);
        a.onFlushFailure?.(err);
      }
    }
  }

  /** ReaderEvidence: the shared entries (cached briefly) merged with this replica's own book. */
  async readersOf(path: string, since: Date): Promise<readonly ReaderSeen[]> {
    const shared = (await this.#sharedShard(shardOf(path))).get(path);
    return this.#merged(path, shared, since.getTime());
  }

  /** One path's shared readers with this replica's own (per reader, the later read wins), from `sinceMs` on. */
  #merged(path: string, shared: ReadonlyMap<string, BookEntry> | undefined, sinceMs: number): ReaderSeen[] {
    const own = this.#book.entriesOf(path);
    let byId: ReadonlyMap<string, BookEntry> = shared ?? new Map();
    if (own !== undefined && own.size > 0) {
      const merged = new Map(byId);
      for (const [id, e] of own) {
        const held = merged.get(id);
        if (held === undefined || newer(e, held)) merged.set(id, e);
      }
      byId = merged;
    }
    const out: ReaderSeen[] = [];
    for (const [id, e] of byId) {
      if (e.at >= sinceMs) out.push({ id, label: e.label, version: e.version, at: new Date(e.at) });
    }
    return out;
  }

  /**
   * ReaderDirectory: every path's readers, from one LIST of the shards and one read of each (cached briefly, as
   * for readersOf) merged with this replica's own book. The CLI's feed has no sources, so only the shared part.
   */
  async allReaders(since: Date): Promise<ReadonlyMap<string, readonly ReaderSeen[]>> {
    // Errors as Vault gave them (a token without list on the folder says so): no soak waits on this answer.
    const shards = await this.#attachedOrThrow().shards.list();
    const sinceMs = since.getTime();
    const out = new Map<string, readonly ReaderSeen[]>();
    // A few reads at a time: up to 256 shards should cost a scan well under a second, not 256 round trips.
    // Each shard is turned into its paths' readers as it arrives and then let go: at 10,000 credentials with
    // five readers each the shards hold 50,000 readers (about 25 MB of heap), and the next scan, a scan
    // interval later, reads them again anyway.
    await forEachBounded(shards, SHARD_READ_CONCURRENCY, async (shard) => {
      for (const [path, shared] of await this.#sharedShard(shard, false, false)) {
        if (shardOf(path) !== shard) continue; // a path is only ever read from its own shard
        const seen = this.#merged(path, shared, sinceMs);
        if (seen.length > 0) out.set(path, seen);
      }
    });
    // Paths only this replica's book has so far (not flushed yet).
    for (const path of this.#book.paths()) {
      if (out.has(path)) continue;
      const seen = this.#merged(path, undefined, sinceMs);
      if (seen.length > 0) out.set(path, seen);
    }
    return out;
  }

  #attachedOrThrow(): ReaderFeedAttachment {
    const a = this.#attached;
    if (a === undefined) {
      throw new RotatorError("VAULT_UNAVAILABLE", "the reader feed is not connected to Vault yet", {
        retryable: true,
      });
    }
    return a;
  }

  #unreadable(err: unknown, shard: string): RotatorError {
    // The soak waits longer on missing evidence; it never promotes on it.
    if (isRotatorError(err) && err.retryable) return err;
    return new RotatorError("VAULT_UNAVAILABLE", "the shared reader entries could not be read", {
      retryable: true,
      cause: err,
      context: { shard },
    });
  }

  /**
   * `forSoak`: an error becomes a retryable VAULT_UNAVAILABLE (the soak waits; it never promotes on it).
   * `keep`: remember what was read for SHARD_CACHE_MS (the soaks of one cycle ask for the same few shards).
   */
  async #sharedShard(shard: string, forSoak = true, keep = true): Promise<ShardContent> {
    const a = this.#attachedOrThrow();
    const now = this.#o.clock.now().getTime();
    const cached = this.#cache.get(shard);
    if (cached !== undefined && cached.until > now) return cached.content;
    try {
      const { content } = await a.shards.read(shard);
      if (keep) this.#remember(shard, content, now);
      return content;
    } catch (err) {
      throw forSoak ? this.#unreadable(err, shard) : err;
    }
  }

  /** Caches a shard's content briefly; entries past their time are dropped, not kept until overwritten. */
  #remember(shard: string, content: ShardContent, now: number): void {
    for (const [key, entry] of this.#cache) if (entry.until <= now) this.#cache.delete(key);
    this.#cache.set(shard, { content, until: now + SHARD_CACHE_MS });
  }
}
