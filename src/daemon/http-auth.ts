// The daemon's side of the HTTP face's tokens: API and read tokens resolved from their secret references and
// re-read every few seconds (a rotated token file takes effect without a restart), held to a minimum length
// at start-up and on every re-read; and a summary of refused requests for the log that cannot flood it.

import { shortTokenProblem } from "../config/config-schema.ts";
import type { SecretRef } from "../config/config-types.ts";
import { RotatorError } from "../core/errors.ts";
import type { SecretValue } from "../core/secret-value.ts";
import type { ApiToken } from "../http/bearer-auth.ts";
import type { UnauthorizedEvent } from "../http/http-deps.ts";
import type { Logger } from "./logger.ts";

const TOKEN_CACHE_MS = 10_000;

export interface NamedTokenRef {
  readonly name: string;
  readonly ref: SecretRef;
}

export interface TokenSource {
  /**
   * Start-up: resolves every token. Throws CONFIG_INVALID naming the key of a token that cannot be read or is
   * too short, so `serve` exits 2 without serving anything.
   */
  start(): Promise<void>;
  /** The usable tokens, re-read when older than the cache time; throws when a reference cannot be read. */
  get(): Promise<readonly ApiToken[]>;
}

export interface TokenSourceOptions {
  readonly resolve: (ref: SecretRef) => Promise<SecretValue>;
  readonly log: Pick<Logger, "warn" | "info">;
  readonly nowMs?: (() => number) | undefined;
  readonly cacheMs?: number | undefined;
}

/**
 * The tokens of one config key (server.api_tokens or server.read_tokens). After start-up, a re-read that finds
 * a token too short drops that token, so it authenticates nothing rather than a weaker secret, and warns once
 * naming its key (again only after it was long enough in between). The others keep working.
 */
export function createTokenSource(refs: readonly NamedTokenRef[], opts: TokenSourceOptions): TokenSource {
  const nowMs = opts.nowMs ?? Date.now;
  const cacheMs = opts.cacheMs ?? TOKEN_CACHE_MS;
  let cached: { at: number; list: readonly ApiToken[] } | undefined;
  let pending: Promise<readonly ApiToken[]> | undefined;
  const refused = new Set<string>();

  /** strict (start-up): a short token throws instead of being dropped. */
  const readAll = async (strict: boolean): Promise<readonly ApiToken[]> => {
    const list: ApiToken[] = [];
    for (const { name, ref } of refs) {
      const token = await opts.resolve(ref);
      const problem = shortTokenProblem(ref.key, token);
      if (problem !== undefined && strict) throw new RotatorError("CONFIG_INVALID", problem);
      if (problem === undefined) {
        if (refused.delete(ref.key)) opts.log.info({ key: ref.key }, "HTTP token accepted again");
        list.push({ name, token });
      } else if (!refused.has(ref.key)) {
        refused.add(ref.key);
        opts.log.warn({ key: ref.key }, `HTTP token refused until replaced: ${problem}`);
      }
    }
    return list;
  };

  return {
    async start() {
      cached = { at: nowMs(), list: await readAll(true) };
    },
    async get() {
      if (cached !== undefined && nowMs() - cached.at < cacheMs) return cached.list;
      // Concurrent requests share one re-read.
      pending ??= readAll(false)
        .then((list) => {
          cached = { at: nowMs(), list };
          return list;
        })
        .finally(() => {
          pending = undefined;
        });
      return pending;
    },
  };
}

/** At most this many distinct client addresses per summary line. */
const MAX_CLIENTS = 5;

export interface UnauthorizedSummaryOptions {
  readonly log: Pick<Logger, "warn">;
  /** At most one line per interval; default one minute. */
  readonly intervalMs?: number | undefined;
  readonly nowMs?: (() => number) | undefined;
}

/**
 * Turns 401s into warning lines that cannot flood the log: the first refusal after a quiet interval is
 * logged at once, later ones are counted and logged together when the interval ends. A line holds counts by
 * reason and access and a few client addresses, never a token or a header.
 */
export class UnauthorizedSummary {
  readonly #log: Pick<Logger, "warn">;
  readonly #intervalMs: number;
  readonly #nowMs: () => number;
  #lastLineAt: number | undefined;
  #timer: NodeJS.Timeout | undefined;
  #counts = emptyCounts();
  #clients = new Set<string>();

  constructor(opts: UnauthorizedSummaryOptions) {
    this.#log = opts.log;
    this.#intervalMs = opts.intervalMs ?? 60_000;
    this.#nowMs = opts.nowMs ?? Date.now;
  }

  record(event: UnauthorizedEvent): void {
    this.#counts.refused += 1;
    this.#counts[event.reason] += 1;
    this.#counts[event.access === "read" ? "reads" : "writes"] += 1;
    if (this.#clients.size < MAX_CLIENTS) this.#clients.add(event.client);
    const now = this.#nowMs();
    if (this.#lastLineAt === undefined || now - this.#lastLineAt >= this.#intervalMs) {
      this.#flush();
      return;
    }
    if (this.#timer === undefined) {
      this.#timer = setTimeout(() => this.#flush(), this.#lastLineAt + this.#intervalMs - now);
      this.#timer.unref();
    }
  }

  /** Logs what is still counted (at shutdown) and stops the timer. */
  close(): void {
    if (this.#counts.refused > 0) this.#flush();
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#counts.refused === 0) return;
    const since = this.#lastLineAt;
    this.#lastLineAt = this.#nowMs();
    this.#log.warn(
      {
        ...this.#counts,
        clients: [...this.#clients],
        ...(since === undefined ? {} : { sinceLastLineMs: this.#lastLineAt - since }),
      },
      "HTTP requests refused for a missing or wrong token",
    );
    this.#counts = emptyCounts();
    this.#clients = new Set();
  }
}

function emptyCounts() {
  return { refused: 0, missing: 0, malformed: 0, wrong: 0, reads: 0, writes: 0 };
}
