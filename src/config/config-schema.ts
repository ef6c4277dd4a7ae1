// The YAML configuration file as a zod 4 schema, snake_case keys exactly as users write
// them. Every object is strict: an unknown key is an error (load-config.ts adds a "did you mean" hint), because a
// typo such as `adress` would otherwise be silently ignored. The output is the normalised Config (minus sources).
// Vault's standard environment variables are merged into the input before parsing (see load-config.ts); the only
// value the file cannot hold, the token, reaches the schema through the context.

import path from "node:path";
import { Cron } from "croner";
import { z } from "zod";
import { ON_SOAK_MAX, SOAK_UNTIL } from "../core/inventory/policy-fields.ts";
import { SUBSCRIBABLE_CHAT_EVENTS } from "../core/notify/chat-event.ts";
import { DEFAULT_READERS_WINDOW_MS } from "../core/readers/readers.ts";
import type { SecretValue } from "../core/secret-value.ts";
import {
  DAY_MS,
  formatExactDuration,
  HOUR_MS,
  type ParseDurationOptions,
  parseDuration,
} from "../core/time.ts";
import type {
  ChatTargetConfig,
  Config,
  MarketingCloudTenantConfig,
  ReadersConfig,
  SalesforceConnectionConfig,
  SecretRef,
  VaultAuthConfig,
} from "./config-types.ts";

// Field schemas shared by the sections below. Every message names the problem and never repeats the input:
// the input may be a secret pasted into the wrong key.
/** "is required" for a missing value, else `must be <what>`: the value itself is never shown. */
function expected(what: string): (issue: { input?: unknown }) => string {
  return (issue) => (issue.input === undefined ? "is required" : `must be ${what}`);
}

function text(): z.ZodString {
  return z
    .string({ error: expected("a string") })
    .trim()
    .min(1, { error: "must not be empty" });
}

/** A local file path (a token file, a CA bundle, a key): only its shape is checked here. */
function filePath(): z.ZodString {
  return text();
}

function bool(): z.ZodBoolean {
  return z.boolean({ error: expected("true or false") });
}

function wholeNumber(min: number, max: number): z.ZodNumber {
  const message = `must be a whole number from ${min} to ${max}`;
  return z
    .number({ error: expected(`a whole number from ${min} to ${max}`) })
    .int({ error: message })
    .min(min, { error: message })
    .max(max, { error: message });
}

function oneOf<const T extends readonly [string, ...string[]]>(
  values: T,
): z.ZodEnum<{ [K in T[number]]: K }> {
  return z.enum(values, { error: expected(`one of ${values.join(", ")}`) });
}

/** A duration string (`10s`, `15m`, `14d`, `1h30m`) parsed by the core grammar into milliseconds. */
function duration(opts: ParseDurationOptions = {}) {
  return z.string({ error: expected("a duration such as 10s, 15m or 14d") }).transform((s, ctx) => {
    const parsed = parseDuration(s, opts);
    if (!parsed.ok) {
      ctx.addIssue({ code: "custom", message: parsed.reason });
      return z.NEVER;
    }
    return parsed.ms;
  });
}

const KV_PATH_HINT =
  "must be a KV path such as api-credentials/team-a (no empty, . or .. segments, no * or +)";

/**
 * A mount or a path inside one, normalised without leading or trailing slashes. Globs are refused because
 * these paths are pasted into policy paths and capability probes, where `*` and `+` mean something else.
 */
function kvPath() {
  return text().transform((s, ctx) => {
    const trimmed = s.replace(/^\/+|\/+$/g, "");
    const segments = trimmed.split("/");
    const bad =
      trimmed === "" ||
      segments.some((seg) => seg === "" || seg === "." || seg === "..") ||
      /[*+\s\p{Cc}]/u.test(trimmed);
    if (bad) {
      ctx.addIssue({ code: "custom", message: KV_PATH_HINT });
      return z.NEVER;
    }
    return trimmed;
  });
}

const LOOPBACK_HOST = /^(localhost|127(\.\d{1,3}){3}|\[::1\])$/i;

/**
 * An http(s) origin without credentials, path, query or fragment (any of those could carry a secret, and the
 * clients append their own paths). `http:` only when `allowHttp` says so for the host.
 */
function originUrl(opts: { allowHttp: (hostname: string) => boolean; httpHint: string }) {
  return text().transform((s, ctx) => {
    const fail = (message: string) => {
      ctx.addIssue({ code: "custom", message });
      return z.NEVER;
    };
    if (!URL.canParse(s)) return fail("must be a URL such as https://vault.example.com:8200");
    const url = new URL(s);
    if (url.protocol !== "https:" && url.protocol !== "http:")
      return fail("must be an http:// or https:// URL");
    if (url.protocol === "http:" && !opts.allowHttp(url.hostname)) return fail(opts.httpHint);
    if (url.username !== "" || url.password !== "") return fail("must not contain a user name or password");
    if (url.search !== "" || url.hash !== "") return fail("must not contain a query or fragment");
    if (url.pathname !== "/" && url.pathname !== "")
      return fail("must be scheme://host[:port] without a path");
    return `${url.protocol}//${url.host}`;
  });
}

function isLoopbackHost(hostname: string): boolean {
  return LOOPBACK_HOST.test(hostname);
}

/**
 * Plain http:// to a host that is not loopback: whatever is sent (a token, a secret, a webhook URL) can be read
 * and changed by anyone on the network path. Refused unless that target's `allow_insecure_http` says otherwise.
 */
export function isPlainHttpToRemote(url: string): boolean {
  if (!URL.canParse(url)) return false;
  const u = new URL(url);
  return u.protocol === "http:" && !isLoopbackHost(u.hostname);
}

/** The refusal of plain http to a remote host. `exposes`: what would cross the network in clear. */
export function plainHttpRefusal(exposes: string, optOutKey: string): string {
  return (
    `is plain http:// to a host that is not loopback, which would send ${exposes} in clear: ` +
    `use https://, or set ${optOutKey}: true (only on a network you trust)`
  );
}

function apiVersion() {
  return text().regex(/^v[1-9][0-9]{0,2}\.[0-9]$/, { error: "must look like v65.0" });
}

function listenAddress() {
  return text().refine(
    (s) => {
      const match = /^(\[[0-9a-fA-F:.]+\]|[^\s:[\]]+):([0-9]{1,5})$/.exec(s);
      const port = Number(match?.[2] ?? "0");
      return match !== null && port >= 1 && port <= 65_535;
    },
    { error: "must be host:port, such as 127.0.0.1:8080 or [::1]:8080" },
  );
}

/** Five cron fields (minute hour day-of-month month day-of-week), evaluated in UTC; checked by croner itself. */
function cronSchedule() {
  return text().refine(
    (s) => {
      if (s.split(/\s+/).length !== 5) return false;
      try {
        // UTC as the fixed offset 0, as weekly-report.ts evaluates it (croner's time-zone path would load ICU).
        return new Cron(s, { utcOffset: 0, paused: true }).nextRun() !== null;
      } catch {
        return false;
      }
    },
    { error: 'must be a 5-field cron expression in UTC that fires, such as "0 9 * * 1"' },
  );
}

// The config sections only the daemon uses: chat targets, the extra audit sinks,
// the HTTP API and read tokens, the allowed Host names and the Salesforce API budget. Webhook URLs, HMAC secrets and API tokens are secrets, so
// the file never holds them inline: each is a reference `{file: PATH}`, `{env: NAME}` or `{vault: "PATH#FIELD"}`
// that the daemon resolves at start-up (src/daemon/secret-refs.ts), naming the key when it cannot.
export const CHAT_EVENTS = SUBSCRIBABLE_CHAT_EVENTS;

const INLINE_SECRET =
  'is a secret and is never written inline: use {file: PATH}, {env: NAME} or {vault: "KV_PATH#FIELD"}';

/** `{file}`, `{env}` or `{vault: "path#field"}`; exactly one. `key` (the config key, for start-up errors) is set by the caller. */
function secretRef() {
  return z
    .unknown()
    .superRefine((v, ctx) => {
      if (typeof v === "string") ctx.addIssue({ code: "custom", message: INLINE_SECRET });
    })
    .pipe(
      z
        .strictObject(
          {
            file: filePath().optional(),
            env: text()
              .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { error: "must be an environment variable name" })
              .optional(),
            vault: text()
              .regex(/^[^#\s]+#[^#\s]+$/, { error: 'must be "KV_PATH#FIELD" (under vault.kv_mount)' })
              .optional(),
          },
          { error: (i) => (i.input === undefined ? "is required" : INLINE_SECRET) },
        )
        .transform((r, ctx): SecretRef => {
          const set = [r.file, r.env, r.vault].filter((x) => x !== undefined).length;
          if (set !== 1) {
            ctx.addIssue({ code: "custom", message: "set exactly one of file, env and vault" });
            return z.NEVER;
          }
          if (r.file !== undefined) return { kind: "file", path: r.file, key: "" };
          if (r.env !== undefined) return { kind: "env", name: r.env, key: "" };
          const [path = "", field = ""] = (r.vault ?? "").split("#");
          const parsed = kvPath().safeParse(path);
          if (!parsed.success) {
            ctx.addIssue({ code: "custom", path: ["vault"], message: "the part before # must be a KV path" });
            return z.NEVER;
          }
          return { kind: "vault", path: parsed.data, field, key: "" };
        }),
    );
}

const targetShape = {
  type: oneOf(["slack", "teams", "webhook"]),
  url: z.unknown(),
  secret: z.unknown(),
  events: z.array(oneOf(CHAT_EVENTS), { error: "must be a list of event names" }).min(1).optional(),
  // The URL is checked once resolved (src/daemon/secret-refs.ts): plain http:// to a host that is not loopback
  // is refused unless this is true.
  allow_insecure_http: bool().default(false),
};
const TARGET_KEYS = Object.keys(targetShape);

const targetSchema = z
  .strictObject(
    { ...targetShape, url: secretRef(), secret: secretRef().optional() },
    { error: () => "must be a mapping (type, url, secret, events)" },
  )
  .superRefine((t, ctx) => {
    if (t.type === "webhook" && t.secret === undefined)
      ctx.addIssue({ code: "custom", path: ["secret"], message: "is required for type webhook (HMAC key)" });
    if (t.type !== "webhook" && t.secret !== undefined)
      ctx.addIssue({ code: "custom", path: ["secret"], message: "is only used with type webhook" });
  });

const targetName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, {
  error: "target names use letters, digits, '.', '_' and '-' (at most 64)",
});

const notificationsShape = {
  targets: z.unknown(),
  overdue_repeat: z.unknown(),
};

/** Below this, overdue reminders would be noise: a scan interval or two apart. */
const MIN_OVERDUE_REPEAT_MS = HOUR_MS;

function notificationsSchema() {
  return z
    .strictObject(
      {
        targets: z
          .record(targetName, targetSchema, {
            error: (i) =>
              i.code === "invalid_type" ? "must be a mapping of target names to targets" : undefined,
          })
          .default({}),
        // How often an overdue credential is reminded of again while it stays overdue; "off": only once.
        overdue_repeat: overdueRepeat().default(7 * DAY_MS),
      },
      { error: () => "must be a mapping (targets, overdue_repeat)" },
    )
    .prefault({})
    .transform((n) => ({
      overdueRepeatMs: n.overdue_repeat === "off" ? undefined : n.overdue_repeat,
      targets: Object.entries(n.targets).map(
        ([name, t]): ChatTargetConfig => ({
          name,
          type: t.type,
          url: keyed(t.url, `notifications.targets.${name}.url`),
          secret:
            t.secret === undefined ? undefined : keyed(t.secret, `notifications.targets.${name}.secret`),
          events: t.events ?? [...CHAT_EVENTS],
          allowInsecureHttp: t.allow_insecure_http,
        }),
      ),
    }));
}

/** A duration of at least 1h, or "off". */
function overdueRepeat() {
  const problem = 'must be a duration of at least 1h, such as 7d (or "off" for a single overdue message)';
  return z.string({ error: problem }).transform((s, ctx): number | "off" => {
    if (s.trim() === "off") return "off";
    const parsed = parseDuration(s);
    if (!parsed.ok || parsed.ms < MIN_OVERDUE_REPEAT_MS) {
      ctx.addIssue({ code: "custom", message: problem });
      return z.NEVER;
    }
    return parsed.ms;
  });
}

function keyed(ref: SecretRef, key: string): SecretRef {
  return { ...ref, key };
}

const syslogShape = {
  address: text().regex(/^(udp|tcp):\/\/(\[[0-9a-fA-F:.]+\]|[^\s:/[\]]+):[0-9]{1,5}$/, {
    error: "must be udp://HOST:PORT or tcp://HOST:PORT",
  }),
  app_name: text()
    .regex(/^[\x21-\x7e]{1,48}$/, { error: "must be 1-48 printable ASCII characters" })
    .default("eca-rotator"),
  facility: wholeNumber(0, 23).default(13),
};

const httpSinkShape = {
  url: z.unknown(),
  batch_size: wholeNumber(1, 1000).default(50),
  flush_interval: duration().default(1000),
  allow_insecure_http: bool().default(false),
};

const httpSinkSchema = z.strictObject(
  { ...httpSinkShape, url: secretRef() },
  { error: () => "must be a mapping (url, batch_size, flush_interval)" },
);

const serverShape = {
  listen: z.unknown(),
  api_tokens: z.unknown(),
  read_tokens: z.unknown(),
  allowed_hosts: z.unknown(),
  shutdown_timeout: duration().default(30_000),
  status_refresh: duration().default(30_000),
};

/** server.api_tokens (writes) or server.read_tokens (the GET routes): token name → secret reference. */
function apiTokensSchema(key: "api_tokens" | "read_tokens" = "api_tokens") {
  return z
    .record(targetName, secretRef(), {
      error: (i) =>
        i.code === "invalid_type" ? "must be a mapping of token names to secret references" : undefined,
    })
    .default({})
    .transform((m) =>
      Object.entries(m).map(([name, ref]) => ({ name, ref: keyed(ref, `server.${key}.${name}`) })),
    );
}

/**
 * The shortest API or read token accepted. 32 random hex characters are 128 bits: nothing an online guesser
 * gets near, while a word such as "dev-only-api-token" falls to a dictionary.
 */
export const MIN_HTTP_TOKEN_LENGTH = 32;

/**
 * The problem line for a resolved API or read token that is too short, naming its config key and never the
 * value (nor its length, which would narrow a guess); undefined when it is long enough.
 */
export function shortTokenProblem(key: string, token: SecretValue): string | undefined {
  if (token.reveal().length >= MIN_HTTP_TOKEN_LENGTH) return undefined;
  return `${key}: the token is shorter than ${MIN_HTTP_TOKEN_LENGTH} characters; make a random one with \`openssl rand -hex 32\``;
}

// A DNS name (letters, digits, '-', '_' in labels of at most 63), without scheme, port, path or wildcard.
const HOST_NAME =
  /^(?=.{1,253}\.?$)[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)*\.?$/;

/** server.allowed_hosts: host names the Host header may carry besides IP literals and localhost; lower-cased. */
function allowedHostsSchema() {
  return z
    .array(
      z
        .string({ error: "must be a host name" })
        .trim()
        .toLowerCase()
        .regex(HOST_NAME, {
          error: "must be a host name such as eca-rotator.eca-rotator.svc (no scheme, port, path or *)",
        })
        .transform((h) => h.replace(/\.$/, "")),
      { error: "must be a list of host names" },
    )
    .default([]);
}

/** Fractions of the org's daily API limit (Sforce-Limit-Info) at which new rotations slow down and stop. */
const apiBudgetShape = {
  slow_at: z.number({ error: "must be a fraction such as 0.5" }).gt(0).lt(1).default(0.5),
  stop_at: z.number({ error: "must be a fraction such as 0.9" }).gt(0).max(1).default(0.9),
};

/**
 * readers: the reader feed, learnt from Vault's audit device. `socket` is HOST:PORT (Vault's socket audit device
 * connects there) or unix:/PATH; `file` is the file audit device's log. The feed is believed because of where
 * it comes from, so a TCP address that is not loopback is refused unless allow_remote is true.
 */
const readersShape = {
  socket: text().optional(),
  socket_mode: oneOf(["0600", "0660"]).default("0600"),
  file: filePath().optional(),
  window: duration({ maxMs: 90 * DAY_MS }).default(DEFAULT_READERS_WINDOW_MS),
  ignore: z.array(text(), { error: "must be a list of display names" }).default([]),
  share_interval: duration({ maxMs: HOUR_MS }).default(10_000),
  allow_remote: bool().default(false),
};

const TCP_ADDRESS = /^(\[[0-9a-fA-F:.]+\]|[^\s:[\]/]+):([0-9]{1,5})$/;

function readersSchema() {
  return z
    .strictObject(readersShape, { error: () => "must be a mapping (socket, file, window, ...)" })
    .transform((r, ctx): ReadersConfig => {
      if (r.socket === undefined && r.file === undefined)
        ctx.addIssue({
          code: "custom",
          message: "needs readers.socket or readers.file (where audit lines come from)",
        });
      let socket: ReadersConfig["socket"];
      if (r.socket?.startsWith("unix:")) {
        const p = r.socket.slice("unix:".length);
        if (!p.startsWith("/"))
          ctx.addIssue({
            code: "custom",
            path: ["socket"],
            message: "unix: needs an absolute path, such as unix:/run/eca/audit.sock",
          });
        socket = { kind: "unix", path: p, mode: Number.parseInt(r.socket_mode, 8) };
      } else if (r.socket !== undefined) {
        const m = TCP_ADDRESS.exec(r.socket);
        const port = Number(m?.[2] ?? "-1");
        const host = (m?.[1] ?? "").replace(/^\[|\]$/g, "");
        if (m === null || port < 0 || port > 65_535) {
          ctx.addIssue({
            code: "custom",
            path: ["socket"],
            message: "must be HOST:PORT (such as 127.0.0.1:9201) or unix:/PATH",
          });
        } else if (!isLoopbackHost(m[1] ?? "") && !r.allow_remote) {
          ctx.addIssue({
            code: "custom",
            path: ["socket"],
            message:
              "is not a loopback address: anyone who can connect could forge reads, since the feed is trusted by where it comes from; use a loopback address or unix:/PATH, or set readers.allow_remote: true",
          });
        }
        socket = { kind: "tcp", host, port };
      }
      return {
        socket,
        file: r.file,
        windowMs: r.window,
        ignore: r.ignore,
        shareIntervalMs: r.share_interval,
        allowRemote: r.allow_remote,
      };
    })
    .optional();
}

const DEFAULT_KUBERNETES_JWT_FILE = "/var/run/secrets/kubernetes.io/serviceaccount/token";

export interface ConfigSchemaContext {
  /** The token from $BAO_TOKEN / $VAULT_TOKEN, used by method token when no token_file is configured. */
  readonly envToken: SecretValue | undefined;
}

const AUTH_METHODS = ["token", "approle", "kubernetes"] as const;

const vaultAuthShape = {
  method: oneOf(AUTH_METHODS).optional(),
  token_file: filePath().optional(),
  role_id: text().optional(),
  role_id_file: filePath().optional(),
  secret_id_file: filePath().optional(),
  secret_id_wrapped: bool().optional(),
  role: text().optional(),
  jwt_file: filePath().optional(),
  mount: kvPath().optional(),
};

const vaultTlsShape = {
  ca_cert: filePath().optional(),
  ca_path: filePath().optional(),
  client_cert: filePath().optional(),
  client_key: filePath().optional(),
  server_name: text().optional(),
  skip_verify: bool().optional(),
};

const vaultShape = {
  address: z.unknown(), // checked in vaultSchema: its "missing" message names the environment variables
  auth: z.unknown(),
  namespace: kvPath().optional(),
  tls: z.unknown(),
  timeout: duration({ maxMs: 10 * 60_000 }).default(10_000),
  max_retries: wholeNumber(0, 10).default(2),
  kv_mount: kvPath().default("secret"),
  prefixes: z
    .array(kvPath(), { error: "must be a list of KV paths" })
    .min(1, { error: "must not be empty" })
    .default(["api-credentials"]),
  state_prefix: kvPath().default("eca-rotator"),
  listing: oneOf(["auto", "detailed", "per-key"]).default("auto"),
  scan_concurrency: wholeNumber(1, 256).default(16),
  // Lets `address` be plain http:// to a host that is not loopback (refused otherwise: the token would travel
  // in clear). For a local demo network only.
  allow_insecure_http: bool().default(false),
};

const connectionShape = {
  // http:// to a host that is not loopback is refused in salesforceSchema, where the connection's name is known.
  my_domain_url: originUrl({ allowHttp: () => true, httpHint: "" }),
  api_version: apiVersion().default("v65.0"),
  credentials_path: kvPath(),
  auth: oneOf(["client_credentials", "jwt_bearer"]).default("client_credentials"),
  jwt_username: text().optional(),
  jwt_private_key_file: filePath().optional(),
  prefixes: kvPrefixList().optional(),
  allow_insecure_http: bool().default(false),
};

// Marketing Cloud tenants: the only auth hosts a Marketing Cloud secret is ever sent to (credentials choose one
// with `sfmc_tenant`). A real tenant's auth host is https://<subdomain>.auth.marketingcloudapis.com;
// allow_loopback_http admits a loopback host as well (http or https), for the simulator and tests.
const MC_AUTH_HOST = /^[a-z0-9-]+\.auth\.marketingcloudapis\.com$/;

const tenantShape = {
  auth_url: originUrl({ allowHttp: () => true, httpHint: "" }),
  allow_loopback_http: bool().default(false),
  prefixes: kvPrefixList().optional(),
};

/** The longest soak or retire_after: half the 30 days a staged (or rotated) set lives at Salesforce. */
const MAX_WAIT_MS = 14 * 86_400_000;

const rotationShape = {
  scan_interval: duration().default(60_000),
  // Capped well below the 30 days a staged set lives at Salesforce: a soak must end while the set exists.
  soak: duration({ allowZero: true, maxMs: MAX_WAIT_MS }).default(15 * 60_000),
  // Promotion by evidence (credentials override each with soak_until, soak_max, on_soak_max): `readers` promotes
  // once every reader of the credential has moved to the new pair, at the latest at soak_max.
  soak_until: oneOf(SOAK_UNTIL).default("time"),
  soak_max: duration({ maxMs: MAX_WAIT_MS }).default(24 * 3_600_000),
  on_soak_max: oneOf(ON_SOAK_MAX).default("promote"),
  verify_timeout: duration().default(10 * 60_000),
  concurrency: wholeNumber(1, 64).default(4),
  warning_window: duration({ allowZero: true }).default(14 * 86_400_000),
  stuck_after: duration().default(2 * 3_600_000),
  max_attempts: wholeNumber(1, 100).default(5),
  // How long a run of failed attempts may go on (Salesforce unavailable or rate-limited; anything past promotion).
  retry_budget: duration().default(4 * 3_600_000),
  lease_ttl: duration().optional(), // default DEFAULT_LEASE_TTL_MS, or LEASE_TTL_TIMEOUTS × vault.timeout
  retire_after: duration({ allowZero: true, maxMs: MAX_WAIT_MS }).default(0),
  api_budget: z.unknown(),
};

/**
 * A held lease is renewed every third of its TTL, and one renewal is a Vault write that ends (answered or timed
 * out) within vault.timeout. With lease_ttl at least LEASE_TTL_TIMEOUTS × vault.timeout, a renewal that hangs for
 * the whole timeout and fails still leaves a third of the lease for a second attempt, which also ends in time:
 * one slow or lost Vault answer never costs a live owner its lease.
 */
const LEASE_TTL_TIMEOUTS = 3;
/** 30 s: a dead owner's rotation is resumed soon after it died; it is LEASE_TTL_TIMEOUTS × the default vault.timeout. */
const DEFAULT_LEASE_TTL_MS = 30_000;

const auditShape = {
  file: filePath().optional(),
  fingerprint_key_file: filePath().optional(),
  chain_key: z.unknown(),
  syslog: z.unknown(),
  http: z.unknown(),
};

const rootShape = {
  vault: z.unknown(),
  salesforce: z.unknown(),
  rotation: z.unknown(),
  report: z.unknown(),
  audit: z.unknown(),
  server: z.unknown(),
  log: z.unknown(),
  notifications: z.unknown(),
  marketing_cloud: z.unknown(),
  readers: z.unknown(),
};

/** Known keys per object, for "did you mean" hints. `*` stands for a connection name. */
export const KNOWN_KEYS: Readonly<Record<string, readonly string[]>> = {
  "": Object.keys(rootShape),
  vault: Object.keys(vaultShape),
  "vault.auth": Object.keys(vaultAuthShape),
  "vault.tls": Object.keys(vaultTlsShape),
  salesforce: ["connections"],
  "salesforce.connections.*": Object.keys(connectionShape),
  marketing_cloud: ["tenants"],
  "marketing_cloud.tenants.*": Object.keys(tenantShape),
  rotation: Object.keys(rotationShape),
  report: ["schedule"],
  audit: Object.keys(auditShape),
  "audit.syslog": Object.keys(syslogShape),
  "audit.http": Object.keys(httpSinkShape),
  server: Object.keys(serverShape),
  notifications: Object.keys(notificationsShape),
  "notifications.targets.*": TARGET_KEYS,
  "rotation.api_budget": Object.keys(apiBudgetShape),
  log: ["level"],
  readers: Object.keys(readersShape),
};

/**
 * audit.chain_key, keyed with its config key. It is the file's HMAC key: useless without audit.file, and no
 * protection when it sits beside the log, since whoever can write the log's folder can read what is in it.
 * Start-up repeats the folder check with symbolic links resolved (src/daemon/secret-refs.ts).
 */
function chainKeyOf(
  ref: SecretRef | undefined,
  file: string | undefined,
  zctx: z.core.$RefinementCtx,
): SecretRef | undefined {
  if (ref === undefined) return undefined;
  const issue = (message: string) => zctx.addIssue({ code: "custom", path: ["chain_key"], message });
  if (file === undefined) issue("is only used with audit.file (it keys the file's hash chain)");
  else if (ref.kind === "file") {
    const logDir = path.dirname(path.resolve(file));
    if (isWithin(path.dirname(path.resolve(ref.path)), logDir))
      issue(
        `must not be a file in the audit file's folder ${logDir}: keep the key away from the log (another folder, or {vault: ...})`,
      );
  }
  return keyed(ref, "audit.chain_key");
}

/** `dir` is `folder` or lies under it (both absolute). */
export function isWithin(dir: string, folder: string): boolean {
  const rel = path.relative(folder, dir);
  return rel === "" || (rel !== ".." && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel));
}

function section<S extends z.ZodRawShape>(shape: S) {
  // An absent section parses as {} so its defaults (and required-key messages) apply.
  return z.strictObject(shape, { error: expectedMapping }).prefault({} as never);
}

function expectedMapping(issue: { input?: unknown }): string | undefined {
  return issue.input === undefined ? undefined : "must be a mapping (key: value)";
}

function vaultAuthSchema(ctx: ConfigSchemaContext) {
  return section(vaultAuthShape).transform((a, zctx): VaultAuthConfig => {
    const method = a.method ?? "token";
    const problem = (key: string, message: string) =>
      zctx.addIssue({ code: "custom", path: key === "" ? [] : [key], message });
    const onlyFor: Record<string, string> = {
      token_file: "token",
      role_id: "approle",
      role_id_file: "approle",
      secret_id_file: "approle",
      secret_id_wrapped: "approle",
      role: "kubernetes",
      jwt_file: "kubernetes",
      mount: "approle or kubernetes",
    };
    for (const [key, owner] of Object.entries(onlyFor)) {
      if ((a as Record<string, unknown>)[key] !== undefined && !owner.split(" or ").includes(method)) {
        problem(key, `is only used with method ${owner}`);
      }
    }
    switch (method) {
      case "token":
        if (a.token_file === undefined && ctx.envToken === undefined) {
          problem("", "method token needs a token: set vault.auth.token_file, or VAULT_TOKEN / BAO_TOKEN");
        }
        return {
          method,
          token: a.token_file === undefined ? ctx.envToken : undefined,
          tokenFile: a.token_file,
        };
      case "approle":
        if (a.secret_id_file === undefined) problem("secret_id_file", "is required for method approle");
        if (a.role_id === undefined && a.role_id_file === undefined) {
          problem("", "method approle needs role_id or role_id_file");
        }
        if (a.role_id !== undefined && a.role_id_file !== undefined) {
          problem("role_id_file", "set only one of role_id and role_id_file");
        }
        return {
          method,
          mount: a.mount ?? "approle",
          roleId: a.role_id,
          roleIdFile: a.role_id_file,
          secretIdFile: a.secret_id_file ?? "",
          secretIdWrapped: a.secret_id_wrapped ?? false,
        };
      case "kubernetes":
        if (a.role === undefined) problem("role", "is required for method kubernetes");
        return {
          method,
          mount: a.mount ?? "kubernetes",
          role: a.role ?? "",
          jwtFile: a.jwt_file ?? DEFAULT_KUBERNETES_JWT_FILE,
        };
    }
  });
}

const vaultAddress = z
  .string({
    error: (i) =>
      i.input === undefined
        ? "is not set: set it in the config file, or VAULT_ADDR / BAO_ADDR"
        : "must be a string",
  })
  .pipe(originUrl({ allowHttp: () => true, httpHint: "" }));

function vaultSchema(ctx: ConfigSchemaContext) {
  return section({
    ...vaultShape,
    address: vaultAddress,
    auth: vaultAuthSchema(ctx),
    tls: section(vaultTlsShape),
  })
    .superRefine((v, zctx) => {
      // Prefixes are scanned recursively: a nested one would list its entries twice, and state entries
      // inside a scanned prefix would show up as credentials. Paths are named by key, never by value.
      const within = (a: string, b: string) => a === b || a.startsWith(`${b}/`);
      v.prefixes.forEach((p, i) => {
        const j = v.prefixes.findIndex((q, k) => k !== i && within(p, q) && (p !== q || k < i));
        if (j >= 0) {
          zctx.addIssue({
            code: "custom",
            path: ["prefixes", i],
            message: `lies inside vault.prefixes[${j}] (prefixes are scanned recursively)`,
          });
        }
        if (within(v.state_prefix, p) || within(p, v.state_prefix)) {
          zctx.addIssue({
            code: "custom",
            path: ["state_prefix"],
            message: `must not overlap vault.prefixes[${i}]: the rotator's own state would be scanned as credentials`,
          });
        }
      });
      if (isPlainHttpToRemote(v.address) && !v.allow_insecure_http) {
        zctx.addIssue({
          code: "custom",
          path: ["address"],
          message: plainHttpRefusal("the Vault token", "vault.allow_insecure_http"),
        });
      }
    })
    .transform((v) => ({
      address: v.address,
      namespace: v.namespace,
      auth: v.auth,
      tls: {
        caCertFile: v.tls.ca_cert,
        caPath: v.tls.ca_path,
        clientCertFile: v.tls.client_cert,
        clientKeyFile: v.tls.client_key,
        serverName: v.tls.server_name,
        skipVerify: v.tls.skip_verify ?? false,
      },
      timeoutMs: v.timeout,
      maxRetries: v.max_retries,
      kvMount: v.kv_mount,
      prefixes: v.prefixes,
      statePrefix: v.state_prefix,
      listing: v.listing,
      scanConcurrency: v.scan_concurrency,
      allowInsecureHttp: v.allow_insecure_http,
    }));
}

const connectionSchema = z
  .strictObject(connectionShape, { error: expectedMapping })
  .superRefine((c, zctx) => {
    if (c.auth === "jwt_bearer") {
      for (const key of ["jwt_username", "jwt_private_key_file"] as const) {
        if (c[key] === undefined)
          zctx.addIssue({ code: "custom", path: [key], message: "is required for auth jwt_bearer" });
      }
    } else {
      for (const key of ["jwt_username", "jwt_private_key_file"] as const) {
        if (c[key] !== undefined)
          zctx.addIssue({ code: "custom", path: [key], message: "is only used with auth jwt_bearer" });
      }
    }
  });

const salesforceSchema = section({
  connections: z
    .record(
      z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, {
        error: "connection names use letters, digits, '.', '_' and '-' (at most 64)",
      }),
      connectionSchema,
      {
        error: (i) =>
          i.code === "invalid_type" ? "must be a mapping of connection names to connections" : undefined,
      },
    )
    .default({}),
})
  .superRefine(({ connections }, zctx) => {
    for (const [name, c] of Object.entries(connections)) {
      if (isPlainHttpToRemote(c.my_domain_url) && !c.allow_insecure_http) {
        zctx.addIssue({
          code: "custom",
          path: ["connections", name, "my_domain_url"],
          message: plainHttpRefusal(
            "the admin app's secret and tokens",
            `salesforce.connections.${name}.allow_insecure_http`,
          ),
        });
      }
    }
  })
  .transform(({ connections }) => ({
    connections: Object.entries(connections).map(
      ([name, c]): SalesforceConnectionConfig => ({
        name,
        myDomainUrl: c.my_domain_url,
        apiVersion: c.api_version,
        credentialsPath: c.credentials_path,
        auth: c.auth,
        jwtUsername: c.jwt_username,
        jwtPrivateKeyFile: c.jwt_private_key_file,
        prefixes: c.prefixes,
        allowInsecureHttp: c.allow_insecure_http,
      }),
    ),
  }));

const tenantSchema = z.strictObject(tenantShape, { error: expectedMapping }).superRefine((t, zctx) => {
  const url = new URL(t.auth_url);
  const loopback = isLoopbackHost(url.hostname);
  if (url.protocol === "https:" && MC_AUTH_HOST.test(url.hostname)) return;
  if (t.allow_loopback_http && loopback) return;
  zctx.addIssue({
    code: "custom",
    path: ["auth_url"],
    message: loopback
      ? "is a loopback address: set allow_loopback_http: true for the simulator or tests"
      : "must be https://<subdomain>.auth.marketingcloudapis.com (a secret is sent there)",
  });
});

const marketingCloudSchema = section({
  tenants: z
    .record(
      z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, {
        error: "tenant names use letters, digits, '.', '_' and '-' (at most 64)",
      }),
      tenantSchema,
      {
        error: (i) =>
          i.code === "invalid_type" ? "must be a mapping of tenant names to tenants" : undefined,
      },
    )
    .default({}),
}).transform(({ tenants }) => ({
  tenants: Object.entries(tenants).map(
    ([name, t]): MarketingCloudTenantConfig => ({
      name,
      authUrl: t.auth_url,
      allowLoopbackHttp: t.allow_loopback_http,
      prefixes: t.prefixes,
    }),
  ),
}));

/** A non-empty list of KV paths (a connection's or tenant's allowed prefixes). */
function kvPrefixList() {
  return z
    .array(kvPath(), { error: "must be a list of KV paths" })
    .min(1, { error: "must not be empty (leave it out to allow every prefix)" });
}

const rotationSchema = section({
  ...rotationShape,
  api_budget: section(apiBudgetShape).superRefine((b, zctx) => {
    if (b.stop_at <= b.slow_at)
      zctx.addIssue({
        code: "custom",
        path: ["stop_at"],
        message: "must be greater than rotation.api_budget.slow_at",
      });
  }),
})
  .superRefine((r, zctx) => {
    // The first retry waits about one scan_interval: a shorter budget would never see one. A staged set
    // expires after 30 days, and an outage of a week is one for a person.
    if (r.retry_budget < r.scan_interval) {
      zctx.addIssue({
        code: "custom",
        path: ["retry_budget"],
        message: "must be at least rotation.scan_interval (the first retry waits about that long)",
      });
    } else if (r.retry_budget > 7 * 86_400_000) {
      zctx.addIssue({ code: "custom", path: ["retry_budget"], message: "must be at most 7d" });
    }
    if (r.soak_max < r.soak) {
      zctx.addIssue({ code: "custom", path: ["soak_max"], message: "must be at least rotation.soak" });
    }
  })
  .transform((r) => ({
    scanIntervalMs: r.scan_interval,
    soakMs: r.soak,
    soakUntil: r.soak_until,
    soakMaxMs: r.soak_max,
    onSoakMax: r.on_soak_max,
    verifyTimeoutMs: r.verify_timeout,
    concurrency: r.concurrency,
    warningWindowMs: r.warning_window,
    stuckAfterMs: r.stuck_after,
    maxAttempts: r.max_attempts,
    retryBudgetMs: r.retry_budget,
    // Resolved against vault.timeout once both sections parsed (configFileSchema).
    leaseTtlMs: r.lease_ttl,
    retireAfterMs: r.retire_after,
    apiBudget: { slowAt: r.api_budget.slow_at, stopAt: r.api_budget.stop_at },
  }));

/** The whole file. Built per load because the token from the environment takes part in validation. */
export function configFileSchema(ctx: ConfigSchemaContext) {
  return z
    .strictObject(
      {
        vault: vaultSchema(ctx),
        salesforce: salesforceSchema,
        marketing_cloud: marketingCloudSchema,
        rotation: rotationSchema,
        // "off": the daemon sends no weekly report (a CronJob running `report --send` does instead).
        report: section({
          schedule: z.union([z.literal("off"), cronSchedule()]).default("0 9 * * 1"),
        }).transform((r) => ({ schedule: r.schedule === "off" ? undefined : r.schedule })),
        audit: section({
          ...auditShape,
          chain_key: secretRef().optional(),
          syslog: z.strictObject(syslogShape, { error: expectedMapping }).optional(),
          http: httpSinkSchema.optional(),
        }).transform((a, zctx) => ({
          file: a.file,
          fingerprintKeyFile: a.fingerprint_key_file,
          chainKey: chainKeyOf(a.chain_key, a.file, zctx),
          syslog:
            a.syslog === undefined
              ? undefined
              : (() => {
                  const m = /^(udp|tcp):\/\/\[?([^\]]+?)\]?:(\d+)$/.exec(a.syslog.address);
                  return {
                    transport: (m?.[1] ?? "udp") as "udp" | "tcp",
                    host: m?.[2] ?? "",
                    port: Number(m?.[3] ?? 0),
                    appName: a.syslog.app_name,
                    facility: a.syslog.facility,
                  };
                })(),
          http:
            a.http === undefined
              ? undefined
              : {
                  url: keyed(a.http.url, "audit.http.url"),
                  batchSize: a.http.batch_size,
                  flushIntervalMs: a.http.flush_interval,
                  allowInsecureHttp: a.http.allow_insecure_http,
                },
        })),
        server: section({
          ...serverShape,
          listen: listenAddress().default("127.0.0.1:8080"),
          api_tokens: apiTokensSchema(),
          read_tokens: apiTokensSchema("read_tokens"),
          allowed_hosts: allowedHostsSchema(),
        }).transform((s) => ({
          listen: s.listen,
          apiTokens: s.api_tokens,
          readTokens: s.read_tokens,
          allowedHosts: s.allowed_hosts,
          shutdownTimeoutMs: s.shutdown_timeout,
          statusRefreshMs: s.status_refresh,
        })),
        notifications: notificationsSchema(),
        readers: readersSchema(),
        log: section({ level: oneOf(["fatal", "error", "warn", "info", "debug", "trace"]).default("info") }),
      },
      { error: () => "the config file must be a YAML mapping (key: value) at the top level" },
    )
    .transform(({ marketing_cloud, rotation, ...rest }, zctx) => {
      // A destination's prefixes outside every scanned prefix could never match a credential: surely a typo.
      // (A transform runs only once every section parsed, so the sections are whole here.)
      const scanned = (p: string) => rest.vault.prefixes.some((v) => p === v || p.startsWith(`${v}/`));
      const check = (section: string, name: string, prefixes: readonly string[] | undefined) =>
        prefixes?.forEach((p, i) => {
          if (!scanned(p))
            zctx.addIssue({
              code: "custom",
              path: [...section.split("."), name, "prefixes", i],
              message: "lies outside vault.prefixes, so no credential could use it",
            });
        });
      for (const conn of rest.salesforce.connections)
        check("salesforce.connections", conn.name, conn.prefixes);
      for (const t of marketing_cloud.tenants) check("marketing_cloud.tenants", t.name, t.prefixes);
      return {
        ...rest,
        rotation: { ...rotation, leaseTtlMs: leaseTtl(rotation.leaseTtlMs, rest.vault, zctx) },
        marketingCloud: marketing_cloud,
      };
    }) satisfies z.ZodType<Omit<Config, "sources" | "origins">>;
}

/** rotation.lease_ttl, or its default, checked against vault.timeout (see LEASE_TTL_TIMEOUTS). */
function leaseTtl(set: number | undefined, vault: { timeoutMs: number }, zctx: z.RefinementCtx): number {
  const floor = LEASE_TTL_TIMEOUTS * vault.timeoutMs;
  if (set === undefined) return Math.max(DEFAULT_LEASE_TTL_MS, floor);
  if (set < floor) {
    zctx.addIssue({
      code: "custom",
      path: ["rotation", "lease_ttl"],
      message: `must be at least ${LEASE_TTL_TIMEOUTS} × vault.timeout (${formatExactDuration(floor)}): the lease is renewed every third of it, and a renewal that waits vault.timeout for Vault and fails must leave time for a second one`,
    });
  }
  return set;
}
