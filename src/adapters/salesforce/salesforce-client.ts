// eca-rotator's Salesforce client (salesforce-api.md 1–3): the admin session (client_credentials or JWT bearer,
// token cached, one re-login and one retry on 401), the External Client App credentials API (usage listing,
// consumers, primary key/secret, staged credentials, rotate), pair verification with propagation polling, and
// the org's API usage from Sforce-Limit-Info. Every call has a timeout; reads, DELETE and token requests are
// retried (bounded, jittered); POST staged and PATCH rotate never are — an uncertain failure is flagged
// context.uncertain = true so the caller re-reads the staged state.
import type { Dispatcher } from "undici";
import type { z } from "zod";
import type { SalesforceConnectionConfig } from "../../config/config-types.ts";
import { type Clock, systemClock } from "../../core/clock.ts";
import { isRotatorError, RotatorError } from "../../core/errors.ts";
import { SecretValue } from "../../core/secret-value.ts";
import { backoffDelayMs } from "../http/backoff.ts";
import { buildTimeoutAgent } from "../http/timeout-agent.ts";
import { type ApiVersion, parseApiVersion, requireStagedSupport } from "./salesforce-api-version.ts";
import type {
  ConsumerCredentials,
  ConsumerPart,
  EcaApp,
  EcaConsumer,
  IssuedStagedCredential,
  PairCheck,
  PairDeathProof,
  StagedCredential,
  StagedState,
  VerifyPairOptions,
} from "./salesforce-eca-types.ts";
import {
  describeIssues,
  errorFromRestAnswer,
  type SalesforceCall,
  type TokenRefusal,
  unexpectedResponse,
} from "./salesforce-errors.ts";
import {
  type HttpAnswer,
  realSleep,
  SalesforceHttp,
  type SalesforceLog,
  type Sleep,
  silentLog,
} from "./salesforce-http.ts";
import { requireSalesforceId, sameSalesforceId } from "./salesforce-ids.ts";
import type { ApiUsage } from "./salesforce-limit-info.ts";
import {
  clientCredentialsForm,
  myDomainOrigin,
  requestToken,
  revokeToken,
  type SalesforceLogin,
  SalesforceSession,
  type TokenGrant,
} from "./salesforce-oauth.ts";
import {
  ConsumerSchema,
  ConsumersPageSchema,
  type StagedBody,
  StagedCollectionSchema,
  StagedCreatedSchema,
  UsagePageSchema,
  UserInfoSchema,
} from "./salesforce-schemas.ts";

export type { SalesforceLog, Sleep } from "./salesforce-http.ts";

export interface SalesforceClientOptions {
  readonly connection: Pick<
    SalesforceConnectionConfig,
    "myDomainUrl" | "apiVersion" | "auth" | "jwtUsername" | "jwtPrivateKeyFile"
  >;
  /** The admin app's consumer key (from Vault). */
  readonly clientId: string;
  /** The admin app's consumer secret: required for client_credentials, unused for jwt_bearer. */
  readonly clientSecret?: SecretValue | undefined;
  /** The JWT's aud claim. Default: the My Domain URL (https://login.salesforce.com works for production orgs). */
  readonly jwtAudience?: string | undefined;
  /** Injectable; otherwise an Agent with timeouts is built here and closed by close(). */
  readonly dispatcher?: Dispatcher;
  readonly clock?: Clock;
  /** Per call, overall and per phase. Default 20 s. */
  readonly timeoutMs?: number;
  /** Retries of idempotent calls after a transport failure or 5xx. Default 2. */
  readonly maxRetries?: number;
  /** Injectable pause (tests advance a FixedClock in it). */
  readonly sleep?: Sleep;
  /** Jitter source in [0, 1). */
  readonly random?: () => number;
  readonly log?: SalesforceLog;
}

export interface SalesforceUserInfo {
  readonly userId: string | undefined;
  readonly organizationId: string | undefined;
}

const DEFAULT_TIMEOUT_MS = 20_000;
const DEFAULT_MAX_RETRIES = 2;
const MAX_PAGES = 200;
const USERINFO_PATH = "/services/oauth2/userinfo";
const STAGED_STATES: readonly StagedState[] = ["active", "rotated", "expired"];

interface RestSpec {
  readonly step: string;
  readonly method: "GET" | "POST" | "PATCH" | "DELETE";
  /** Relative path, possibly with a query string. */
  readonly target: string;
  readonly idempotent: boolean;
  readonly body?: unknown;
  /** Non-2xx statuses returned to the caller instead of thrown (404 on DELETE). */
  readonly accept?: readonly number[];
}

export class SalesforceClient {
  readonly #http: SalesforceHttp;
  readonly #session: SalesforceSession;
  readonly #origin: string;
  readonly #version: ApiVersion;
  readonly #dispatcher: Dispatcher;
  readonly #ownsDispatcher: boolean;
  readonly #log: SalesforceLog;
  readonly #sleep: Sleep;
  readonly #random: () => number;

  constructor(opts: SalesforceClientOptions) {
    const { connection } = opts;
    this.#version = parseApiVersion(connection.apiVersion);
    this.#origin = myDomainOrigin(connection.myDomainUrl);
    const login = loginFrom(opts, this.#origin);
    const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#ownsDispatcher = opts.dispatcher === undefined;
    this.#dispatcher = opts.dispatcher ?? buildTimeoutAgent(timeoutMs);
    this.#log = opts.log ?? silentLog;
    this.#sleep = opts.sleep ?? realSleep;
    this.#random = opts.random ?? Math.random;
    this.#http = new SalesforceHttp({
      dispatcher: this.#dispatcher,
      clock: opts.clock ?? systemClock,
      timeoutMs,
      maxRetries: Math.max(0, opts.maxRetries ?? DEFAULT_MAX_RETRIES),
      sleep: this.#sleep,
      random: this.#random,
      log: this.#log,
    });
    this.#session = new SalesforceSession(this.#http, this.#origin, login);
  }

  /** The latest `Sforce-Limit-Info: api-usage=used/max`, for metrics and throttling; undefined before any. */
  get apiUsage(): ApiUsage | undefined {
    return this.#http.apiUsage;
  }

  /** "v65.0". */
  get apiVersion(): string {
    return this.#version.segment;
  }

  /** Logs in now (or reuses the cached token): a readiness check. */
  async login(): Promise<{ instanceUrl: string }> {
    const grant = await this.#session.current();
    return { instanceUrl: grant.instanceUrl };
  }

  /** GET /services/oauth2/userinfo with the admin session. */
  async userInfo(): Promise<SalesforceUserInfo> {
    const step = "userinfo";
    const answer = await this.#rest({ step, method: "GET", target: USERINFO_PATH, idempotent: true });
    const info = this.#parse(answer, callOf(step, "GET", USERINFO_PATH, true), UserInfoSchema);
    return { userId: info.user_id ?? info.sub, organizationId: info.organization_id };
  }

  // ---- External Client App credentials API -----------------------------------------------------------------

  /** Every ECA in the OAuth usage listing: follows nextPageUrl (present on every page) until an empty page. */
  async listApps(): Promise<EcaApp[]> {
    const items = await this.#pages(
      "list apps",
      `${this.#base()}/apps/oauth/usage`,
      UsagePageSchema,
      (page) => ({
        items: page.apps.map((a) => ({ key: a.identifier, value: a })),
        next: page.nextPageUrl ?? undefined,
      }),
    );
    return items.map((a) => ({ appId: a.identifier, developerName: a.developerName }));
  }

  /** The app id for a developer name (exact match first, then a unique case-insensitive one). */
  async resolveAppId(developerName: string): Promise<string> {
    const apps = await this.listApps();
    const exact = apps.find((a) => a.developerName === developerName);
    if (exact) return exact.appId;
    const folded = apps.filter((a) => a.developerName.toLowerCase() === developerName.toLowerCase());
    if (folded.length === 1 && folded[0]) return folded[0].appId;
    const name = developerName.slice(0, 80);
    throw new RotatorError(
      "SALESFORCE_NOT_FOUND",
      `resolve app: no External Client App named "${name}" in the OAuth usage listing ` +
        `(${apps.length} apps listed; an app with no OAuth usage may be missing: configure its id instead)`,
      { retryable: false, context: { step: "resolve app", developerName: name, appsListed: apps.length } },
    );
  }

  /** An app's consumers (GET credentials/{appId}); follows nextPageUrl when present. */
  async listConsumers(appId: string): Promise<EcaConsumer[]> {
    const path = `${this.#base()}/apps/oauth/credentials/${requireSalesforceId(appId, "app id")}`;
    const items = await this.#pages("list consumers", path, ConsumersPageSchema, (page) => ({
      items: page.consumers.map((c) => ({ key: c.id, value: c })),
      next: page.nextPageUrl ?? undefined,
    }));
    return items.map((c) => ({
      id: c.id,
      key: c.key,
      name: c.name ?? undefined,
      stagedCredentialsUrl: c.stagedCredentialsUrl ?? undefined,
      url: c.url ?? undefined,
    }));
  }

  /**
   * The primary (main) set of a consumer (GET …/{consumerId}?part=). A requested secret that does not come back
   * is SALESFORCE_NOT_ENABLED (REST access to consumer secrets is off or masked).
   */
  async readConsumer(appId: string, consumerId: string, part: ConsumerPart): Promise<ConsumerCredentials> {
    const step = "read consumer";
    const path = this.#consumerPath(appId, consumerId);
    const answer = await this.#rest({
      step,
      method: "GET",
      target: `${path}?part=${part}`,
      idempotent: true,
    });
    const call = callOf(step, "GET", path, true);
    const c = this.#parse(answer, call, ConsumerSchema);
    if (!sameSalesforceId(c.id, consumerId)) {
      throw unexpectedResponse(call, answer.status, "the answer is about another consumer");
    }
    if (part !== "secret" && !c.key) {
      throw unexpectedResponse(call, answer.status, "the answer holds no consumer key");
    }
    if (part !== "key" && c.secret === undefined) {
      throw new RotatorError(
        "SALESFORCE_NOT_ENABLED",
        `${step}: GET ${path} → HTTP ${answer.status}: the answer holds no consumer secret; turn on ` +
          "'Allow access to External Client App consumer secrets via REST API' (and check secret masking)",
        { retryable: false, context: { step, method: "GET", path, status: answer.status } },
      );
    }
    return {
      id: c.id,
      key: c.key,
      secret: c.secret === undefined ? undefined : SecretValue.of(c.secret),
      name: c.name ?? undefined,
    };
  }

  /** The consumer's staged sets (0 or 1 in practice). */
  async listStaged(appId: string, consumerId: string): Promise<StagedCredential[]> {
    const step = "list staged";
    requireStagedSupport(this.#version, step);
    const path = `${this.#consumerPath(appId, consumerId)}/staged`;
    const call = callOf(step, "GET", path, true);
    const answer = await this.#rest({ step, method: "GET", target: path, idempotent: true });
    const body = this.#parse(answer, call, StagedCollectionSchema);
    return body.stagedCredentials.map((s) => toStaged(s, call, answer.status, false));
  }

  async getStaged(appId: string, consumerId: string, stagedId: string): Promise<StagedCredential> {
    const step = "get staged";
    requireStagedSupport(this.#version, step);
    const path = this.#stagedPath(appId, consumerId, stagedId);
    const call = callOf(step, "GET", path, true);
    const answer = await this.#rest({ step, method: "GET", target: path, idempotent: true });
    const items = this.#parse(answer, call, StagedCreatedSchema);
    const item = items.find((s) => sameSalesforceId(s.id, stagedId));
    if (!item) throw unexpectedResponse(call, answer.status, "the answer is about another staged set");
    return toStaged(item, call, answer.status, false);
  }

  /**
   * POST staged with body `{}` (a body-less POST is known to hang). Never retried: after an uncertain failure
   * (context.uncertain) list the staged sets before anything else. A set that already exists (active) is
   * SALESFORCE_STAGED_CONFLICT.
   */
  async createStaged(appId: string, consumerId: string): Promise<IssuedStagedCredential> {
    const step = "create staged";
    requireStagedSupport(this.#version, step);
    const path = `${this.#consumerPath(appId, consumerId)}/staged`;
    const call = callOf(step, "POST", path, false);
    const answer = await this.#rest({ step, method: "POST", target: path, idempotent: false, body: {} });
    const items = this.#parse(answer, call, StagedCreatedSchema);
    if (items.length !== 1 || !items[0]) {
      throw unexpectedResponse(call, answer.status, `expected one staged set, got ${items.length}`, {
        uncertain: true,
      });
    }
    const staged = toStaged(items[0], call, answer.status, true);
    if (staged.state !== "active") {
      throw unexpectedResponse(call, answer.status, `the new staged set is ${staged.state}, not active`, {
        uncertain: true,
      });
    }
    return requirePair(staged, call, answer.status);
  }

  /** DELETE a staged set. Idempotent: 404 means it is already gone ({deleted: false}). */
  async deleteStaged(appId: string, consumerId: string, stagedId: string): Promise<{ deleted: boolean }> {
    const step = "delete staged";
    requireStagedSupport(this.#version, step);
    const path = this.#stagedPath(appId, consumerId, stagedId);
    const answer = await this.#rest({
      step,
      method: "DELETE",
      target: path,
      idempotent: true,
      accept: [404],
    });
    return { deleted: answer.status !== 404 };
  }

  /**
   * PATCH {"command":"rotate"}: the staged set becomes the primary one; the record answers in state `rotated`.
   * Never retried: after an uncertain failure re-read the primary key and the staged sets.
   */
  async rotateStaged(appId: string, consumerId: string, stagedId: string): Promise<StagedCredential> {
    const step = "rotate staged";
    requireStagedSupport(this.#version, step);
    const path = this.#stagedPath(appId, consumerId, stagedId);
    const call = callOf(step, "PATCH", path, false);
    const answer = await this.#rest({
      step,
      method: "PATCH",
      target: path,
      idempotent: false,
      body: { command: "rotate" },
    });
    const items = this.#parse(answer, call, StagedCreatedSchema);
    if (items.length !== 1 || !items[0]) {
      throw unexpectedResponse(call, answer.status, `expected one staged set, got ${items.length}`, {
        uncertain: true,
      });
    }
    const staged = toStaged(items[0], call, answer.status, true);
    if (staged.state !== "rotated") {
      throw unexpectedResponse(call, answer.status, `after rotate the staged set is ${staged.state}`, {
        uncertain: true,
      });
    }
    return staged;
  }

  // ---- pairs -----------------------------------------------------------------------------------------------

  /**
   * Can this pair log in and make a call? A token request with the pair, then userinfo. While Salesforce answers
   * invalid_client_id / invalid_client (a new pair still propagating) or is unavailable, polls with exponential
   * backoff and jitter until the deadline (the last attempt may end up to one call timeout after it). Other
   * failures end at once. Never throws a RotatorError.
   */
  async verifyPair(clientId: string, clientSecret: SecretValue, opts: VerifyPairOptions): Promise<PairCheck> {
    const step = "verify pair";
    const clock = this.#http.clock;
    const start = clock.now().getTime();
    const deadline = start + opts.timeoutMs;
    const initial = opts.initialDelayMs ?? 1_000;
    const cap = opts.maxDelayMs ?? 30_000;
    const form = clientCredentialsForm(clientId, clientSecret);
    for (let attempts = 1; ; attempts++) {
      let failure: RotatorError;
      try {
        // Each attempt gets the full call timeout: the deadline decides whether another attempt starts, so the
        // last one (at the deadline) is not cut short into a meaningless timeout.
        const grant = await requestToken(this.#http, this.#origin, form, {
          step,
          maxRetries: 0,
          signal: opts.signal,
        });
        await this.#userInfoWith(grant, step, opts.signal);
        const elapsedMs = clock.now().getTime() - start;
        await this.#endTestSession(grant, step);
        return { ok: true, elapsedMs, attempts };
      } catch (err) {
        if (!isRotatorError(err)) throw err;
        failure = err;
      }
      const reason = refusalOf(failure);
      const now = clock.now().getTime();
      const fail = (): PairCheck => ({
        ok: false,
        code: failure.code,
        reason,
        error: failure,
        elapsedMs: clock.now().getTime() - start,
        attempts,
      });
      const pollable =
        (failure.code === "SALESFORCE_AUTH_FAILED" &&
          (reason === "invalid_client_id" || reason === "invalid_client")) ||
        (failure.code === "SALESFORCE_UNAVAILABLE" && failure.retryable);
      if (!pollable || now >= deadline || opts.signal?.aborted) return fail();
      const delayMs = Math.min(
        deadline - now,
        backoffDelayMs(attempts - 1, { baseMs: initial, capMs: cap, random: this.#random }),
      );
      this.#log.debug(
        { step, attempt: attempts, code: failure.code, reason, delayMs },
        "pair not accepted yet",
      );
      try {
        await this.#sleep(delayMs, opts.signal);
      } catch {
        return fail();
      }
    }
  }

  /**
   * One token request that must be refused with invalid_client_id / invalid_client (the retire step). A token
   * that is issued means the pair still works ({dead: false}); any other failure is thrown (inconclusive).
   */
  async provePairDead(
    clientId: string,
    clientSecret: SecretValue,
    opts: { timeoutMs?: number; signal?: AbortSignal } = {},
  ): Promise<PairDeathProof> {
    const step = "prove pair dead";
    try {
      const grant = await requestToken(
        this.#http,
        this.#origin,
        clientCredentialsForm(clientId, clientSecret),
        {
          step,
          ...(opts.timeoutMs === undefined ? {} : { timeoutMs: opts.timeoutMs }),
          signal: opts.signal,
        },
      );
      await this.#endTestSession(grant, step);
      return { dead: false };
    } catch (err) {
      const reason = isRotatorError(err, "SALESFORCE_AUTH_FAILED") ? refusalOf(err) : undefined;
      if (reason === "invalid_client_id" || reason === "invalid_client") return { dead: true, reason };
      throw err;
    }
  }

  /** Closes the dispatcher this client built (an injected one stays open). */
  async close(): Promise<void> {
    if (this.#ownsDispatcher) await this.#dispatcher.close();
  }

  // ---- internals ---------------------------------------------------------------------------------------------

  #base(): string {
    return `/services/data/${this.#version.segment}`;
  }

  #consumerPath(appId: string, consumerId: string): string {
    const app = requireSalesforceId(appId, "app id");
    const consumer = requireSalesforceId(consumerId, "consumer id");
    return `${this.#base()}/apps/oauth/credentials/${app}/${consumer}`;
  }

  #stagedPath(appId: string, consumerId: string, stagedId: string): string {
    return `${this.#consumerPath(appId, consumerId)}/staged/${requireSalesforceId(stagedId, "staged id")}`;
  }

  /** An authenticated REST call on the admin session; a 401 gets one fresh login and one retry. */
  async #rest(spec: RestSpec): Promise<HttpAnswer> {
    const call = callOf(spec.step, spec.method, spec.target.split("?")[0] ?? spec.target, spec.idempotent);
    let grant = await this.#session.current();
    let answer = await this.#send(grant, spec, call);
    if (answer.status === 401) {
      this.#log.warn(
        { step: spec.step, method: spec.method, path: call.path },
        "salesforce session refused; logging in again",
      );
      grant = await this.#session.refresh(grant);
      answer = await this.#send(grant, spec, call);
    }
    if ((answer.status >= 200 && answer.status < 300) || spec.accept?.includes(answer.status)) return answer;
    throw errorFromRestAnswer(
      call,
      answer.status,
      answer.body.kind === "json" ? answer.body.value : undefined,
    );
  }

  #send(grant: TokenGrant, spec: RestSpec, call: SalesforceCall): Promise<HttpAnswer> {
    const headers: Record<string, string> = { authorization: `Bearer ${grant.accessToken.reveal()}` };
    if (spec.body !== undefined) headers["content-type"] = "application/json";
    return this.#http.send({
      call,
      url: `${grant.instanceUrl}${spec.target}`,
      headers,
      ...(spec.body === undefined ? {} : { body: JSON.stringify(spec.body) }),
    });
  }

  async #userInfoWith(grant: TokenGrant, step: string, signal: AbortSignal | undefined): Promise<void> {
    const call = callOf(step, "GET", USERINFO_PATH, true);
    const answer = await this.#http.send({
      call,
      url: `${grant.instanceUrl}${USERINFO_PATH}`,
      headers: { authorization: `Bearer ${grant.accessToken.reveal()}` },
      maxRetries: 0,
      signal,
    });
    if (answer.status < 200 || answer.status >= 300) {
      throw errorFromRestAnswer(
        call,
        answer.status,
        answer.body.kind === "json" ? answer.body.value : undefined,
      );
    }
    this.#parse(answer, call, UserInfoSchema);
  }

  async #endTestSession(grant: TokenGrant, step: string): Promise<void> {
    if (!(await revokeToken(this.#http, grant, step))) {
      this.#log.debug({ step }, "salesforce test session not revoked; it will expire on its own");
    }
  }

  #parse<S extends z.ZodType>(answer: HttpAnswer, call: SalesforceCall, schema: S): z.output<S> {
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
        { uncertain },
      );
    }
    return parsed.data;
  }

  /**
   * Follows nextPageUrl until an empty page, a page without one, a URL already visited or a page that brings no
   * new item (a server ignoring the page parameter); more than MAX_PAGES pages is an error.
   */
  async #pages<S extends z.ZodType, T>(
    step: string,
    first: string,
    schema: S,
    read: (page: z.output<S>) => { items: { key: string; value: T }[]; next: string | undefined },
  ): Promise<T[]> {
    const out: T[] = [];
    const seenKeys = new Set<string>();
    const seenUrls = new Set<string>();
    let target = first;
    for (let n = 0; ; n++) {
      const call = callOf(step, "GET", target.split("?")[0] ?? target, true);
      if (n >= MAX_PAGES) {
        throw unexpectedResponse(call, 200, `more than ${MAX_PAGES} pages; the listing never ended`);
      }
      seenUrls.add(target);
      const answer = await this.#rest({ step, method: "GET", target, idempotent: true });
      const { items, next } = read(this.#parse(answer, call, schema));
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
        this.#log.warn({ step, pages: n + 1 }, "salesforce paging repeats itself; stopping");
        return out;
      }
      target = rel;
    }
  }
}

function callOf(step: string, method: string, path: string, idempotent: boolean): SalesforceCall {
  return { step, method, path, idempotent };
}

/** Returned URLs are opaque, but must stay on the instance: a relative path, never a scheme or "//host". */
function relativePath(url: string): string | undefined {
  return /^\/(?!\/)[^\s\\]*$/.test(url) ? url : undefined;
}

function refusalOf(err: RotatorError): TokenRefusal | undefined {
  const r = err.context["reason"];
  return typeof r === "string" ? (r as TokenRefusal) : undefined;
}

function toStaged(s: StagedBody, call: SalesforceCall, status: number, uncertain: boolean): StagedCredential {
  const state = s.state.toLowerCase() as StagedState;
  if (!STAGED_STATES.includes(state)) {
    throw unexpectedResponse(call, status, "a staged set has an unknown state", { uncertain });
  }
  return {
    id: s.id,
    state,
    key: s.key,
    secret: s.secret === undefined ? undefined : SecretValue.of(s.secret),
    createdBy: s.createdBy ?? undefined,
    createdDate: s.createdDate ?? undefined,
    expirationDate: s.expirationDate ?? undefined,
    url: s.url ?? undefined,
  };
}

function requirePair(s: StagedCredential, call: SalesforceCall, status: number): IssuedStagedCredential {
  if (!s.key || !s.secret) {
    throw unexpectedResponse(call, status, "the new staged set comes without key and secret", {
      uncertain: true,
    });
  }
  return { ...s, key: s.key, secret: s.secret };
}

function loginFrom(opts: SalesforceClientOptions, origin: string): SalesforceLogin {
  const { connection } = opts;
  if (connection.auth === "client_credentials") {
    if (!opts.clientSecret) {
      throw new RotatorError(
        "CONFIG_INVALID",
        "salesforce client_credentials login needs the client secret",
        {
          context: { field: "client_secret" },
        },
      );
    }
    return { grant: "client_credentials", clientId: opts.clientId, clientSecret: opts.clientSecret };
  }
  if (!connection.jwtUsername || !connection.jwtPrivateKeyFile) {
    throw new RotatorError(
      "CONFIG_INVALID",
      "salesforce jwt_bearer login needs jwt_username and jwt_private_key_file",
      { context: { field: "jwt_username" } },
    );
  }
  return {
    grant: "jwt_bearer",
    clientId: opts.clientId,
    username: connection.jwtUsername,
    privateKeyFile: connection.jwtPrivateKeyFile,
    audience: opts.jwtAudience ?? origin,
  };
}
