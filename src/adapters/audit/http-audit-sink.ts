// AuditSink that POSTs batches of events as JSON ({"events":[…]}) to an HTTP collector.
// - emit() only queues (a slow collector never slows a rotation) and rejects only when maxQueue events are
//   waiting. A batch goes out when batchSize events are queued, or flushIntervalMs after the first waiting one.
// - One batch in flight at a time, so batches arrive in emit order. 5xx, 429 and transport failures are retried
//   maxRetries times with jittered backoff (a Retry-After answer is honoured, up to maxRetryAfterMs); any other
//   answer (4xx, 3xx) is final: the request is wrong and sending it again cannot help. A batch that finally
//   fails is dropped, counted in health() and reported through onDeliveryFailure.
// - The URL (it may carry a token) and the header values are secrets: errors, health and callbacks say "the
//   audit HTTP endpoint" with the status or transport error code, never the address. User info in the URL
//   (https://user:pass@host/…) is sent as Basic authorization, as a browser would, and not left in the URL.
// - The collector's answer is read and dropped, up to 1 MiB: a larger one aborts the request and fails the batch
//   without a retry (the collector misbehaves, and it may have stored the batch already).
// - The flush timer is unref'd: a process that ends calls close() (which flushes) rather than waiting on it.
import { setTimeout as sleep } from "node:timers/promises";
import { RotatorError } from "../../core/errors.ts";
import type { AuditSink } from "../../core/rotation/rotation-ports.ts";
import type { AuditEvent } from "../../core/rotation/rotation-state.ts";
import type { SecretValue } from "../../core/secret-value.ts";
import { type Clock, systemClock } from "../../core/time.ts";
import {
  AnswerTooLargeError,
  backoffDelayMs,
  createHttpTransport,
  DEFAULT_ANSWER_CAP_BYTES,
  discardCapped,
  type HttpTransport,
  isUnavailableCode,
  parseRetryAfter,
  transportErrorCode,
} from "../http/http-client.ts";
import { auditEventBody } from "./jsonl-file-audit-sink.ts";

const ENDPOINT = "the audit HTTP endpoint";

export interface HttpAuditSinkOptions {
  readonly url: SecretValue;
  readonly headers?: Readonly<Record<string, SecretValue>>;
  /** Events per POST, default 50. */
  readonly batchSize?: number;
  /** Longest time an event waits for its batch to fill, default 1000. */
  readonly flushIntervalMs?: number;
  /** Retries of one batch after 5xx, 429 or a transport failure, default 5. */
  readonly maxRetries?: number;
  /** Timeout of one POST, default 10000. */
  readonly timeoutMs?: number;
  /** Events waiting (queued plus in flight) before emit rejects, default 10000. */
  readonly maxQueue?: number;
  /** Base delay of the retry backoff, default 500 (then 1 s, 2 s, … up to 30 s, jittered). */
  readonly retryBaseMs?: number;
  /** Upper bound on a Retry-After wait, default 60000. */
  readonly maxRetryAfterMs?: number;
  readonly transport?: HttpTransport;
  readonly clock?: Clock;
  readonly random?: () => number;
  /** Called once per batch that is given up on, with how many events it held. */
  readonly onDeliveryFailure?: (err: RotatorError, dropped: number) => void;
}

export interface HttpAuditSinkHealth {
  /** Events not yet delivered (waiting and in flight). */
  readonly queued: number;
  /** Batches given up on, plus emits refused because the queue was full. */
  readonly failures: number;
  /** The last failure as a code only ("HTTP_503", "ECONNREFUSED", "QUEUE_FULL"); never the address. */
  readonly lastError: string | undefined;
  /** False from a failed batch (or a full queue) until a batch is delivered again: what /readyz shows. */
  readonly ok: boolean;
}

type Attempt =
  | { readonly ok: true }
  | { readonly ok: false; readonly error: RotatorError; readonly retryAfterMs: number | undefined };

export class HttpAuditSink implements AuditSink {
  readonly #url: string;
  readonly #headers: Record<string, string>;
  readonly #batchSize: number;
  readonly #flushIntervalMs: number;
  readonly #maxRetries: number;
  readonly #timeoutMs: number;
  readonly #maxQueue: number;
  readonly #retryBaseMs: number;
  readonly #maxRetryAfterMs: number;
  readonly #transport: HttpTransport;
  readonly #ownsTransport: boolean;
  readonly #clock: Clock;
  readonly #random: () => number;
  readonly #onDeliveryFailure: ((err: RotatorError, dropped: number) => void) | undefined;

  #queue: Record<string, unknown>[] = [];
  #inFlight = 0;
  #draining: Promise<void> | undefined;
  #sendAll = false;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  #failures = 0;
  #lastError: string | undefined;
  #ok = true;

  constructor(opts: HttpAuditSinkOptions) {
    const { url, basic } = parseEndpoint(opts.url);
    this.#url = url;
    this.#headers = { "content-type": "application/json" };
    if (basic !== undefined) this.#headers["authorization"] = basic;
    for (const [name, value] of Object.entries(opts.headers ?? {})) {
      this.#headers[name.toLowerCase()] = value.reveal();
    }
    this.#batchSize = positive(opts.batchSize ?? 50, "batchSize");
    this.#flushIntervalMs = positive(opts.flushIntervalMs ?? 1000, "flushIntervalMs");
    this.#maxRetries = Math.max(0, Math.floor(opts.maxRetries ?? 5));
    this.#timeoutMs = positive(opts.timeoutMs ?? 10_000, "timeoutMs");
    this.#maxQueue = positive(opts.maxQueue ?? 10_000, "maxQueue");
    this.#retryBaseMs = opts.retryBaseMs ?? 500;
    this.#maxRetryAfterMs = opts.maxRetryAfterMs ?? 60_000;
    this.#ownsTransport = opts.transport === undefined;
    this.#transport = opts.transport ?? createHttpTransport(this.#timeoutMs);
    this.#clock = opts.clock ?? systemClock;
    this.#random = opts.random ?? Math.random;
    this.#onDeliveryFailure = opts.onDeliveryFailure;
  }

  async emit(event: AuditEvent): Promise<void> {
    if (this.#closed) throw new RotatorError("AUDIT_FAILED", `the sink for ${ENDPOINT} is closed`);
    if (this.#queue.length + this.#inFlight >= this.#maxQueue) {
      this.#failures++;
      this.#lastError = "QUEUE_FULL";
      this.#ok = false;
      throw new RotatorError(
        "AUDIT_FAILED",
        `${this.#maxQueue} audit events are waiting for ${ENDPOINT}; this one is refused`,
        { retryable: true, context: { errorCode: "QUEUE_FULL", queued: this.#maxQueue } },
      );
    }
    this.#queue.push(auditEventBody(event));
    if (this.#queue.length >= this.#batchSize) void this.#drain(false);
    else this.#arm();
  }

  /** Sends everything queued so far; resolves when each batch was delivered or given up on. Never rejects. */
  async flush(): Promise<void> {
    for (;;) {
      if (this.#draining) {
        this.#sendAll = true;
        await this.#draining;
      } else if (this.#queue.length > 0) {
        await this.#drain(true);
      } else {
        return;
      }
    }
  }

  /** Flushes, then stops the timer (and closes the connection pool it made itself). Later emits reject. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.flush();
    this.#disarm();
    if (this.#ownsTransport) await this.#transport.close();
  }

  health(): HttpAuditSinkHealth {
    return {
      queued: this.#queue.length + this.#inFlight,
      failures: this.#failures,
      lastError: this.#lastError,
      ok: this.#ok,
    };
  }

  #arm(): void {
    if (this.#timer !== undefined || this.#draining) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.#drain(true);
    }, this.#flushIntervalMs);
    this.#timer.unref();
  }

  #disarm(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Sends full batches, or (all) everything queued, one batch at a time. Never rejects. */
  #drain(all: boolean): Promise<void> {
    if (all) this.#sendAll = true;
    if (this.#draining) return this.#draining;
    this.#disarm();
    const run = async () => {
      while (this.#queue.length >= this.#batchSize || (this.#sendAll && this.#queue.length > 0)) {
        const batch = this.#queue.splice(0, this.#batchSize);
        this.#inFlight = batch.length;
        try {
          await this.#deliver(batch);
        } finally {
          this.#inFlight = 0;
        }
      }
      this.#sendAll = false;
    };
    this.#draining = run().finally(() => {
      this.#draining = undefined;
      if (this.#queue.length > 0 && !this.#closed) this.#arm();
    });
    return this.#draining;
  }

  async #deliver(batch: readonly Record<string, unknown>[]): Promise<void> {
    const body = JSON.stringify({ events: batch });
    for (let attempt = 0; ; attempt++) {
      const result = await this.#post(body, batch.length);
      if (result.ok) {
        this.#ok = true;
        return;
      }
      if (!result.error.retryable || attempt >= this.#maxRetries) {
        this.#failures++;
        this.#ok = false;
        this.#lastError = String(result.error.context["errorCode"] ?? result.error.code);
        try {
          this.#onDeliveryFailure?.(result.error, batch.length);
        } catch {
          // A failing callback must not stop the next batches.
        }
        return;
      }
      const backoff = backoffDelayMs(attempt, {
        baseMs: this.#retryBaseMs,
        capMs: 30_000,
        random: this.#random,
      });
      const delay =
        result.retryAfterMs === undefined ? backoff : Math.min(result.retryAfterMs, this.#maxRetryAfterMs);
      await sleep(delay);
    }
  }

  async #post(body: string, events: number): Promise<Attempt> {
    let status: number | undefined;
    try {
      const res = await this.#transport.request(this.#url, {
        method: "POST",
        headers: this.#headers,
        body,
        timeoutMs: this.#timeoutMs,
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
      status = res.statusCode;
      // The collector's answer is not looked at (it may echo what we sent, or worse), only drained.
      await discardCapped(res, DEFAULT_ANSWER_CAP_BYTES);
      if (status >= 200 && status < 300) return { ok: true };
      const retryable = status === 429 || status >= 500;
      const header = res.headers["retry-after"];
      return {
        ok: false,
        error: new RotatorError(
          "AUDIT_FAILED",
          `${ENDPOINT} answered ${status} to a batch of ${events} events`,
          {
            retryable,
            context: { status, errorCode: `HTTP_${status}`, events },
          },
        ),
        retryAfterMs: retryable
          ? parseRetryAfter(Array.isArray(header) ? header[0] : header, this.#clock)
          : undefined,
      };
    } catch (err) {
      if (err instanceof AnswerTooLargeError) {
        return {
          ok: false,
          error: new RotatorError(
            "AUDIT_FAILED",
            `${ENDPOINT} answered ${status ?? "?"} to a batch of ${events} events, but ${err.message}; ` +
              "the answer was cut off and the batch counts as failed (it may have been stored)",
            { retryable: false, context: { status, errorCode: "ANSWER_TOO_LARGE", events } },
          ),
          retryAfterMs: undefined,
        };
      }
      // No cause attached: a transport error is no place for anything about the endpoint.
      const code = transportErrorCode(err) ?? "UNKNOWN";
      return {
        ok: false,
        error: new RotatorError("AUDIT_FAILED", `${ENDPOINT} could not be reached (${code})`, {
          retryable: isUnavailableCode(code),
          context: { errorCode: code, events },
        }),
        retryAfterMs: undefined,
      };
    }
  }
}

/** The URL without user info, and that user info as a Basic authorization value. Errors never quote it. */
function parseEndpoint(url: SecretValue): { url: string; basic: string | undefined } {
  let parsed: URL;
  try {
    parsed = new URL(url.reveal());
  } catch {
    throw new RotatorError("CONFIG_INVALID", `the URL of ${ENDPOINT} is not a valid URL`);
  }
  if (parsed.protocol !== "https:" && parsed.protocol !== "http:") {
    throw new RotatorError("CONFIG_INVALID", `the URL of ${ENDPOINT} must start with https:// or http://`);
  }
  if (parsed.username === "" && parsed.password === "") return { url: parsed.href, basic: undefined };
  let user: string;
  let pass: string;
  try {
    user = decodeURIComponent(parsed.username);
    pass = decodeURIComponent(parsed.password);
  } catch {
    throw new RotatorError("CONFIG_INVALID", `the user info in the URL of ${ENDPOINT} is not valid`);
  }
  parsed.username = "";
  parsed.password = "";
  return { url: parsed.href, basic: `Basic ${Buffer.from(`${user}:${pass}`).toString("base64")}` };
}

function positive(value: number, name: string): number {
  if (!Number.isFinite(value) || value <= 0) {
    throw new RotatorError("CONFIG_INVALID", `the audit HTTP sink's ${name} must be a positive number`);
  }
  return value;
}
