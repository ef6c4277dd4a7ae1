// The YAML configuration file as a zod 4 schema, snake_case keys exactly as users write
// them. Every object is strict: an unknown key is an error (load-config.ts adds a "did you mean" hint), because a
// typo such as `adress` would otherwise be silently ignored. The output is the normalised Config (minus sources).
// Vault's standard environment variables are merged into the input before parsing (see load-config.ts); the only
// value the file cannot hold, the token, reaches the schema through the context.
import path from "node:path";
import { z } from "zod";
import { ON_SOAK_MAX, SOAK_UNTIL } from "../core/inventory/policy-fields.ts";
import type { SecretValue } from "../core/secret-value.ts";
import { formatExactDuration } from "../core/time.ts";
import {
  apiVersion,
  bool,
  cronSchedule,
  duration,
  filePath,
  isLoopbackHost,
  isPlainHttpToRemote,
  kvPath,
  listenAddress,
  oneOf,
  originUrl,
  plainHttpRefusal,
  text,
  wholeNumber,
} from "./config-fields.ts";
import type {
  Config,
  MarketingCloudTenantConfig,
  SalesforceConnectionConfig,
  SecretRef,
  VaultAuthConfig,
} from "./config-types.ts";
import {
  allowedHostsSchema,
  apiBudgetShape,
  apiTokensSchema,
  httpSinkSchema,
  httpSinkShape,
  keyed,
  notificationsSchema,
  notificationsShape,
  readersSchema,
  readersShape,
  secretRef,
  serverShape,
  syslogShape,
  TARGET_KEYS,
} from "./daemon-sections.ts";

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
