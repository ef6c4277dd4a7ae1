// OAuth 2.0 token requests against the org's My Domain: client_credentials and the
// JWT bearer grant, form-encoded. API calls go to the instance_url of the token answer, which must be on the
// configured My Domain origin: the answer chooses where the token is sent next, so an answer naming another host
// (a tampered answer, a misconfigured proxy) would hand that host the admin token. SalesforceSession caches
// the admin app's token (no expires_in is given: it is kept until Salesforce refuses it) and gets a new one,
// once for all concurrent callers, when a call meets 401 INVALID_SESSION_ID.
import type { KeyObject } from "node:crypto";
import type { SalesforceConnectionConfig } from "../../config/config-types.ts";
import { isRotatorError, RotatorError } from "../../core/errors.ts";
import { SecretValue } from "../../core/secret-value.ts";
import type { Clock } from "../../core/time.ts";
import { backoffDelayMs } from "../http/http-client.ts";
import type { PairCheck, PairDeathProof, VerifyPairOptions } from "./salesforce-eca-types.ts";
import {
  bodyValue,
  describeIssues,
  errorFromTokenAnswer,
  type SalesforceCall,
  type SalesforceHttp,
  type SalesforceLog,
  type Sleep,
  type TokenRefusal,
  TokenResponseSchema,
  unexpectedResponse,
} from "./salesforce-http.ts";
import { loadPrivateKey, signJwtAssertion } from "./salesforce-jwt.ts";

const TOKEN_PATH = "/services/oauth2/token";
const JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer";

export interface TokenGrant {
  readonly accessToken: SecretValue;
  /** Base URL for API calls, from the answer: no trailing slash. */
  readonly instanceUrl: string;
}

/** How the client itself logs in (its admin app). */
export type SalesforceLogin =
  | { readonly grant: "client_credentials"; readonly clientId: string; readonly clientSecret: SecretValue }
  | {
      readonly grant: "jwt_bearer";
      readonly clientId: string;
      readonly username: string;
      readonly privateKeyFile: string;
      /** The JWT's aud claim: the login host or the My Domain URL. */
      readonly audience: string;
    };

interface TokenRequestOptions {
  readonly step: string;
  /** The configured connection's name, for the refusal of an instance_url on another host. */
  readonly connection?: string | undefined;
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal | undefined;
  readonly maxRetries?: number;
}

/** The My Domain URL as an origin ("https://acme.my.salesforce.com"); CONFIG_INVALID when it is not one. */
export function myDomainOrigin(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url.includes("://") ? url : `https://${url}`);
  } catch {
    throw new RotatorError("CONFIG_INVALID", "salesforce my_domain_url is not a URL", {
      context: { field: "my_domain_url" },
    });
  }
  if (parsed.protocol !== "https:" && parsed.protocol !== "http:") {
    throw new RotatorError("CONFIG_INVALID", "salesforce my_domain_url must be an https URL", {
      context: { field: "my_domain_url" },
    });
  }
  return parsed.origin;
}

function clientCredentialsForm(clientId: string, clientSecret: SecretValue): SecretValue {
  const form = new URLSearchParams({
    grant_type: "client_credentials",
    client_id: clientId,
    client_secret: clientSecret.reveal(),
  });
  return SecretValue.of(form.toString());
}

function jwtBearerForm(assertion: SecretValue): SecretValue {
  return SecretValue.of(
    new URLSearchParams({ grant_type: JWT_BEARER_GRANT, assertion: assertion.reveal() }).toString(),
  );
}

/** POST a token form; the answer's instance_url must be an http(s) URL on `origin` (the My Domain origin). */
async function requestToken(
  http: SalesforceHttp,
  origin: string,
  form: SecretValue,
  opts: TokenRequestOptions,
): Promise<TokenGrant> {
  const call: SalesforceCall = { step: opts.step, method: "POST", path: TOKEN_PATH, idempotent: true };
  const answer = await http.send({
    call,
    url: `${origin}${TOKEN_PATH}`,
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: form.reveal(),
    ...(opts.timeoutMs === undefined ? {} : { timeoutMs: opts.timeoutMs }),
    ...(opts.maxRetries === undefined ? {} : { maxRetries: opts.maxRetries }),
    signal: opts.signal,
  });
  if (answer.status < 200 || answer.status >= 300) {
    throw errorFromTokenAnswer(call, answer.status, bodyValue(answer.body));
  }
  if (answer.body.kind !== "json") {
    throw unexpectedResponse(
      call,
      answer.status,
      "the token answer is not JSON (HTML page or truncated body)",
    );
  }
  const parsed = TokenResponseSchema.safeParse(answer.body.value);
  if (!parsed.success) {
    throw unexpectedResponse(
      call,
      answer.status,
      `unexpected token answer (${describeIssues(parsed.error)})`,
    );
  }
  const t = parsed.data;
  if (t.token_type !== undefined && t.token_type.toLowerCase() !== "bearer") {
    throw unexpectedResponse(call, answer.status, "the token answer is not a Bearer token");
  }
  const instanceUrl = instanceOrigin(t.instance_url);
  if (!instanceUrl) {
    throw unexpectedResponse(call, answer.status, "the token answer's instance_url is not an http(s) URL");
  }
  // Real Salesforce answers a My Domain login with the My Domain URL itself; nothing is sent anywhere else.
  if (new URL(instanceUrl).origin !== origin) {
    const key =
      opts.connection === undefined
        ? "the connection's my_domain_url"
        : `salesforce.connections.${opts.connection}.my_domain_url`;
    throw unexpectedResponse(
      call,
      answer.status,
      `the token answer's instance_url is not the configured my_domain_url (${new URL(origin).host}); ` +
        `if the org moved, update ${key}`,
    );
  }
  return { accessToken: SecretValue.of(t.access_token), instanceUrl };
}

function instanceOrigin(raw: string): string | undefined {
  try {
    const u = new URL(raw);
    if (u.protocol !== "https:" && u.protocol !== "http:") return undefined;
    return `${u.origin}${u.pathname.replace(/\/+$/, "")}`;
  } catch {
    return undefined;
  }
}

/** The admin session: one cached token, refreshed once per refusal, shared by concurrent callers. */
export class SalesforceSession {
  readonly #http: SalesforceHttp;
  readonly #origin: string;
  readonly #login: SalesforceLogin;
  readonly #connection: string | undefined;
  #grant: TokenGrant | undefined;
  #pending: Promise<TokenGrant> | undefined;
  #key: KeyObject | undefined;

  constructor(http: SalesforceHttp, origin: string, login: SalesforceLogin, connection?: string) {
    this.#http = http;
    this.#origin = origin;
    this.#login = login;
    this.#connection = connection;
  }

  get grantType(): SalesforceLogin["grant"] {
    return this.#login.grant;
  }

  /** The cached token, or a new one. */
  async current(): Promise<TokenGrant> {
    return this.#grant ?? this.#loginOnce();
  }

  /** `stale` was refused: get a new token unless someone already did. */
  async refresh(stale: TokenGrant): Promise<TokenGrant> {
    if (this.#grant && this.#grant !== stale) return this.#grant;
    this.#grant = undefined;
    return this.#loginOnce();
  }

  #loginOnce(): Promise<TokenGrant> {
    this.#pending ??= this.#doLogin()
      .then((g) => {
        this.#grant = g;
        return g;
      })
      .finally(() => {
        this.#pending = undefined;
      });
    return this.#pending;
  }

  async #doLogin(): Promise<TokenGrant> {
    const login = this.#login;
    if (login.grant === "client_credentials") {
      return requestToken(
        this.#http,
        this.#origin,
        clientCredentialsForm(login.clientId, login.clientSecret),
        { step: "login", connection: this.#connection },
      );
    }
    this.#key ??= await loadPrivateKey(login.privateKeyFile);
    const assertion = signJwtAssertion(
      { issuer: login.clientId, subject: login.username, audience: login.audience },
      this.#key,
      this.#http.clock,
    );
    return requestToken(this.#http, this.#origin, jwtBearerForm(assertion), {
      step: "login (jwt bearer)",
      connection: this.#connection,
    });
  }
}

/** The admin login from a connection's config and the credentials the caller read from Vault. */
export function loginFromConfig(
  connection: Pick<SalesforceConnectionConfig, "auth" | "jwtUsername" | "jwtPrivateKeyFile">,
  credentials: { clientId: string; clientSecret: SecretValue | undefined; jwtAudience: string },
): SalesforceLogin {
  const { clientId, clientSecret } = credentials;
  if (connection.auth === "client_credentials") {
    if (!clientSecret) {
      throw new RotatorError(
        "CONFIG_INVALID",
        "salesforce client_credentials login needs the client secret",
        {
          context: { field: "client_secret" },
        },
      );
    }
    return { grant: "client_credentials", clientId, clientSecret };
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
    clientId,
    username: connection.jwtUsername,
    privateKeyFile: connection.jwtPrivateKeyFile,
    audience: credentials.jwtAudience,
  };
}

// Does a pair work? verifyPair: a token request with the pair, polled with exponential backoff and jitter while
// Salesforce still answers invalid_client_id / invalid_client (a new pair propagating) or
// is unavailable. provePairDead: one token request that must be refused.
// A token request is the whole proof that a pair logs in: the token endpoint is where a consumer's pair is
// authenticated, and an issued token is Salesforce accepting it. What a token may do (scopes, the run-as user,
// API access) belongs to the consumer's app, which a rotation does not change, so a call with the token (userinfo)
// would prove nothing more about the pair and cost one more request per check.
// The token a proof is given is dropped at once, not revoked: it grants no more than the pair that minted it, it is
// never stored, logged or sent anywhere, and Salesforce ends its session after the app's session timeout. A revoke
// would cost one more call per proof (three per rotation) and protect against nobody: whoever could take the
// token from this process's memory could take the pair itself.
export const USERINFO_PATH = "/services/oauth2/userinfo";

export interface PairCheckDeps {
  readonly http: SalesforceHttp;
  /** My Domain origin: where token requests go, and the only origin a token answer may send us to. */
  readonly origin: string;
  /** The configured connection's name, for errors that name its config key. */
  readonly connection?: string | undefined;
  readonly log: SalesforceLog;
  readonly sleep: Sleep;
  readonly random: () => number;
}

function refusalOf(err: RotatorError): TokenRefusal | undefined {
  const r = err.context["reason"];
  return typeof r === "string" ? (r as TokenRefusal) : undefined;
}

function isPropagationRefusal(err: RotatorError): boolean {
  const reason = refusalOf(err);
  return (
    err.code === "SALESFORCE_AUTH_FAILED" && (reason === "invalid_client_id" || reason === "invalid_client")
  );
}

/** Never throws a RotatorError: failures are a {ok: false} value. */
export async function verifyPair(
  deps: PairCheckDeps,
  clientId: string,
  clientSecret: SecretValue,
  opts: VerifyPairOptions,
): Promise<PairCheck> {
  const step = "verify pair";
  const clock: Clock = deps.http.clock;
  const start = clock.now().getTime();
  const deadline = start + opts.timeoutMs;
  const form = clientCredentialsForm(clientId, clientSecret);
  for (let attempts = 1; ; attempts++) {
    let failure: RotatorError;
    try {
      // Each attempt gets the full call timeout: the deadline decides whether another attempt starts, so the
      // last one (at the deadline) is not cut short into a meaningless timeout.
      await requestToken(deps.http, deps.origin, form, {
        step,
        connection: deps.connection,
        maxRetries: 0,
        signal: opts.signal,
      });
      return { ok: true, elapsedMs: clock.now().getTime() - start, attempts };
    } catch (err) {
      if (!isRotatorError(err)) throw err;
      failure = err;
    }
    const reason = refusalOf(failure);
    const fail = (): PairCheck => ({
      ok: false,
      code: failure.code,
      reason,
      error: failure,
      elapsedMs: clock.now().getTime() - start,
      attempts,
    });
    const pollable =
      isPropagationRefusal(failure) || (failure.code === "SALESFORCE_UNAVAILABLE" && failure.retryable);
    const now = clock.now().getTime();
    if (!pollable || now >= deadline || opts.signal?.aborted) return fail();
    const delayMs = Math.min(
      deadline - now,
      backoffDelayMs(attempts - 1, {
        baseMs: opts.initialDelayMs ?? 1_000,
        capMs: opts.maxDelayMs ?? 30_000,
        random: deps.random,
      }),
    );
    deps.log.debug({ step, attempt: attempts, code: failure.code, reason, delayMs }, "pair not accepted yet");
    try {
      await deps.sleep(delayMs, opts.signal);
    } catch {
      return fail();
    }
  }
}

/**
 * {dead: true} only on invalid_client_id: Salesforce no longer knows the key. invalid_client (the key is known,
 * the secret wrong) and an issued token are {dead: false}. Anything else throws (inconclusive).
 */
export async function provePairDead(
  deps: PairCheckDeps,
  clientId: string,
  clientSecret: SecretValue,
  opts: { timeoutMs?: number; signal?: AbortSignal } = {},
): Promise<PairDeathProof> {
  const step = "prove pair dead";
  try {
    await requestToken(deps.http, deps.origin, clientCredentialsForm(clientId, clientSecret), {
      step,
      connection: deps.connection,
      ...(opts.timeoutMs === undefined ? {} : { timeoutMs: opts.timeoutMs }),
      signal: opts.signal,
    });
  } catch (err) {
    const reason = isRotatorError(err, "SALESFORCE_AUTH_FAILED") ? refusalOf(err) : undefined;
    if (reason === "invalid_client_id") return { dead: true, reason };
    if (reason === "invalid_client") return { dead: false, answer: reason };
    throw err;
  }
  return { dead: false, answer: "token" };
}
