// One HTTP exchange with Salesforce on undici: an injected Dispatcher, a timeout on every call (per phase and
// overall), the Sforce-Limit-Info header read from every answer, transport failures mapped to RotatorError,
// and bounded retries with jittered backoff for idempotent calls only (transport failures and 5xx answers).
// Answers are read up to 1 MiB (Salesforce's largest, a page of the usage listing, is tens of KiB); a larger one
// aborts the request and is SALESFORCE_UNEXPECTED_RESPONSE.
import { setTimeout as sleepTimer } from "node:timers/promises";
import { type Dispatcher, request as undiciRequest } from "undici";
import type { Clock } from "../../core/clock.ts";
import { isRotatorError } from "../../core/errors.ts";
import { backoffDelayMs } from "../http/backoff.ts";
import { AnswerTooLargeError, DEFAULT_ANSWER_CAP_BYTES, readCappedText } from "../http/capped-body.ts";
import { errorFromTransport, type SalesforceCall, unexpectedResponse } from "./salesforce-errors.ts";
import { type ApiUsage, parseLimitInfo } from "./salesforce-limit-info.ts";

export interface SalesforceLog {
  debug(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export const silentLog: SalesforceLog = { debug: () => {}, warn: () => {} };

export type Sleep = (ms: number, signal?: AbortSignal) => Promise<void>;

export const realSleep: Sleep = async (ms, signal) => {
  await sleepTimer(ms, undefined, signal ? { signal } : {});
};

export interface HttpExchange {
  readonly call: SalesforceCall;
  /** Absolute URL (may carry a query string; only call.path appears in messages). */
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: string;
  /** Overrides the default per-call timeout (a verification deadline that is closer). */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal | undefined;
  /** Retries after transport failures and 5xx; default: the client's maxRetries when idempotent, else 0. */
  readonly maxRetries?: number;
}

export type ParsedBody =
  | { readonly kind: "empty" }
  | { readonly kind: "json"; readonly value: unknown }
  | { readonly kind: "invalid" };

export interface HttpAnswer {
  readonly status: number;
  readonly body: ParsedBody;
}

export interface SalesforceHttpOptions {
  readonly dispatcher: Dispatcher;
  readonly clock: Clock;
  readonly timeoutMs: number;
  readonly maxRetries: number;
  readonly sleep: Sleep;
  readonly random: () => number;
  readonly log: SalesforceLog;
}

const RETRY_BASE_MS = 250;
const RETRY_CAP_MS = 4_000;

export class SalesforceHttp {
  readonly #opts: SalesforceHttpOptions;
  #usage: ApiUsage | undefined;

  constructor(opts: SalesforceHttpOptions) {
    this.#opts = opts;
  }

  get clock(): Clock {
    return this.#opts.clock;
  }

  get timeoutMs(): number {
    return this.#opts.timeoutMs;
  }

  /** The latest `api-usage=n/max` seen on any answer. */
  get apiUsage(): ApiUsage | undefined {
    return this.#usage;
  }

  /** Sends, retrying idempotent calls after transport failures and 5xx; returns any answer with a status. */
  async send(x: HttpExchange): Promise<HttpAnswer> {
    const retries = x.call.idempotent ? (x.maxRetries ?? this.#opts.maxRetries) : 0;
    for (let attempt = 0; ; attempt++) {
      let answer: HttpAnswer | undefined;
      try {
        answer = await this.#once(x);
      } catch (err) {
        if (attempt >= retries || !isRotatorError(err) || !err.retryable) throw err;
        await this.#pause(x, attempt, err.code);
        continue;
      }
      if (answer.status < 500 || attempt >= retries) return answer;
      await this.#pause(x, attempt, `HTTP ${answer.status}`);
    }
  }

  async #pause(x: HttpExchange, attempt: number, why: string): Promise<void> {
    const delayMs = backoffDelayMs(attempt, {
      baseMs: RETRY_BASE_MS,
      capMs: RETRY_CAP_MS,
      random: this.#opts.random,
    });
    this.#opts.log.debug(
      { step: x.call.step, method: x.call.method, path: x.call.path, attempt: attempt + 1, delayMs, why },
      "salesforce call failed; retrying",
    );
    await this.#opts.sleep(delayMs, x.signal);
  }

  async #once(x: HttpExchange): Promise<HttpAnswer> {
    const timeoutMs = Math.max(1, Math.min(x.timeoutMs ?? this.#opts.timeoutMs, this.#opts.timeoutMs));
    const overall = AbortSignal.timeout(timeoutMs);
    const signal = x.signal ? AbortSignal.any([overall, x.signal]) : overall;
    let status = 0;
    try {
      const res = await undiciRequest(x.url, {
        method: x.call.method as Dispatcher.HttpMethod,
        headers: { accept: "application/json", ...x.headers },
        body: x.body ?? null,
        dispatcher: this.#opts.dispatcher,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
        signal,
      });
      const usage = parseLimitInfo(res.headers["sforce-limit-info"]);
      if (usage) this.#usage = usage;
      status = res.statusCode;
      const text = await readCappedText(res, DEFAULT_ANSWER_CAP_BYTES);
      return { status, body: parseBody(text) };
    } catch (err) {
      if (err instanceof AnswerTooLargeError) {
        throw unexpectedResponse(x.call, status, err.message, { uncertain: !x.call.idempotent });
      }
      throw errorFromTransport(x.call, x.url, err);
    }
  }
}

/** JSON or not; a parse error is dropped on purpose (its message quotes the body, which may hold secrets). */
function parseBody(text: string): ParsedBody {
  if (text.trim() === "") return { kind: "empty" };
  try {
    return { kind: "json", value: JSON.parse(text) };
  } catch {
    return { kind: "invalid" };
  }
}

export function bodyValue(body: ParsedBody): unknown {
  return body.kind === "json" ? body.value : undefined;
}
