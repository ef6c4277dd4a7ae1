// eca-rotator's own Vault/OpenBao client on the adapters' HTTP client and zod: every call has a timeout, only
// idempotent calls are retried (bounded, with jitter, honouring Retry-After), every failure is a RotatorError
// with a stable code, and the token is kept alive (renew-self at about 2/3 of its TTL, re-login when that stops
// working). Tokens live in SecretValue and are sent only in the X-Vault-Token header. Answers are read up to
// VAULT_ANSWER_CAP_BYTES; a larger one aborts the request.

import { readdir, readFile } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import type { z } from "zod";
import type { VaultAuthConfig, VaultTlsConfig } from "../../config/config-types.ts";
import { isRotatorError, RotatorError } from "../../core/errors.ts";
import type { SecretValue } from "../../core/secret-value.ts";
import { type Clock, systemClock } from "../../core/time.ts";
import { backoffDelayMs, parseRetryAfter } from "../http/backoff.ts";
import {
  AnswerTooLargeError,
  createHttpTransport,
  type HttpTransport,
  MiB,
  readCappedText,
} from "../http/http-client.ts";
import { type AuthGrant, VaultAuthenticator } from "./vault-auth.ts";
import { errorFromAnswer, errorFromTransport } from "./vault-errors.ts";
import { parseVaultBody, type VaultRequest, type VaultResponse } from "./vault-request.ts";
import {
  AuthAnswerSchema,
  CapabilitiesSelfSchema,
  HealthSchema,
  KvConfigSchema,
  LookupSelfSchema,
  MountInfoSchema,
  VaultEnvelopeSchema,
} from "./vault-schemas.ts";

export type { VaultRequest, VaultResponse } from "./vault-request.ts";

import path from "node:path";

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
