// eca-rotator's Salesforce client: the admin session (client_credentials or JWT bearer,
// token cached, one re-login and one retry on 401), the External Client App credentials API (usage listing,
// consumers, primary key/secret, staged credentials, rotate), pair checks, and the org's API usage from
// Sforce-Limit-Info. Every call has a timeout; reads, DELETE and token requests are retried (bounded, jittered);
// POST staged and PATCH rotate never are — an uncertain failure is flagged context.uncertain = true (and
// retryable = false) so the caller re-reads the state.
import type { SalesforceConnectionConfig } from "../../config/config-types.ts";
import { RotatorError } from "../../core/errors.ts";
import { SecretValue } from "../../core/secret-value.ts";
import { type Clock, systemClock } from "../../core/time.ts";
import { createHttpTransport, type HttpTransport } from "../http/http-client.ts";
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
  type ApiUsage,
  ConsumerSchema,
  ConsumersPageSchema,
  callOf,
  followPages,
  type HttpAnswer,
  parseAnswer,
  realSleep,
  requireOk,
  type SalesforceCall,
  SalesforceHttp,
  type SalesforceLog,
  type Sleep,
  type StagedBody,
  StagedCollectionSchema,
  StagedCreatedSchema,
  silentLog,
  UsagePageSchema,
  UserInfoSchema,
  unexpectedResponse,
} from "./salesforce-http.ts";
import {
  loginFromConfig,
  myDomainOrigin,
  type PairCheckDeps,
  provePairDead,
  SalesforceSession,
  type TokenGrant,
  USERINFO_PATH,
  verifyPair,
} from "./salesforce-oauth.ts";

export type { SalesforceLog } from "./salesforce-http.ts";

export interface SalesforceClientOptions {
  readonly connection: Pick<
    SalesforceConnectionConfig,
    "myDomainUrl" | "apiVersion" | "auth" | "jwtUsername" | "jwtPrivateKeyFile"
  > &
    Partial<Pick<SalesforceConnectionConfig, "name">>;
  /** The admin app's consumer key (from Vault). */
  readonly clientId: string;
  /** The admin app's consumer secret: required for client_credentials, unused for jwt_bearer. */
  readonly clientSecret?: SecretValue | undefined;
  /** The JWT's aud claim. Default: the My Domain URL (https://login.salesforce.com works for production orgs). */
  readonly jwtAudience?: string | undefined;
  /** Injectable; otherwise a transport with timeouts is built here and closed by close(). */
  readonly transport?: HttpTransport;
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

interface RestSpec {
  readonly step: string;
  readonly method: "GET" | "POST" | "PATCH" | "DELETE";
  /** Relative path, possibly with a query string (only the path appears in messages). */
  readonly target: string;
  readonly idempotent: boolean;
  readonly body?: unknown;
  /** Non-2xx statuses returned to the caller instead of thrown (404 on DELETE). */
  readonly accept?: readonly number[];
}

export class SalesforceClient {
  readonly #http: SalesforceHttp;
  readonly #session: SalesforceSession;
  readonly #pairs: PairCheckDeps;
  readonly #version: ApiVersion;
  readonly #transport: HttpTransport;
  readonly #ownsTransport: boolean;
  readonly #log: SalesforceLog;

  /** Validates the configuration (CONFIG_INVALID); no network call until the first request. */
  constructor(opts: SalesforceClientOptions) {
    const { connection } = opts;
    this.#version = parseApiVersion(connection.apiVersion);
    const origin = myDomainOrigin(connection.myDomainUrl);
    const login = loginFromConfig(connection, {
      clientId: opts.clientId,
      clientSecret: opts.clientSecret,
      jwtAudience: opts.jwtAudience ?? origin,
    });
    const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#ownsTransport = opts.transport === undefined;
    this.#transport = opts.transport ?? createHttpTransport(timeoutMs);
    this.#log = opts.log ?? silentLog;
    const sleep = opts.sleep ?? realSleep;
    const random = opts.random ?? Math.random;
    this.#http = new SalesforceHttp({
      transport: this.#transport,
      clock: opts.clock ?? systemClock,
      timeoutMs,
      maxRetries: Math.max(0, opts.maxRetries ?? DEFAULT_MAX_RETRIES),
      sleep,
      random,
      log: this.#log,
    });
    this.#session = new SalesforceSession(this.#http, origin, login, connection.name);
    this.#pairs = { http: this.#http, origin, connection: connection.name, log: this.#log, sleep, random };
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
    const info = parseAnswer(answer, callOf(step, "GET", USERINFO_PATH, true), UserInfoSchema);
    return { userId: info.user_id ?? info.sub, organizationId: info.organization_id };
  }

  // ---- External Client App credentials API -----------------------------------------------------------------

  /** Every ECA in the OAuth usage listing (app ids as listed: 15 characters). */
  async listApps(): Promise<EcaApp[]> {
    const step = "list apps";
    const apps = await followPages({
      step,
      first: `${this.#base()}/apps/oauth/usage`,
      schema: UsagePageSchema,
      fetch: (target) => this.#rest({ step, method: "GET", target, idempotent: true }),
      read: (page) => ({
        items: page.apps.map((a) => ({ key: a.identifier, value: a })),
        next: page.nextPageUrl ?? undefined,
      }),
      log: this.#log,
    });
    return apps.map((a) => ({ appId: a.identifier, developerName: a.developerName }));
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
    const step = "list consumers";
    const consumers = await followPages({
      step,
      first: `${this.#base()}/apps/oauth/credentials/${requireSalesforceId(appId, "app id")}`,
      schema: ConsumersPageSchema,
      fetch: (target) => this.#rest({ step, method: "GET", target, idempotent: true }),
      read: (page) => ({
        items: page.consumers.map((c) => ({ key: c.id, value: c })),
        next: page.nextPageUrl ?? undefined,
      }),
      log: this.#log,
    });
    return consumers.map((c) => ({
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
    const call = callOf(step, "GET", path, true);
    const answer = await this.#rest({
      step,
      method: "GET",
      target: `${path}?part=${part}`,
      idempotent: true,
    });
    const c = parseAnswer(answer, call, ConsumerSchema);
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
    const body = parseAnswer(answer, call, StagedCollectionSchema);
    return body.stagedCredentials.map((s) => toStaged(s, call, answer.status, false));
  }

  /** One staged set; SALESFORCE_NOT_FOUND when it is gone. */
  async getStaged(appId: string, consumerId: string, stagedId: string): Promise<StagedCredential> {
    const step = "get staged";
    requireStagedSupport(this.#version, step);
    const path = this.#stagedPath(appId, consumerId, stagedId);
    const call = callOf(step, "GET", path, true);
    const answer = await this.#rest({ step, method: "GET", target: path, idempotent: true });
    const item = parseAnswer(answer, call, StagedCreatedSchema).find((s) => sameSalesforceId(s.id, stagedId));
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
    const items = parseAnswer(answer, call, StagedCreatedSchema);
    return requirePair(onlyStaged(items, call, answer.status, "active"), call, answer.status);
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
    const body = { command: "rotate" };
    const answer = await this.#rest({ step, method: "PATCH", target: path, idempotent: false, body });
    return onlyStaged(parseAnswer(answer, call, StagedCreatedSchema), call, answer.status, "rotated");
  }

  // ---- pairs -----------------------------------------------------------------------------------------------

  /**
   * Can this pair log in and make a call? A token request with the pair, then userinfo. While Salesforce answers
   * invalid_client_id / invalid_client (a new pair still propagating) or is unavailable, polls with exponential
   * backoff and jitter until the deadline (the last attempt may end up to one call timeout after it). Other
   * failures end at once. Never throws a RotatorError.
   */
  verifyPair(clientId: string, clientSecret: SecretValue, opts: VerifyPairOptions): Promise<PairCheck> {
    return verifyPair(this.#pairs, clientId, clientSecret, opts);
  }

  /**
   * One token request that must be refused with invalid_client_id (the retire step): the key is unknown. A token
   * that is issued, or invalid_client (the key is known, only the secret is wrong), is {dead: false}; any
   * other failure is thrown (inconclusive).
   */
  provePairDead(
    clientId: string,
    clientSecret: SecretValue,
    opts: { timeoutMs?: number; signal?: AbortSignal } = {},
  ): Promise<PairDeathProof> {
    return provePairDead(this.#pairs, clientId, clientSecret, opts);
  }

  /** Closes the transport this client built (an injected one stays open). */
  async close(): Promise<void> {
    if (this.#ownsTransport) await this.#transport.close();
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
    return requireOk(answer, call, spec.accept);
  }

  #send(grant: TokenGrant, spec: RestSpec, call: ReturnType<typeof callOf>): Promise<HttpAnswer> {
    const headers: Record<string, string> = { authorization: `Bearer ${grant.accessToken.reveal()}` };
    if (spec.body !== undefined) headers["content-type"] = "application/json";
    return this.#http.send({
      call,
      url: `${grant.instanceUrl}${spec.target}`,
      headers,
      ...(spec.body === undefined ? {} : { body: JSON.stringify(spec.body) }),
    });
  }
}

// Staged-credential bodies → StagedCredential: states compared case-insensitively
// (the docs capitalise them, the wire does not), an unknown state refused, secrets wrapped in SecretValue.
const STAGED_STATES: readonly StagedState[] = ["active", "rotated", "expired"];

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

/** Exactly one staged set in a POST / PATCH answer; anything else leaves the outcome unknown. */
function onlyStaged(
  items: readonly StagedBody[],
  call: SalesforceCall,
  status: number,
  expected: StagedState,
): StagedCredential {
  const first = items[0];
  if (items.length !== 1 || !first) {
    throw unexpectedResponse(call, status, `expected one staged set, got ${items.length}`, {
      uncertain: true,
    });
  }
  const staged = toStaged(first, call, status, true);
  if (staged.state !== expected) {
    throw unexpectedResponse(call, status, `the staged set is ${staged.state}, expected ${expected}`, {
      uncertain: true,
    });
  }
  return staged;
}

function requirePair(s: StagedCredential, call: SalesforceCall, status: number): IssuedStagedCredential {
  if (!s.key || !s.secret) {
    throw unexpectedResponse(call, status, "the new staged set comes without key and secret", {
      uncertain: true,
    });
  }
  return { ...s, key: s.key, secret: s.secret };
}

// The configured REST API version ("v65.0", also accepted as "65.0" or "65"). The staged-credentials resources
// exist from v65.0; older versions are refused before any call is made.
export const STAGED_MIN_API_VERSION = 65;

export interface ApiVersion {
  readonly major: number;
  /** The path segment: "v65.0". */
  readonly segment: string;
}

export function parseApiVersion(value: string): ApiVersion {
  const m = /^v?(\d{2,3})(?:\.0)?$/.exec(value.trim());
  if (!m?.[1]) {
    throw new RotatorError("CONFIG_INVALID", 'salesforce api_version must look like "v65.0"', {
      context: { field: "api_version" },
    });
  }
  const major = Number(m[1]);
  return { major, segment: `v${major}.0` };
}

/**
 * Staged calls on an older version would reach a resource that does not exist there. SALESFORCE_NOT_ENABLED:
 * like a missing org setting, it is a setup problem that no retry fixes.
 */
export function requireStagedSupport(version: ApiVersion, step: string): void {
  if (version.major >= STAGED_MIN_API_VERSION) return;
  throw new RotatorError(
    "SALESFORCE_NOT_ENABLED",
    `${step}: staged credentials need Salesforce api_version v${STAGED_MIN_API_VERSION}.0 or later ` +
      `(configured ${version.segment}); raise api_version for this connection`,
    {
      retryable: false,
      context: { step, apiVersion: version.segment, requiredApiVersion: `v${STAGED_MIN_API_VERSION}.0` },
    },
  );
}

// Salesforce record ids come in a case-sensitive 15-character form and an 18-character form that appends a
// case-insensitive checksum. The usage listing returns 15-character app ids while URLs
// embed 18-character ones, so ids are compared by their first 15 characters, case-sensitively.
const ID_PATTERN = /^[a-zA-Z0-9]{15}(?:[a-zA-Z0-9]{3})?$/;
const CHECKSUM_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";

export function isSalesforceId(value: string): boolean {
  return ID_PATTERN.test(value);
}

/** The 18-character form: each 5-character chunk's upper-case letters form a bit mask → one checksum letter. */
export function to18(id: string): string {
  if (!isSalesforceId(id)) throw notAnId("id");
  if (id.length === 18) return id;
  let suffix = "";
  for (let chunk = 0; chunk < 3; chunk++) {
    let bits = 0;
    for (let i = 0; i < 5; i++) {
      const c = id.charAt(chunk * 5 + i);
      if (c >= "A" && c <= "Z") bits |= 1 << i;
    }
    suffix += CHECKSUM_ALPHABET.charAt(bits);
  }
  return id + suffix;
}

export function to15(id: string): string {
  if (!isSalesforceId(id)) throw notAnId("id");
  return id.slice(0, 15);
}

/** Same record? 15- and 18-character forms of one id match; anything that is not an id matches nothing. */
export function sameSalesforceId(a: string, b: string): boolean {
  return isSalesforceId(a) && isSalesforceId(b) && a.slice(0, 15) === b.slice(0, 15);
}

/** Guards an id before it goes into a URL path (no "../", no query tricks). The value itself is not echoed. */
export function requireSalesforceId(value: string, what: string): string {
  if (!isSalesforceId(value)) throw notAnId(what);
  return value;
}

function notAnId(what: string): RotatorError {
  return new RotatorError("USAGE", `${what} is not a Salesforce id (15 or 18 letters and digits)`, {
    context: { what },
  });
}
