// One HTTP exchange with Salesforce: an injected HttpTransport, a timeout on every call (per phase and
// overall), the Sforce-Limit-Info header read from every answer, transport failures mapped to RotatorError,
// and bounded retries with jittered backoff for idempotent calls only (transport failures and 5xx answers).
// Answers are read up to 1 MiB (Salesforce's largest, a page of the usage listing, is tens of KiB); a larger one
// aborts the request and is SALESFORCE_UNEXPECTED_RESPONSE.
import { setTimeout as sleepTimer } from "node:timers/promises";
import type { z } from "zod";
import { isRotatorError } from "../../core/errors.ts";
import type { Clock } from "../../core/time.ts";
import { backoffDelayMs } from "../http/backoff.ts";
import {
  AnswerTooLargeError,
  DEFAULT_ANSWER_CAP_BYTES,
  type HttpTransport,
  readCappedText,
} from "../http/http-client.ts";
import {
  describeIssues,
  errorFromRestAnswer,
  errorFromTransport,
  type SalesforceCall,
  unexpectedResponse,
} from "./salesforce-errors.ts";

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
  readonly transport: HttpTransport;
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
      const res = await this.#opts.transport.request(x.url, {
        method: x.call.method,
        headers: { accept: "application/json", ...x.headers },
        body: x.body,
        timeoutMs,
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

// Turning one HTTP answer into a typed value: 2xx or a RotatorError, then JSON validated by a zod schema.
// A non-idempotent call (POST staged, PATCH rotate) whose 2xx answer cannot be read has still taken effect:
// its error is flagged uncertain.
export function callOf(step: string, method: string, path: string, idempotent: boolean): SalesforceCall {
  return { step, method, path, idempotent };
}

/** The answer when it is 2xx or an accepted status; otherwise the mapped RotatorError. */
export function requireOk(
  answer: HttpAnswer,
  call: SalesforceCall,
  accept: readonly number[] = [],
): HttpAnswer {
  if ((answer.status >= 200 && answer.status < 300) || accept.includes(answer.status)) return answer;
  throw errorFromRestAnswer(call, answer.status, bodyValue(answer.body));
}

export function parseAnswer<S extends z.ZodType>(
  answer: HttpAnswer,
  call: SalesforceCall,
  schema: S,
): z.output<S> {
  const uncertain = !call.idempotent;
  if (answer.body.kind !== "json") {
    throw unexpectedResponse(call, answer.status, "the answer is not JSON (HTML page or truncated body)", {
      uncertain,
    });
  }
  const parsed = schema.safeParse(answer.body.value);
  if (!parsed.success) {
    throw unexpectedResponse(
      call,
      answer.status,
      `unexpected response shape (${describeIssues(parsed.error)})`,
      {
        uncertain,
      },
    );
  }
  return parsed.data;
}

// Following `nextPageUrl`: it is present on every page, the last one too, so a listing
// ends on an empty page. Guards: a page URL already visited or a page with nothing new (a server ignoring the
// page parameter) ends the listing; more than MAX_PAGES pages is an error; a nextPageUrl that is not a relative
// path is refused, so the bearer token never travels to another host.
const MAX_PAGES = 200;

/** Returned URLs are opaque, but must stay on the instance: a path starting with one "/", no scheme or host. */
function relativePath(url: string): string | undefined {
  return /^\/(?!\/)[^\s\\]*$/.test(url) ? url : undefined;
}

interface PageItems<T> {
  /** Each item with its id (compared by the first 15 characters). */
  readonly items: ReadonlyArray<{ readonly key: string; readonly value: T }>;
  readonly next: string | undefined;
}

export interface FollowPagesOptions<S extends z.ZodType, T> {
  readonly step: string;
  readonly first: string;
  readonly schema: S;
  /** One authenticated GET of a relative path (query included), 2xx only. */
  readonly fetch: (target: string) => Promise<HttpAnswer>;
  readonly read: (page: z.output<S>) => PageItems<T>;
  readonly log: SalesforceLog;
}

export async function followPages<S extends z.ZodType, T>(opts: FollowPagesOptions<S, T>): Promise<T[]> {
  const { step } = opts;
  const out: T[] = [];
  const seenKeys = new Set<string>();
  const seenUrls = new Set<string>();
  let target = opts.first;
  for (let n = 0; ; n++) {
    const call = callOf(step, "GET", target.split("?")[0] ?? target, true);
    if (n >= MAX_PAGES) {
      throw unexpectedResponse(call, 200, `more than ${MAX_PAGES} pages; the listing never ended`);
    }
    seenUrls.add(target);
    const answer = await opts.fetch(target);
    const { items, next } = opts.read(parseAnswer(answer, call, opts.schema));
    if (items.length === 0) return out;
    let fresh = 0;
    for (const item of items) {
      const k = item.key.slice(0, 15);
      if (seenKeys.has(k)) continue;
      seenKeys.add(k);
      out.push(item.value);
      fresh++;
    }
    if (!next) return out;
    const rel = relativePath(next);
    if (!rel) throw unexpectedResponse(call, answer.status, "nextPageUrl is not a relative path");
    if (fresh === 0 || seenUrls.has(rel)) {
      opts.log.warn({ step, pages: n + 1 }, "salesforce paging repeats itself; stopping");
      return out;
    }
    target = rel;
  }
}

// `Sforce-Limit-Info: api-usage=25/15000`: the org's daily API usage, sent on every REST
// response. Other comma-separated entries (api-bursts, per-app-api-usage=…) are ignored.
export interface ApiUsage {
  readonly used: number;
  readonly max: number;
}

export function parseLimitInfo(header: string | readonly string[] | undefined): ApiUsage | undefined {
  const values = header === undefined ? [] : typeof header === "string" ? [header] : header;
  for (const value of values) {
    for (const part of value.split(",")) {
      const m = /^\s*api-usage\s*=\s*(\d+)\s*\/\s*(\d+)\s*$/i.exec(part);
      if (m?.[1] && m[2]) return { used: Number(m[1]), max: Number(m[2]) };
    }
  }
  return undefined;
}
