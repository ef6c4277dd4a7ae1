// The one HTTP POST every chat target makes: a timeout per attempt, retries with jittered backoff
// after 429, 5xx and transport failures (honouring Retry-After up to 30 s), never after another 4xx (the payload
// or the URL is wrong; repeating cannot help). Errors name the target and the status, never the URL: a webhook
// URL is a credential. The transport's own error is not attached as a cause for the same reason. An answer larger than
// 1 MiB (a chat service answers a few bytes) aborts the request and fails the send without a retry.
import { setTimeout as sleepTimer } from "node:timers/promises";
import { RotatorError } from "../../core/errors.ts";
import type { SecretValue } from "../../core/secret-value.ts";
import { type Clock, systemClock } from "../../core/time.ts";
import {
  AnswerTooLargeError,
  backoffDelayMs,
  createHttpTransport,
  DEFAULT_ANSWER_CAP_BYTES,
  type HttpTransport,
  isUnavailableCode,
  parseRetryAfter,
  readCappedText,
  transportErrorCode,
} from "../http/http-client.ts";
import type { ChatTargetKind, ChatTargetOptions, Sleep } from "./chat-target.ts";

export interface OutgoingPost {
  readonly body: string;
  readonly headers: Readonly<Record<string, string>>;
}

type Attempt =
  | { readonly ok: true }
  | {
      readonly ok: false;
      readonly retryable: boolean;
      readonly status?: number;
      /** A short error token from the answer (Slack's "invalid_payload", "no_text"), when it looks like one. */
      readonly reason?: string;
      readonly transportCode?: string;
      readonly retryAfterMs?: number;
      /** The answer passed the byte cap (its text, e.g. "the answer is larger than 1 MiB"). */
      readonly tooLarge?: string;
    };

const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_MAX_RETRIES = 3;
const RETRY_BASE_MS = 500;
const RETRY_CAP_MS = 8_000;
const RETRY_AFTER_CAP_MS = 30_000;
const REASON_TOKEN = /^[a-z][a-z0-9_]{1,40}$/;

const realSleep: Sleep = async (ms) => {
  await sleepTimer(ms);
};

export class ChatPoster {
  readonly name: string;
  readonly kind: ChatTargetKind;
  readonly #url: SecretValue;
  readonly #timeoutMs: number;
  readonly #maxRetries: number;
  readonly #transport: HttpTransport;
  readonly #ownsTransport: boolean;
  readonly #clock: Clock;
  readonly #sleep: Sleep;
  readonly #random: () => number;

  constructor(kind: ChatTargetKind, opts: ChatTargetOptions) {
    this.name = opts.name;
    this.kind = kind;
    if (!isHttpUrl(opts.url.reveal())) {
      throw new RotatorError("CONFIG_INVALID", `${this.#who()}: the url must be an http or https URL`, {
        context: { target: opts.name, kind },
      });
    }
    this.#url = opts.url;
    this.#timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#maxRetries = Math.max(0, opts.maxRetries ?? DEFAULT_MAX_RETRIES);
    this.#ownsTransport = opts.transport === undefined;
    this.#transport = opts.transport ?? createHttpTransport(this.#timeoutMs);
    this.#clock = opts.clock ?? systemClock;
    this.#sleep = opts.sleep ?? realSleep;
    this.#random = opts.random ?? Math.random;
  }

  get clock(): Clock {
    return this.#clock;
  }

  /** POSTs what `build` makes (called again for every attempt, so signatures stay fresh) until a 2xx answer. */
  async post(build: () => OutgoingPost): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      const result = await this.#once(build());
      if (result.ok) return;
      if (!result.retryable || attempt >= this.#maxRetries) throw this.#error(result, attempt + 1);
      const backoff = backoffDelayMs(attempt, {
        baseMs: RETRY_BASE_MS,
        capMs: RETRY_CAP_MS,
        random: this.#random,
      });
      const delayMs =
        result.retryAfterMs === undefined ? backoff : Math.min(result.retryAfterMs, RETRY_AFTER_CAP_MS);
      await this.#sleep(delayMs);
    }
  }

  async close(): Promise<void> {
    if (this.#ownsTransport) await this.#transport.close();
  }

  async #once(out: OutgoingPost): Promise<Attempt> {
    let status: number | undefined;
    let retryAfter: string | undefined;
    let text: string;
    try {
      const res = await this.#transport.request(this.#url.reveal(), {
        method: "POST",
        headers: { "content-type": "application/json; charset=utf-8", ...out.headers },
        body: out.body,
        timeoutMs: this.#timeoutMs,
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
      status = res.statusCode;
      const header = res.headers["retry-after"];
      retryAfter = Array.isArray(header) ? header[0] : header;
      text = await readCappedText(res, DEFAULT_ANSWER_CAP_BYTES);
    } catch (err) {
      if (err instanceof AnswerTooLargeError) {
        // Not retried: the endpoint misbehaves, and it may have posted the message already.
        return {
          ok: false,
          retryable: false,
          ...(status === undefined ? {} : { status }),
          tooLarge: err.message,
        };
      }
      const code = transportErrorCode(err) ?? "UNKNOWN";
      return { ok: false, retryable: isUnavailableCode(code), transportCode: code };
    }
    if (status >= 200 && status < 300) return { ok: true };
    const token = text.trim();
    const retryAfterMs = parseRetryAfter(retryAfter, this.#clock);
    return {
      ok: false,
      retryable: status === 429 || status >= 500,
      status,
      ...(REASON_TOKEN.test(token) ? { reason: token } : {}),
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    };
  }

  #who(): string {
    return `chat target "${this.name}" (${this.kind})`;
  }

  #error(a: Exclude<Attempt, { ok: true }>, attempts: number): RotatorError {
    const what =
      a.tooLarge !== undefined
        ? `HTTP ${a.status ?? "?"}, but ${a.tooLarge}`
        : a.status === undefined
          ? `no answer (${a.transportCode ?? "UNKNOWN"})`
          : `HTTP ${a.status}${a.reason === undefined ? "" : ` ${a.reason}`}${a.status >= 300 && a.status < 400 ? " (redirects are not followed)" : ""}`;
    const tries = attempts > 1 ? ` after ${attempts} attempts` : "";
    return new RotatorError("NOTIFY_FAILED", `${this.#who()}: ${what}${tries}`, {
      retryable: a.retryable,
      context: {
        target: this.name,
        kind: this.kind,
        status: a.status,
        reason: a.reason,
        transportCode: a.transportCode,
        attempts,
      },
    });
  }
}

function isHttpUrl(text: string): boolean {
  try {
    const u = new URL(text);
    return u.protocol === "https:" || u.protocol === "http:";
  } catch {
    return false;
  }
}
