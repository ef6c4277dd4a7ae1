// Retry timing shared by the HTTP adapters: exponential backoff with "equal jitter" (half fixed, half random, so
// retries from many callers spread out but never collapse to zero) and Retry-After parsing.
import type { Clock } from "../../core/time.ts";

export interface BackoffOptions {
  /** Delay before the first retry, before jitter. */
  readonly baseMs: number;
  /** Upper bound of the exponential part. */
  readonly capMs: number;
  /** A [0, 1) source; injected so tests can pin the jitter. Default Math.random. */
  readonly random?: () => number;
}

/** The delay before retry number `attempt + 1` (attempt 0 = the first retry): in [exp/2, exp). */
export function backoffDelayMs(attempt: number, opts: BackoffOptions): number {
  const exp = Math.min(opts.capMs, opts.baseMs * 2 ** Math.max(0, attempt));
  const random = opts.random ?? Math.random;
  return exp / 2 + random() * (exp / 2);
}

/** A Retry-After header (seconds or an HTTP date) as milliseconds from now; undefined when absent or invalid. */
export function parseRetryAfter(value: string | undefined, clock: Clock): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - clock.now().getTime());
}
