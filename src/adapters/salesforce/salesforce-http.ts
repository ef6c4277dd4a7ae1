// One HTTP exchange with Salesforce: an injected HttpTransport, a timeout on every call (per phase and
// overall), the Sforce-Limit-Info header read from every answer, transport failures mapped to RotatorError,
// and bounded retries with jittered backoff for idempotent calls only (transport failures and 5xx answers).
// Answers are read up to 1 MiB (Salesforce's largest, a page of the usage listing, is tens of KiB); a larger one
// aborts the request and is SALESFORCE_UNEXPECTED_RESPONSE.
import { setTimeout as sleepTimer } from "node:timers/promises";
import { z } from "zod";
import { type ErrorCode, isRotatorError, RotatorError } from "../../core/errors.ts";
import type { Clock } from "../../core/time.ts";
import {
  AnswerTooLargeError,
  backoffDelayMs,
  DEFAULT_ANSWER_CAP_BYTES,
  type HttpTransport,
  isNotSentCode,
  isTlsErrorCode,
  readCappedText,
  safeOrigin,
  transportErrorCode,
} from "../http/http-client.ts";

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

// Salesforce answers and transport failures → RotatorError, in one place (house-style 4.5). Messages are one
// line: "<step>: <METHOD> <path> → HTTP <status> <errorCode>: <our explanation>". They never quote a response
// body (error_description and REST `message` texts are not echoed: only error codes that look like codes) and
// never a secret. Paths carry ids only, never a query string.
//
// Non-idempotent calls (POST staged, PATCH rotate) whose outcome is unknown — the request may have reached
// Salesforce but no usable answer came back — get context.uncertain = true and retryable = false: the caller
// must re-read the state before doing anything else.
/** What an error may say about the call that failed. */
export interface SalesforceCall {
  /** The client step, e.g. "create staged", "token", "verify pair". */
  readonly step: string;
  readonly method: string;
  /** Path without a query string. */
  readonly path: string;
  /** False for POST staged and PATCH rotate: failures after sending are then uncertain. */
  readonly idempotent: boolean;
}

/** OAuth error codes look like `invalid_client_id`, REST ones like `INVALID_SESSION_ID`: anything else is hidden. */
const OAUTH_CODE = /^[a-z][a-z0-9_]{1,63}$/;
const REST_CODE = /^[A-Z][A-Z0-9_]{1,63}$/;

/** Why a token request was refused, from Salesforce's fixed description texts (never echoed themselves). */
export type TokenRefusal =
  | "invalid_client_id"
  | "invalid_client"
  | "login_rate_exceeded"
  | "no_run_as_user"
  | "not_my_domain"
  | "invalid_grant"
  | "other";

const UNCERTAIN_NOTE = "the call may have taken effect; re-read the state before trying again";

function describe(call: SalesforceCall, status: number | undefined, errorCode: string | undefined): string {
  const answer = status === undefined ? "" : ` → HTTP ${status}${errorCode ? ` ${errorCode}` : ""}`;
  return `${call.step}: ${call.method} ${call.path}${answer}`;
}

function build(
  code: ErrorCode,
  call: SalesforceCall,
  status: number | undefined,
  errorCode: string | undefined,
  detail: string,
  opts: { retryable: boolean; uncertain?: boolean; context?: Record<string, string | number | undefined> },
  cause?: unknown,
): RotatorError {
  const uncertain = opts.uncertain ?? false;
  const message = `${describe(call, status, errorCode)}: ${detail}${uncertain ? `; ${UNCERTAIN_NOTE}` : ""}`;
  return new RotatorError(code, message, {
    retryable: uncertain ? false : opts.retryable,
    context: {
      step: call.step,
      method: call.method,
      path: call.path,
      status,
      errorCode,
      ...(uncertain ? { uncertain: true } : {}),
      ...opts.context,
    },
    ...(cause === undefined ? {} : { cause }),
  });
}

function safeCode(raw: string | undefined, pattern: RegExp): string | undefined {
  if (raw === undefined) return undefined;
  return pattern.test(raw) ? raw : "(unrecognised error code)";
}

/** Which known refusal a token-endpoint error is; descriptions are matched, never repeated. */
function tokenRefusal(error: string, description: string | undefined): TokenRefusal {
  if (error === "invalid_client_id" || error === "invalid_client") return error;
  const d = (description ?? "").toLowerCase();
  if (d.includes("login rate exceeded") || error === "rate_limit_exceeded") return "login_rate_exceeded";
  if (error !== "invalid_grant") return "other";
  if (d.includes("no client credentials user")) return "no_run_as_user";
  if (d.includes("not supported on this domain")) return "not_my_domain";
  return "invalid_grant";
}

const REFUSAL_TEXT: Record<TokenRefusal, string> = {
  invalid_client_id:
    "Salesforce does not know this consumer key (never existed, deleted, rotated away, or not yet propagated)",
  invalid_client: "Salesforce refused the consumer secret for this consumer key",
  login_rate_exceeded: "the login rate limit for the app's user is exhausted; wait before logging in again",
  no_run_as_user: "the app has no Run As user for the client credentials flow",
  not_my_domain: "client credentials must be requested from the org's My Domain URL, not a login host",
  invalid_grant: "Salesforce refused the grant",
  other: "Salesforce refused the token request",
};

/** A non-2xx answer of /services/oauth2/token. */
export function errorFromTokenAnswer(call: SalesforceCall, status: number, body: unknown): RotatorError {
  if (status >= 500) return unavailableAnswer(call, status, undefined);
  const parsed = TokenErrorSchema.safeParse(body);
  if (!parsed.success) {
    const rest = RestErrorSchema.safeParse(body);
    if (rest.success) return errorFromRestAnswer(call, status, body);
    return unexpectedResponse(call, status, "the token endpoint answered without an OAuth error body");
  }
  const { error, error_description } = parsed.data;
  const reason = tokenRefusal(error, error_description);
  const errorCode = safeCode(error, OAUTH_CODE);
  const context = { reason };
  if (reason === "login_rate_exceeded") {
    return build("SALESFORCE_RATE_LIMITED", call, status, errorCode, REFUSAL_TEXT[reason], {
      retryable: true,
      context,
    });
  }
  return build("SALESFORCE_AUTH_FAILED", call, status, errorCode, REFUSAL_TEXT[reason], {
    retryable: false,
    context,
  });
}

/** A non-2xx answer of a REST / Connect REST resource (or userinfo). */
export function errorFromRestAnswer(call: SalesforceCall, status: number, body: unknown): RotatorError {
  const parsed = RestErrorSchema.safeParse(body);
  const raw = parsed.success ? parsed.data[0]?.errorCode : undefined;
  const errorCode = safeCode(raw, REST_CODE);
  if (status >= 500) return unavailableAnswer(call, status, errorCode);
  if (status === 429 || raw === "REQUEST_LIMIT_EXCEEDED") {
    return build(
      "SALESFORCE_RATE_LIMITED",
      call,
      status,
      errorCode,
      "the org's API request limit is exhausted",
      { retryable: true },
    );
  }
  if (!parsed.success) {
    return unexpectedResponse(call, status, "the answer is not a Salesforce error body");
  }
  switch (status) {
    case 401:
      return build(
        "SALESFORCE_SESSION_EXPIRED",
        call,
        status,
        errorCode,
        "Salesforce refused the session (after a fresh login too: does the token have the api scope?)",
        { retryable: false },
      );
    case 403:
      return build(
        "SALESFORCE_NOT_ENABLED",
        call,
        status,
        errorCode,
        "refused: check the org setting 'Allow access to External Client App consumer secrets via REST API' " +
          "and the Run As user's permissions (External Client App Developer, View Client Secret)",
        { retryable: false },
      );
    case 404:
    case 410:
      return build("SALESFORCE_NOT_FOUND", call, status, errorCode, "no such resource", { retryable: false });
    case 409:
      return build(
        "SALESFORCE_STAGED_CONFLICT",
        call,
        status,
        errorCode,
        call.method === "POST"
          ? "a staged credential set already exists for this consumer; delete it before staging another"
          : "the staged set is not in a state that allows this (only active sets can be rotated)",
        { retryable: false },
      );
    default:
      return build(
        "SALESFORCE_UNEXPECTED_RESPONSE",
        call,
        status,
        errorCode,
        "Salesforce refused the request",
        {
          retryable: false,
        },
      );
  }
}

function unavailableAnswer(
  call: SalesforceCall,
  status: number,
  errorCode: string | undefined,
): RotatorError {
  return build("SALESFORCE_UNAVAILABLE", call, status, errorCode, "Salesforce is unavailable", {
    retryable: true,
    uncertain: !call.idempotent,
  });
}

/** A body that is not what the schema says (HTML page, truncated JSON, missing field, unknown state). */
export function unexpectedResponse(
  call: SalesforceCall,
  status: number,
  detail: string,
  opts: { uncertain?: boolean } = {},
): RotatorError {
  return build("SALESFORCE_UNEXPECTED_RESPONSE", call, status, undefined, detail, {
    retryable: false,
    uncertain: opts.uncertain ?? false,
  });
}

/** Issue paths and codes only: zod issues can quote input values, which may be secret. */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((i) => `${i.path.join(".") || "(body)"}: ${i.code}`)
    .join("; ");
}

/** A failure without an HTTP answer (refused, reset, timed out, TLS). */
export function errorFromTransport(call: SalesforceCall, address: string, err: unknown): RotatorError {
  const code = transportErrorCode(err) ?? "UNKNOWN";
  const where = safeOrigin(address);
  if (isTlsErrorCode(code)) {
    return build(
      "SALESFORCE_UNAVAILABLE",
      call,
      undefined,
      undefined,
      `TLS handshake with ${where} failed (${code})`,
      { retryable: false, context: { transportCode: code } },
      err,
    );
  }
  return build(
    "SALESFORCE_UNAVAILABLE",
    call,
    undefined,
    undefined,
    `no answer from ${where} (${code})`,
    {
      retryable: true,
      uncertain: !call.idempotent && !isNotSentCode(code),
      context: { transportCode: code },
    },
    err,
  );
}

// zod schemas for exactly the Salesforce response fields the client reads. Unknown fields are ignored; secrets
// stay plain strings here and become SecretValue in the client.
const nonEmpty = z.string().min(1);

export const TokenResponseSchema = z.object({
  access_token: nonEmpty,
  instance_url: nonEmpty,
  token_type: z.string().optional(),
  id: z.string().optional(),
  issued_at: z.string().optional(),
  scope: z.string().optional(),
});

const TokenErrorSchema = z.object({
  error: z.string(),
  error_description: z.string().optional(),
});

const RestErrorItemSchema = z.object({ errorCode: z.string(), message: z.string().optional() });
/** REST and Connect REST errors are an array; a single object is tolerated. */
const RestErrorSchema = z.union([
  z.array(RestErrorItemSchema).min(1),
  RestErrorItemSchema.transform((e) => [e]),
]);

export const UserInfoSchema = z.object({
  user_id: z.string().optional(),
  organization_id: z.string().optional(),
  sub: z.string().optional(),
});

const UsageAppSchema = z.object({
  identifier: nonEmpty,
  developerName: nonEmpty,
  usageDetailsUrl: z.string().optional(),
});

export const UsagePageSchema = z.object({
  apps: z.array(UsageAppSchema),
  currentPageUrl: z.string().nullish(),
  nextPageUrl: z.string().nullish(),
});

export const ConsumerSchema = z.object({
  id: nonEmpty,
  key: z.string().optional(),
  name: z.string().nullish(),
  secret: z.string().optional(),
  stagedCredentialsUrl: z.string().nullish(),
  url: z.string().nullish(),
});

export const ConsumersPageSchema = z.object({
  consumers: z.array(ConsumerSchema),
  currentPageUrl: z.string().nullish(),
  nextPageUrl: z.string().nullish(),
});

const StagedSchema = z.object({
  id: nonEmpty,
  key: z.string().optional(),
  secret: z.string().optional(),
  state: nonEmpty,
  createdBy: z.string().nullish(),
  createdDate: z.string().nullish(),
  expirationDate: z.string().nullish(),
  url: z.string().nullish(),
});
export type StagedBody = z.infer<typeof StagedSchema>;

export const StagedCollectionSchema = z.object({
  stagedCredentials: z.array(StagedSchema),
  url: z.string().nullish(),
});

/** POST staged answers with the collection wrapper; a bare object is tolerated. */
export const StagedCreatedSchema = z.union([
  StagedCollectionSchema.transform((c) => c.stagedCredentials),
  StagedSchema.transform((s) => [s]),
]);
