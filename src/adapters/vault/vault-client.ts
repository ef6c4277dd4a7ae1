// eca-rotator's own Vault/OpenBao client on the adapters' HTTP client and zod: every call has a timeout, only
// idempotent calls are retried (bounded, with jitter, honouring Retry-After), every failure is a RotatorError
// with a stable code, and the token is kept alive (renew-self at about 2/3 of its TTL, re-login when that stops
// working). Tokens live in SecretValue and are sent only in the X-Vault-Token header. Answers are read up to
// VAULT_ANSWER_CAP_BYTES; a larger one aborts the request.

import { createHash } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { z } from "zod";
import type { VaultAuthConfig, VaultTlsConfig } from "../../config/config-types.ts";
import { isRotatorError, RotatorError } from "../../core/errors.ts";
import { SecretValue } from "../../core/secret-value.ts";
import { type Clock, systemClock } from "../../core/time.ts";
import {
  AnswerTooLargeError,
  backoffDelayMs,
  createHttpTransport,
  type HttpTransport,
  isTlsErrorCode,
  isUnavailableCode,
  MiB,
  parseRetryAfter,
  readCappedText,
  safeOrigin,
  transportErrorCode,
  truncateOneLine,
} from "../http/http-client.ts";
import {
  AuthAnswerSchema,
  CapabilitiesSelfSchema,
  HealthSchema,
  KvConfigSchema,
  LookupSelfSchema,
  MountInfoSchema,
  UnwrapSecretIdSchema,
  VaultEnvelopeSchema,
} from "./vault-schemas.ts";

export interface VaultLog {
  debug(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface VaultClientOptions {
  address: string;
  namespace?: string | undefined;
  auth: VaultAuthConfig;
  tls?: VaultTlsConfig | undefined;
  /** Per request: connect, response headers and the body going idle, each. Default 10 s. */
  timeoutMs?: number;
  /** Retries of idempotent calls after a transport failure, 5xx or 429. Default 2. */
  maxRetries?: number;
  /** Injectable for tests; otherwise built from `tls` and `timeoutMs`, and closed by close(). */
  transport?: HttpTransport;
  clock?: Clock;
  log?: VaultLog;
}

export interface VaultHealth {
  initialized: boolean;
  sealed: boolean;
  standby: boolean;
  version: string;
}

export interface TokenSelf {
  ttlSeconds: number;
  renewable: boolean;
  policies: string[];
  displayName: string;
  /** The identity entity of the token ("" when it has none, as a plain token). */
  entityId: string;
  expireTime: string | null;
}

/** A KV v2 mount's settings (GET <mount>/config). */
export interface KvMountConfig {
  /** Go duration text ("0s" when versions are never deleted by age). */
  readonly deleteVersionAfter: string;
  readonly maxVersions: number | undefined;
  readonly casRequired: boolean | undefined;
}

/** How far this host's clock is from the server's, judged from the Date header of one unauthenticated call. */
export interface ClockOffset {
  /** Server time minus local time (positive: this host is behind). */
  readonly offsetMs: number;
  /** How far off the estimate may be: half the round trip, plus half a second for the header's resolution. */
  readonly uncertaintyMs: number;
}

export interface MountInfo {
  type: string;
  /** options.version: "2" for KV v2, "1" or undefined for KV v1. */
  version: string | undefined;
  /** The mount's own path with a trailing slash ("secret/"): may differ from what was asked for a nested path. */
  path: string | undefined;
}

const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_MAX_RETRIES = 2;
const RETRY_BASE_MS = 200;
const RETRY_CAP_MS = 5_000;
const RETRY_AFTER_CAP_MS = 30_000;
/** After a 403 led to a token check, further 403s within this window are taken as policy denials: no re-check. */
const TOKEN_RECHECK_MS = 5_000;
/** After a failed renewal or re-login, try again this much later. */
const RENEW_RETRY_MS = 10_000;
const HEALTH_STATUSES = [200, 429, 472, 473, 501, 503] as const;
/**
 * The largest Vault answer read. Far above the other adapters' 1 MiB because OpenBao's detailed-metadata LIST
 * returns every key's metadata at once: a folder of tens of thousands of credentials answers with megabytes.
 */
const VAULT_ANSWER_CAP_BYTES = 64 * MiB;

const silentLog: VaultLog = { debug: () => {}, warn: () => {} };

type TimerAction = "renew" | "reauthenticate";

export class VaultClient {
  readonly address: string;
  readonly namespace: string | undefined;
  readonly clock: Clock;
  readonly authMethod: VaultAuthConfig["method"];
  readonly #transport: HttpTransport;
  readonly #ownsTransport: boolean;
  readonly #timeoutMs: number;
  readonly #maxRetries: number;
  readonly #log: VaultLog;
  readonly #auth: VaultAuthenticator;
  #token: SecretValue | undefined;
  /** The TTL of the last grant or renewal: a renewal that returns less means the max TTL is near. */
  #grantedTtl = 0;
  /** The last renewal returned less than the grant before it: the token is near its max TTL. */
  #capped = false;
  #expiresAtMs = Number.POSITIVE_INFINITY;
  #tokenCheckedAtMs = Number.NEGATIVE_INFINITY;
  #timer: NodeJS.Timeout | undefined;
  #reauth: Promise<void> | undefined;
  #recovery: Promise<boolean> | undefined;
  #closed = false;

  private constructor(opts: VaultClientOptions, transport: HttpTransport, ownsTransport: boolean) {
    this.address = opts.address.replace(/\/+$/, "");
    this.namespace = opts.namespace || undefined;
    this.clock = opts.clock ?? systemClock;
    this.authMethod = opts.auth.method;
    this.#transport = transport;
    this.#ownsTransport = ownsTransport;
    this.#timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#maxRetries = Math.max(0, opts.maxRetries ?? DEFAULT_MAX_RETRIES);
    this.#log = opts.log ?? silentLog;
    this.#auth = new VaultAuthenticator(opts.auth);
  }

  /** Logs in (AppRole/Kubernetes) or looks the token up (token auth), then keeps the token renewed. */
  static async connect(opts: VaultClientOptions): Promise<VaultClient> {
    const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const transport = opts.transport ?? (await buildVaultTransport(opts.tls, timeoutMs));
    const client = new VaultClient(opts, transport, opts.transport === undefined);
    try {
      await client.#authenticate("connect");
    } catch (err) {
      await client.close();
      throw err;
    }
    return client;
  }

  /** sys/health (unauthenticated): answers for sealed, uninitialised and standby servers too. */
  async health(): Promise<VaultHealth> {
    const call = { method: "GET", path: "sys/health" } as const;
    const res = await this.request({ ...call, token: "none", accept: HEALTH_STATUSES });
    const h = parseVaultBody(HealthSchema, res, call);
    return { initialized: h.initialized, sealed: h.sealed, standby: h.standby, version: h.version };
  }

  async lookupSelf(): Promise<TokenSelf> {
    const d = (await this.requestJson({ method: "GET", path: "auth/token/lookup-self" }, LookupSelfSchema))
      .data;
    return {
      ttlSeconds: d.ttl,
      renewable: d.renewable ?? false,
      policies: d.policies ?? [],
      displayName: d.display_name ?? "",
      entityId: d.entity_id ?? "",
      expireTime: d.expire_time ?? null,
    };
  }

  /** What the token may do on each path (POST sys/capabilities-self); a path without an answer gets []. */
  async capabilitiesSelf(paths: string[]): Promise<Record<string, string[]>> {
    const body = await this.requestJson(
      { method: "POST", path: "sys/capabilities-self", body: { paths }, idempotent: true },
      CapabilitiesSelfSchema,
    );
    const data = body.data ?? {};
    // Older servers answer a single path with just `capabilities`.
    const { capabilities } = data;
    const out: Record<string, string[]> = {};
    for (const p of paths) {
      const caps = data[p] ?? (paths.length === 1 ? capabilities : undefined);
      out[p] = Array.isArray(caps) ? caps.filter((c): c is string => typeof c === "string") : [];
    }
    return out;
  }

  /**
   * The mount's type and KV version via sys/internal/ui/mounts/:mount (the default policy allows it; the server
   * answers for any mount the token has some capability on). VAULT_NOT_FOUND when no such mount is visible.
   */
  async mountInfo(mount: string): Promise<MountInfo> {
    const clean = mount.replace(/^\/+|\/+$/g, "");
    const call = { method: "GET", path: `sys/internal/ui/mounts/${encodePath(clean)}` } as const;
    const res = await this.request({ ...call, accept: [403, 404] });
    if (res.status === 403 || res.status === 404) {
      throw new RotatorError(
        "VAULT_NOT_FOUND",
        `${call.method} ${call.path} → HTTP ${res.status}: no mount "${clean}" that this token can see ` +
          `(it does not exist, or no policy grants anything on it)`,
        { context: { method: call.method, path: call.path, status: res.status, mount: clean } },
      );
    }
    const d = parseVaultBody(MountInfoSchema, res, call).data;
    const { version } = d.options ?? {};
    return { type: d.type, version, path: d.path };
  }

  /** A KV v2 mount's settings; VAULT_PERMISSION_DENIED when the token may not read <mount>/config. */
  async kvConfig(mount: string): Promise<KvMountConfig> {
    const clean = mount.replace(/^\/+|\/+$/g, "");
    const d = (await this.requestJson({ method: "GET", path: `${encodePath(clean)}/config` }, KvConfigSchema))
      .data;
    return {
      deleteVersionAfter: d.delete_version_after ?? "0s",
      maxVersions: d.max_versions,
      casRequired: d.cas_required,
    };
  }

  /** This host's clock against the server's Date header (sys/health, no token); undefined without a Date. */
  async clockOffset(): Promise<ClockOffset | undefined> {
    const sent = this.clock.now().getTime();
    const res = await this.request({
      method: "GET",
      path: "sys/health",
      token: "none",
      accept: HEALTH_STATUSES,
    });
    const received = this.clock.now().getTime();
    const server = res.date === undefined ? Number.NaN : Date.parse(res.date);
    if (!Number.isFinite(server)) return undefined;
    // The header is truncated to the second: the server's instant lies in [server, server + 1000).
    return {
      offsetMs: server + 500 - (sent + received) / 2,
      uncertaintyMs: (received - sent) / 2 + 500,
    };
  }

  /**
   * The typed low-level call. Returns 2xx answers and the statuses listed in `req.accept`; throws RotatorError
   * for anything else. A 403 on a session-token call triggers one token check/re-login and one retry.
   */
  async request(req: VaultRequest): Promise<VaultResponse> {
    const usesSession = (req.token ?? "session") === "session";
    const tokenUsed = this.#token;
    try {
      return await this.#sendWithRetries(req);
    } catch (err) {
      if (
        usesSession &&
        isRotatorError(err, "VAULT_PERMISSION_DENIED") &&
        (await this.#recoverFromDenied(tokenUsed))
      ) {
        return this.#sendWithRetries(req);
      }
      throw err;
    }
  }

  /** request() for a 2xx answer, validated by `schema` (VAULT_UNEXPECTED_RESPONSE when it does not match). */
  async requestJson<S extends z.ZodType>(req: VaultRequest, schema: S): Promise<z.output<S>> {
    const res = await this.request({ ...req, accept: [] });
    return parseVaultBody(schema, res, req);
  }

  /** Gets a fresh token now (a new login, or re-reading the token file). Concurrent callers share one attempt. */
  async reauthenticate(): Promise<void> {
    this.#reauth ??= this.#authenticate("reauthenticate").finally(() => {
      this.#reauth = undefined;
    });
    return this.#reauth;
  }

  /** Stops renewal and closes the transport this client built (an injected one stays open). */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#ownsTransport) await this.#transport.close();
  }

  // ---- auth and renewal -------------------------------------------------------------------------------------

  async #authenticate(reason: string): Promise<void> {
    const grant = await this.#auth.authenticate((r) => this.#sendWithRetries(r));
    const previous = this.#token;
    this.#token = grant.token;
    this.#log.debug(
      { authMethod: this.authMethod, ttlSeconds: grant.ttlSeconds, renewable: grant.renewable, reason },
      "vault token obtained",
    );
    // A token file that still holds the same capped token: renewing it again would not help either.
    const sameCapped = this.#capped && (previous?.equals(grant.token) ?? false);
    this.#grantedTtl = sameCapped ? this.#grantedTtl : grant.grantedTtlSeconds;
    this.#scheduleFrom(grant, sameCapped);
  }

  /** Renew at about 2/3 of the TTL (jittered down by up to 10 %), or re-login when renewing no longer helps. */
  #scheduleFrom(grant: Pick<AuthGrant, "ttlSeconds" | "renewable">, capped: boolean): void {
    this.#capped = capped;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    // ttl 0: a token that never expires (root, or no TTL) needs no renewal.
    if (this.#closed || grant.ttlSeconds <= 0) {
      this.#expiresAtMs = Number.POSITIVE_INFINITY;
      return;
    }
    this.#expiresAtMs = performance.now() + grant.ttlSeconds * 1000;
    let action: TimerAction | undefined;
    if (grant.renewable && !capped) action = "renew";
    else if (this.#auth.canReauthenticate) action = "reauthenticate";
    else if (grant.renewable && grant.ttlSeconds > 2) action = "renew";
    if (!action) {
      this.#log.warn(
        { authMethod: this.authMethod, ttlSeconds: grant.ttlSeconds },
        "vault token cannot be renewed and there is no way to get another; it will expire",
      );
      return;
    }
    const delayMs = Math.max(500, grant.ttlSeconds * 1000 * (2 / 3) * (0.9 + 0.1 * Math.random()));
    this.#arm(action, delayMs);
  }

  #arm(action: TimerAction, delayMs: number): void {
    if (this.#closed) return;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.#onTimer(action);
    }, delayMs);
    // Renewal must never keep the process alive on its own.
    this.#timer.unref();
  }

  async #onTimer(action: TimerAction): Promise<void> {
    if (this.#closed) return;
    if (action === "reauthenticate") {
      try {
        await this.reauthenticate();
      } catch (err) {
        this.#log.warn(
          { authMethod: this.authMethod, code: codeOf(err) },
          "vault re-login failed; will retry",
        );
        this.#arm("reauthenticate", RENEW_RETRY_MS);
      }
      return;
    }
    try {
      await this.#renewSelf();
    } catch (err) {
      this.#log.warn({ authMethod: this.authMethod, code: codeOf(err) }, "vault token renewal failed");
      if (this.#auth.canReauthenticate) {
        await this.#onTimer("reauthenticate");
      } else if (performance.now() + RENEW_RETRY_MS < this.#expiresAtMs) {
        this.#arm("renew", RENEW_RETRY_MS);
      }
    }
  }

  async #renewSelf(): Promise<void> {
    const body = await this.requestJson(
      { method: "POST", path: "auth/token/renew-self", body: {}, idempotent: true },
      AuthAnswerSchema,
    );
    const ttl = body.auth.lease_duration;
    // The TTL stopped growing: the max TTL is near, so renewing again would not help for long.
    const capped = ttl < this.#grantedTtl;
    this.#log.debug({ authMethod: this.authMethod, ttlSeconds: ttl, capped }, "vault token renewed");
    if (!capped) this.#grantedTtl = ttl;
    this.#scheduleFrom({ ttlSeconds: ttl, renewable: body.auth.renewable }, capped);
  }

  /**
   * A 403 may mean the token died (revoked, expired) rather than a policy denial. Check the token once (shared by
   * concurrent callers, skipped shortly after a check) and, when it is dead, get a new one: true = retry.
   */
  async #recoverFromDenied(tokenUsed: SecretValue | undefined): Promise<boolean> {
    if (!this.#auth.canReauthenticate) return false;
    if (this.#token !== tokenUsed) return true; // someone re-authenticated meanwhile
    if (this.#recovery) return this.#recovery;
    if (performance.now() - this.#tokenCheckedAtMs < TOKEN_RECHECK_MS) return false;
    // Stamped whatever the outcome: a token that cannot look itself up (no default policy) must not cause a
    // re-login per denied request.
    this.#tokenCheckedAtMs = performance.now();
    this.#recovery = (async () => {
      const res = await this.#sendWithRetries({
        method: "GET",
        path: "auth/token/lookup-self",
        accept: [401, 403],
      });
      if (res.status < 300) return false;
      this.#log.warn({ authMethod: this.authMethod }, "vault token no longer valid; getting a new one");
      await this.reauthenticate();
      return true;
    })().finally(() => {
      this.#recovery = undefined;
    });
    return this.#recovery;
  }

  // ---- transport ----------------------------------------------------------------------------------------------

  async #sendWithRetries(req: VaultRequest): Promise<VaultResponse> {
    const idempotent = req.idempotent ?? (req.method === "GET" || req.method === "LIST");
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.#sendOnce(req);
      } catch (err) {
        if (!idempotent || attempt >= this.#maxRetries || !isRetryable(err)) throw err;
        const delayMs = retryDelayMs(attempt, err);
        this.#log.debug(
          { method: req.method, path: req.path, attempt: attempt + 1, delayMs, code: codeOf(err) },
          "vault call failed; retrying",
        );
        await sleep(delayMs);
      }
    }
  }

  async #sendOnce(req: VaultRequest): Promise<VaultResponse> {
    const call = { method: req.method, path: req.path };
    const headers: Record<string, string> = { "x-vault-request": "true", ...req.headers };
    const token =
      req.token === undefined || req.token === "session"
        ? this.#token
        : req.token === "none"
          ? undefined
          : req.token;
    if (token) headers["x-vault-token"] = token.reveal();
    if (this.namespace) headers["x-vault-namespace"] = this.namespace;
    let payload: string | undefined;
    if (req.body !== undefined) {
      payload = JSON.stringify(req.body);
      headers["content-type"] = req.mergePatch ? "application/merge-patch+json" : "application/json";
    }
    let status = 0;
    let text: string;
    let retryAfter: string | undefined;
    let date: string | undefined;
    try {
      const res = await this.#transport.request(this.#url(req), {
        method: req.method,
        headers,
        body: payload,
        timeoutMs: this.#timeoutMs,
      });
      status = res.statusCode;
      const ra = res.headers["retry-after"];
      retryAfter = Array.isArray(ra) ? ra[0] : ra;
      const dh = res.headers["date"];
      date = Array.isArray(dh) ? dh[0] : dh;
      text = await readCappedText(res, VAULT_ANSWER_CAP_BYTES);
    } catch (err) {
      if (err instanceof AnswerTooLargeError) throw answerTooLarge(call, status, err);
      throw errorFromTransport(call, this.address, err);
    }
    const body = parseJson(text);
    const env = envelopeOf(body);
    const response: VaultResponse = {
      status,
      body,
      requestId: env?.request_id || undefined,
      errors: env?.errors ?? [],
      warnings: env?.warnings ?? [],
      date,
    };
    if ((status >= 200 && status < 300) || req.accept?.includes(status)) return response;
    throw errorFromAnswer({
      ...call,
      status,
      errors: response.errors,
      warnings: response.warnings,
      requestId: response.requestId,
      retryAfterMs: parseRetryAfter(retryAfter, this.clock),
    });
  }

  #url(req: VaultRequest): string {
    const query = new URLSearchParams();
    for (const [k, v] of Object.entries(req.query ?? {})) if (v !== undefined) query.set(k, String(v));
    const qs = query.toString();
    return `${this.address}/v1/${req.path.replace(/^\/+/, "")}${qs ? `?${qs}` : ""}`;
  }
}

/** Each path segment URL-encoded, slashes kept: KV paths may hold spaces and other odd characters. */
export function encodePath(p: string): string {
  return p
    .split("/")
    .map((s) => encodeURIComponent(s))
    .join("/");
}

function parseJson(text: string): unknown {
  if (text.trim() === "") return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

type Envelope = {
  request_id?: string | undefined;
  errors?: string[] | null | undefined;
  warnings?: string[] | null | undefined;
};

/**
 * VaultEnvelopeSchema's reading of an answer, without zod's copy of the whole top-level object on the common
 * shape (every scan request passes here); anything unusual goes through the schema. undefined: no envelope.
 */
function envelopeOf(body: unknown): Envelope | undefined {
  if (typeof body === "object" && body !== null && !Array.isArray(body)) {
    const b = body as Record<string, unknown>;
    const id = b["request_id"];
    const errors = b["errors"];
    const warnings = b["warnings"];
    const strings = (x: unknown) => x == null || (Array.isArray(x) && x.every((v) => typeof v === "string"));
    if ((id === undefined || typeof id === "string") && strings(errors) && strings(warnings)) {
      return { request_id: id, errors: errors as string[] | null, warnings: warnings as string[] | null };
    }
  }
  const env = VaultEnvelopeSchema.safeParse(body);
  return env.success ? env.data : undefined;
}

function answerTooLarge(
  call: { readonly method: string; readonly path: string },
  status: number,
  err: AnswerTooLargeError,
): RotatorError {
  const hint = call.path.includes("/detailed-metadata/")
    ? " (a detailed-metadata listing of a very large folder: set vault.listing: per-key)"
    : "";
  return new RotatorError(
    "VAULT_UNEXPECTED_RESPONSE",
    `${call.method} ${call.path} → HTTP ${status}: ${err.message}${hint}`,
    {
      retryable: false,
      context: { method: call.method, path: call.path, status, limitBytes: err.limitBytes },
    },
  );
}

function isRetryable(err: unknown): boolean {
  return isRotatorError(err, "VAULT_UNAVAILABLE") || isRotatorError(err, "VAULT_RATE_LIMITED");
}

/** Exponential backoff with jitter; a server's Retry-After (capped) wins when it says more. */
function retryDelayMs(attempt: number, err: unknown): number {
  const jittered = backoffDelayMs(attempt, { baseMs: RETRY_BASE_MS, capMs: RETRY_CAP_MS });
  const { retryAfterMs: ra } = isRotatorError(err) ? err.context : {};
  return typeof ra === "number" ? Math.max(jittered, Math.min(ra, RETRY_AFTER_CAP_MS)) : jittered;
}

function codeOf(err: unknown): string {
  return isRotatorError(err) ? err.code : "UNCLASSIFIED";
}

// The transport the client uses when none is injected: timeouts on every phase and TLS from VAULT_CACERT / VAULT_CAPATH / client certificate / server name / skip-verify.
async function readTlsFile(file: string, what: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? "read error";
    throw new RotatorError("VAULT_TLS", `cannot read the ${what} ${file} (${code})`, {
      context: { file, errorCode: code },
      cause: err,
    });
  }
}

/** Every PEM/CRT file in a folder, like VAULT_CAPATH. */
async function readCaDir(dir: string): Promise<Buffer[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? "read error";
    throw new RotatorError("VAULT_TLS", `cannot read the CA folder ${dir} (${code})`, {
      context: { file: dir, errorCode: code },
      cause: err,
    });
  }
  const pems = names.filter((n) => /\.(pem|crt)$/i.test(n)).sort();
  return Promise.all(pems.map((n) => readTlsFile(path.join(dir, n), "CA certificate")));
}

async function buildVaultTransport(
  tls: VaultTlsConfig | undefined,
  timeoutMs: number,
): Promise<HttpTransport> {
  const ca: Buffer[] = [];
  if (tls?.caCertFile) ca.push(await readTlsFile(tls.caCertFile, "CA certificate file"));
  if (tls?.caPath) ca.push(...(await readCaDir(tls.caPath)));
  if ((tls?.clientCertFile === undefined) !== (tls?.clientKeyFile === undefined)) {
    throw new RotatorError("VAULT_TLS", "a client certificate needs both a certificate file and a key file");
  }
  const cert = tls?.clientCertFile
    ? await readTlsFile(tls.clientCertFile, "client certificate file")
    : undefined;
  const key = tls?.clientKeyFile ? await readTlsFile(tls.clientKeyFile, "client key file") : undefined;
  return createHttpTransport(timeoutMs, {
    rejectUnauthorized: !(tls?.skipVerify ?? false),
    ca,
    ...(cert ? { cert } : {}),
    ...(key ? { key } : {}),
    ...(tls?.serverName ? { servername: tls.serverName } : {}),
  });
}

// The shapes of one low-level Vault call, shared by the client, the auth methods and the KV v2 wrapper.
type VaultMethod = "GET" | "LIST" | "POST" | "PUT" | "PATCH" | "DELETE";

export interface VaultRequest {
  readonly method: VaultMethod;
  /** API path relative to /v1/, already URL-encoded, without a query string (it appears in error messages). */
  readonly path: string;
  /** Query parameters; never put secrets here. */
  readonly query?: Readonly<Record<string, string | number | boolean | undefined>>;
  /** JSON body. */
  readonly body?: unknown;
  /** Send the body as `application/merge-patch+json` (PATCH on data/ and metadata/). */
  readonly mergePatch?: boolean;
  /**
   * Whether the call may be retried after a transport failure, 5xx or 429. Defaults to true for GET and
   * LIST and false for everything else: data writes are never retried blindly.
   */
  readonly idempotent?: boolean;
  /** Which token to send: the client's session token (default), none, or an explicit one (unwrap). */
  readonly token?: "session" | "none" | SecretValue;
  /** Non-2xx statuses that are answers to the caller rather than errors (404 on LIST, say). */
  readonly accept?: readonly number[];
  /** Extra headers (X-Vault-Wrap-TTL, …). */
  readonly headers?: Readonly<Record<string, string>>;
}

export interface VaultResponse {
  readonly status: number;
  /** Parsed JSON, or undefined for an empty body (204, PATCH 404). */
  readonly body: unknown;
  readonly requestId: string | undefined;
  readonly errors: readonly string[];
  readonly warnings: readonly string[];
  /** The server's Date header (HTTP date, whole seconds), for clock checks; undefined when absent. */
  readonly date?: string | undefined;
}

/** Validates a response body; a mismatch is VAULT_UNEXPECTED_RESPONSE naming the call and the field paths. */
export function parseVaultBody<S extends z.ZodType>(
  schema: S,
  res: VaultResponse,
  call: { readonly method: string; readonly path: string },
): z.output<S> {
  const parsed = schema.safeParse(res.body);
  if (parsed.success) return parsed.data;
  // Issue paths and messages only: zod issues can quote input values, which may be secret.
  const where = parsed.error.issues
    .slice(0, 3)
    .map((i) => `${i.path.join(".") || "(body)"}: ${i.code}`)
    .join("; ");
  throw new RotatorError(
    "VAULT_UNEXPECTED_RESPONSE",
    `${call.method} ${call.path} → HTTP ${res.status}: unexpected response shape (${where})`,
    { context: { method: call.method, path: call.path, status: res.status, requestId: res.requestId } },
  );
}

// Vault/OpenBao answers and transport failures → RotatorError, in one place. Messages are one line:
// "<METHOD> <api path> → HTTP <status>: <Vault's error text>". The API path never carries a query string,
// and Vault's error texts name paths and reasons, not secret values; they are still normalised and truncated.
const MAX_VAULT_TEXT = 200;

/** What an error message may say about the call that failed. */
interface VaultCallInfo {
  readonly method: string;
  /** API path relative to /v1/, without a query string. */
  readonly path: string;
}

export interface VaultErrorAnswer extends VaultCallInfo {
  readonly status: number;
  readonly errors: readonly string[];
  readonly warnings: readonly string[];
  readonly requestId: string | undefined;
  /** From a Retry-After header (429/503), so the retry loop can honour it. */
  readonly retryAfterMs?: number | undefined;
}

/**
 * Vault wraps many errors in go-multierror ("1 error occurred:\n\t* permission denied\n\n"): keep the
 * reasons only, on one line, and cut long texts so a message stays a single readable line.
 */
function vaultErrorText(errors: readonly string[]): string {
  const parts = errors
    .flatMap((e) => e.split("\n"))
    .map((line) => line.replace(/^\s*\*\s*/, "").trim())
    .filter((line) => line !== "" && !/^\d+ errors? occurred:$/.test(line));
  return truncateOneLine([...new Set(parts)].join("; "), MAX_VAULT_TEXT);
}

export function isInvalidKvV2Path(warnings: readonly string[]): boolean {
  return warnings.some((w) => w.includes("Invalid path for a versioned K/V secrets engine"));
}

function isCasMismatch(errors: readonly string[]): boolean {
  return errors.some((e) => e.includes("check-and-set parameter did not match"));
}

function isSealedText(text: string): boolean {
  return /\bsealed\b/i.test(text) || /not initiali[sz]ed/i.test(text);
}

/** Maps a non-2xx answer to the stable error codes (house-style 4.5). */
export function errorFromAnswer(a: VaultErrorAnswer): RotatorError {
  const text = vaultErrorText(a.errors);
  const warning = a.errors.length === 0 && a.warnings.length > 0 ? vaultErrorText(a.warnings) : "";
  const detail = text || warning || defaultText(a.status);
  const message = `${a.method} ${a.path} → HTTP ${a.status}: ${detail}`;
  const context = {
    method: a.method,
    path: a.path,
    status: a.status,
    requestId: a.requestId,
    retryAfterMs: a.retryAfterMs,
  };
  const make = (code: ConstructorParameters<typeof RotatorError>[0], retryable: boolean): RotatorError =>
    new RotatorError(code, message, { retryable, context });

  if (a.status === 400)
    return make(isCasMismatch(a.errors) ? "VAULT_CAS_CONFLICT" : "VAULT_BAD_REQUEST", false);
  if (a.status === 401) return make("VAULT_AUTH_FAILED", false);
  if (a.status === 403) return make("VAULT_PERMISSION_DENIED", false);
  if (a.status === 404)
    return make(isInvalidKvV2Path(a.warnings) ? "VAULT_NOT_KV_V2" : "VAULT_NOT_FOUND", false);
  if (a.status === 405 || a.status === 415) return make("VAULT_BAD_REQUEST", false);
  if (a.status === 412) return make("VAULT_UNAVAILABLE", true);
  if (a.status === 429) return make("VAULT_RATE_LIMITED", true);
  if (a.status === 503 && isSealedText(text)) return make("VAULT_SEALED", true);
  if (a.status >= 500) return make("VAULT_UNAVAILABLE", true);
  return make("VAULT_UNEXPECTED_RESPONSE", false);
}

function defaultText(status: number): string {
  switch (status) {
    case 404:
      return "not found";
    case 405:
      return "unsupported operation";
    case 429:
      return "rate limit quota exceeded";
    default:
      return "no error text";
  }
}

/** A transport failure (no HTTP answer) → VAULT_UNAVAILABLE (retryable) or VAULT_TLS. */
function errorFromTransport(call: VaultCallInfo, address: string, err: unknown): RotatorError {
  const code = transportErrorCode(err) ?? "UNKNOWN";
  const where = `${call.method} ${call.path}`;
  const context = { method: call.method, path: call.path, errorCode: code };
  if (isTlsErrorCode(code)) {
    return new RotatorError(
      "VAULT_TLS",
      `${where}: TLS handshake with Vault at ${safeOrigin(address)} failed (${code})`,
      { retryable: false, context, cause: err },
    );
  }
  const reason = isUnavailableCode(code)
    ? code
    : `${code}: ${truncateOneLine(String((err as Error)?.message ?? err), 120)}`;
  return new RotatorError(
    "VAULT_UNAVAILABLE",
    `${where}: cannot reach Vault at ${safeOrigin(address)} (${reason})`,
    {
      retryable: true,
      context,
      cause: err,
    },
  );
}

// How the client gets a token: a configured token (or a token file, re-read on every (re)load), AppRole (role id,
// secret id from a file, optionally response-wrapped) or Kubernetes (service-account JWT file, re-read on every
// login). Every secret read here goes straight into a SecretValue; none ever reaches a message or a log.
export interface AuthGrant {
  readonly token: SecretValue;
  /** Seconds left; 0 means the token never expires (root, or no TTL). */
  readonly ttlSeconds: number;
  readonly renewable: boolean;
  /** The TTL the token was granted with (lookup-self's creation_ttl); a renewal returning less is capped. */
  readonly grantedTtlSeconds: number;
}

export type VaultSend = (req: VaultRequest) => Promise<VaultResponse>;

/** Login and unwrap answers that mean "these credentials are wrong", as opposed to "Vault is down". */
const REJECTED = [400, 401, 403, 404] as const;

async function readCredentialFile(file: string, what: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? "read error";
    throw new RotatorError("VAULT_AUTH_FAILED", `cannot read the ${what} ${file} (${code})`, {
      context: { file, errorCode: code },
      cause: err,
    });
  }
  const value = text.trim();
  if (value === "") {
    throw new RotatorError("VAULT_AUTH_FAILED", `the ${what} ${file} is empty`, { context: { file } });
  }
  return value;
}

function rejected(what: string, res: VaultResponse, call: { method: string; path: string }): RotatorError {
  const text = vaultErrorText(res.errors) || "no error text";
  return new RotatorError(
    "VAULT_AUTH_FAILED",
    `${what}: ${call.method} ${call.path} → HTTP ${res.status}: ${text}`,
    {
      context: { method: call.method, path: call.path, status: res.status, requestId: res.requestId },
    },
  );
}

function digest(value: string): string {
  return createHash("sha256").update(value).digest("hex");
}

export class VaultAuthenticator {
  readonly #config: VaultAuthConfig;
  /** The secret id a wrapping token unwrapped to: the wrapping token is single use, re-logins need this. */
  #unwrappedSecretId: SecretValue | undefined;
  #unwrappedFrom: string | undefined;

  constructor(config: VaultAuthConfig) {
    this.#config = config;
  }

  get method(): VaultAuthConfig["method"] {
    return this.#config.method;
  }

  /** Whether a new token can be had when the current one dies: a login method, or a token file to re-read. */
  get canReauthenticate(): boolean {
    return this.#config.method !== "token" || this.#config.tokenFile !== undefined;
  }

  async authenticate(send: VaultSend): Promise<AuthGrant> {
    const cfg = this.#config;
    switch (cfg.method) {
      case "token":
        return this.#tokenGrant(send, cfg);
      case "approle":
        return this.#appRoleLogin(send, cfg);
      case "kubernetes":
        return this.#kubernetesLogin(send, cfg);
    }
  }

  async #tokenGrant(send: VaultSend, cfg: Extract<VaultAuthConfig, { method: "token" }>): Promise<AuthGrant> {
    const token = cfg.tokenFile
      ? SecretValue.of(await readCredentialFile(cfg.tokenFile, "token file"))
      : cfg.token;
    if (!token) {
      throw new RotatorError(
        "VAULT_AUTH_FAILED",
        "no Vault token: set VAULT_TOKEN/BAO_TOKEN or vault.auth.token_file",
      );
    }
    const call = { method: "GET", path: "auth/token/lookup-self" } as const;
    const res = await send({ ...call, token, accept: REJECTED });
    if (res.status >= 400) {
      throw rejected(
        "the Vault token was rejected (invalid, expired, or lacking the default policy)",
        res,
        call,
      );
    }
    const data = parseVaultBody(LookupSelfSchema, res, call).data;
    return {
      token,
      ttlSeconds: data.ttl,
      renewable: data.renewable ?? false,
      grantedTtlSeconds: Math.max(data.creation_ttl ?? 0, data.ttl),
    };
  }

  async #appRoleLogin(
    send: VaultSend,
    cfg: Extract<VaultAuthConfig, { method: "approle" }>,
  ): Promise<AuthGrant> {
    const roleId =
      cfg.roleId ??
      (cfg.roleIdFile ? await readCredentialFile(cfg.roleIdFile, "AppRole role id file") : undefined);
    if (!roleId)
      throw new RotatorError("VAULT_AUTH_FAILED", "AppRole auth needs a role id or a role id file");
    const secretId = cfg.secretIdWrapped
      ? await this.#unwrapSecretId(send, cfg.secretIdFile)
      : SecretValue.of(await readCredentialFile(cfg.secretIdFile, "AppRole secret id file"));
    const call = { method: "POST", path: `auth/${cfg.mount}/login` } as const;
    const res = await send({
      ...call,
      token: "none",
      body: { role_id: roleId, secret_id: secretId.reveal() },
      accept: REJECTED,
    });
    if (res.status >= 400) throw rejected("AppRole login failed", res, call);
    return grantFrom(res, call);
  }

  /** Unwraps the file's wrapping token once; the same file content later reuses the cached secret id. */
  async #unwrapSecretId(send: VaultSend, file: string): Promise<SecretValue> {
    const wrapping = await readCredentialFile(file, "AppRole wrapped secret id file");
    const fingerprint = digest(wrapping);
    if (this.#unwrappedSecretId && this.#unwrappedFrom === fingerprint) return this.#unwrappedSecretId;
    const call = { method: "POST", path: "sys/wrapping/unwrap" } as const;
    const res = await send({ ...call, token: SecretValue.of(wrapping), accept: REJECTED });
    if (res.status >= 400) {
      throw rejected(
        `cannot unwrap the secret id in ${file} (already unwrapped, expired, or not a wrapping token)`,
        res,
        call,
      );
    }
    const secretId = SecretValue.of(parseVaultBody(UnwrapSecretIdSchema, res, call).data.secret_id);
    this.#unwrappedSecretId = secretId;
    this.#unwrappedFrom = fingerprint;
    return secretId;
  }

  async #kubernetesLogin(
    send: VaultSend,
    cfg: Extract<VaultAuthConfig, { method: "kubernetes" }>,
  ): Promise<AuthGrant> {
    const jwt = SecretValue.of(
      await readCredentialFile(cfg.jwtFile, "Kubernetes service-account token file"),
    );
    const call = { method: "POST", path: `auth/${cfg.mount}/login` } as const;
    const res = await send({
      ...call,
      token: "none",
      body: { role: cfg.role, jwt: jwt.reveal() },
      accept: REJECTED,
    });
    if (res.status >= 400) throw rejected(`Kubernetes login as role ${cfg.role} failed`, res, call);
    return grantFrom(res, call);
  }
}

function grantFrom(res: VaultResponse, call: { method: string; path: string }): AuthGrant {
  const auth = parseVaultBody(AuthAnswerSchema, res, call).auth;
  return {
    token: SecretValue.of(auth.client_token),
    ttlSeconds: auth.lease_duration,
    renewable: auth.renewable,
    grantedTtlSeconds: auth.lease_duration,
  };
}
