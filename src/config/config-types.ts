// The validated, normalised configuration every other module receives. load-config.ts builds it from the
// YAML file, Vault's standard variables (VAULT_* with BAO_* taking precedence, as the
// OpenBao client does) and defaults. Durations are milliseconds; secrets are SecretValue; paths are plain
// strings without leading or trailing slashes.
import type { OnSoakMax, SoakUntil } from "../core/inventory/policy-fields.ts";
import type { SecretValue } from "../core/secret-value.ts";

export type VaultAuthConfig =
  | {
      readonly method: "token";
      /** From vault.auth.token_file (re-read on every use), else $BAO_TOKEN / $VAULT_TOKEN. */
      readonly token: SecretValue | undefined;
      readonly tokenFile: string | undefined;
    }
  | {
      readonly method: "approle";
      readonly mount: string; // default "approle"
      readonly roleId: string | undefined; // role_id, or read from role_id_file
      readonly roleIdFile: string | undefined;
      readonly secretIdFile: string; // required; re-read on every login
      /** The file holds a response-wrapping token that unwraps (once) to the secret id. */
      readonly secretIdWrapped: boolean;
    }
  | {
      readonly method: "kubernetes";
      readonly mount: string; // default "kubernetes"
      readonly role: string;
      readonly jwtFile: string; // default /var/run/secrets/kubernetes.io/serviceaccount/token; re-read on every login
    };

export interface VaultTlsConfig {
  readonly caCertFile: string | undefined; // $VAULT_CACERT
  readonly caPath: string | undefined; // $VAULT_CAPATH: a folder of PEM files
  readonly clientCertFile: string | undefined; // $VAULT_CLIENT_CERT
  readonly clientKeyFile: string | undefined; // $VAULT_CLIENT_KEY
  readonly serverName: string | undefined; // $VAULT_TLS_SERVER_NAME
  readonly skipVerify: boolean; // $VAULT_SKIP_VERIFY; default false
}

interface VaultConfig {
  readonly address: string; // URL without trailing slash
  readonly namespace: string | undefined;
  readonly auth: VaultAuthConfig;
  readonly tls: VaultTlsConfig;
  readonly timeoutMs: number; // per request; default 10_000 ($VAULT_CLIENT_TIMEOUT)
  readonly maxRetries: number; // idempotent requests only; default 2 ($VAULT_MAX_RETRIES)
  readonly kvMount: string; // default "secret"
  readonly prefixes: readonly string[]; // default ["api-credentials"]
  readonly statePrefix: string; // default "eca-rotator"
  /** How a scan reads metadata: OpenBao's detailed-metadata LIST when available (auto), or one GET per key. */
  readonly listing: "auto" | "detailed" | "per-key";
  readonly scanConcurrency: number; // parallel metadata reads; default 16
  /** vault.allow_insecure_http: plain http:// to a host that is not loopback is accepted; default false. */
  readonly allowInsecureHttp: boolean;
}

export interface SalesforceConnectionConfig {
  readonly name: string;
  readonly myDomainUrl: string;
  readonly apiVersion: string; // "v65.0"
  readonly credentialsPath: string; // KV path (under kv_mount) holding client_id and client_secret
  readonly auth: "client_credentials" | "jwt_bearer";
  readonly jwtUsername: string | undefined;
  readonly jwtPrivateKeyFile: string | undefined;
  /** When set, only credentials under one of these KV prefixes may use this connection. */
  readonly prefixes: readonly string[] | undefined;
  /** allow_insecure_http: my_domain_url may be plain http:// to a host that is not loopback; default false. */
  readonly allowInsecureHttp: boolean;
}

/** A Marketing Cloud tenant: the only auth host its credentials' secrets are sent to. */
export interface MarketingCloudTenantConfig {
  readonly name: string;
  /** Origin of the tenant's auth host (https://<subdomain>.auth.marketingcloudapis.com); v2/token is appended. */
  readonly authUrl: string;
  /** A loopback auth host (http or https) is allowed: the simulator and tests. */
  readonly allowLoopbackHttp: boolean;
  /** When set, only credentials under one of these KV prefixes may use this tenant. */
  readonly prefixes: readonly string[] | undefined;
}

interface RotationConfig {
  readonly scanIntervalMs: number; // default 60s
  readonly soakMs: number; // default 15m
  readonly soakUntil: SoakUntil; // default time: what ends a standard soak (readers: evidence, up to soakMaxMs)
  readonly soakMaxMs: number; // default 24h: the longest a soak_until=readers soak waits
  readonly onSoakMax: OnSoakMax; // default promote: what happens at soak_max with readers still lagging
  readonly verifyTimeoutMs: number; // default 10m
  readonly concurrency: number; // default 4
  readonly warningWindowMs: number; // default 14d: used when a credential has no warning_window
  readonly stuckAfterMs: number; // default 2h: an in_progress rotation older than this is reported as stuck
  readonly maxAttempts: number; // default 5: failed attempts of one step before rotation_state=failed
  readonly retryBudgetMs: number; // default 4h: how long failed attempts are retried with backoff (outages, past promotion)
  readonly leaseTtlMs: number; // default 30s (or 3 × vault.timeout when longer); renewed every third while held
  readonly retireAfterMs: number; // default 0: how long the old pair may live after promotion (standard mode)
  /** Fractions of a connection's daily API limit: above slowAt one new rotation per connection and cycle, above stopAt none (emergencies still run). */
  readonly apiBudget: { readonly slowAt: number; readonly stopAt: number };
}

interface ReportConfig {
  readonly schedule: string | undefined; // cron, UTC; default "0 9 * * 1"; undefined: "off"
}

/** A secret the file names but never holds (config-schema.ts); `key` is the config key it came from. */
export type SecretRef =
  | { readonly kind: "file"; readonly path: string; readonly key: string }
  | { readonly kind: "env"; readonly name: string; readonly key: string }
  | { readonly kind: "vault"; readonly path: string; readonly field: string; readonly key: string };

export interface ChatTargetConfig {
  readonly name: string;
  readonly type: "slack" | "teams" | "webhook";
  readonly url: SecretRef;
  /** HMAC key; type webhook only (required there). */
  readonly secret: SecretRef | undefined;
  /** Which events this target gets; default all. */
  readonly events: readonly string[];
  /** allow_insecure_http: the resolved URL may be plain http:// to a host that is not loopback; default false. */
  readonly allowInsecureHttp: boolean;
}

interface NotificationsConfig {
  /** due_soon goes out once per credential and deadline; overdue once at the deadline, then per overdueRepeatMs. */
  readonly targets: readonly ChatTargetConfig[];
  /**
   * notifications.overdue_repeat (default 7d): an overdue credential is reminded of again each time this much
   * more has passed since its deadline. undefined ("off"): one overdue message per deadline.
   */
  readonly overdueRepeatMs: number | undefined;
}

interface SyslogSinkConfig {
  readonly transport: "udp" | "tcp";
  readonly host: string;
  readonly port: number;
  readonly appName: string;
  readonly facility: number;
}

interface HttpAuditSinkConfig {
  readonly url: SecretRef;
  readonly batchSize: number;
  readonly flushIntervalMs: number;
  /** allow_insecure_http: the resolved URL may be plain http:// to a host that is not loopback; default false. */
  readonly allowInsecureHttp: boolean;
}

export interface AuditConfig {
  readonly file: string | undefined;
  readonly syslog: SyslogSinkConfig | undefined;
  readonly http: HttpAuditSinkConfig | undefined;
  /** HMAC key for consumer-key fingerprints; without it a per-installation key is kept in KV (app/compose.ts). */
  readonly fingerprintKeyFile: string | undefined;
  /** audit.chain_key: the file's hash chain is keyed (HMAC-SHA256) with it; only with `file`. */
  readonly chainKey?: SecretRef | undefined;
}

interface ServerConfig {
  readonly listen: string; // host:port; default 127.0.0.1:8080
  /** Bearer tokens for POST /v1/credentials/{path}/rotate; none = writes refused. They also read. */
  readonly apiTokens: readonly { readonly name: string; readonly ref: SecretRef }[];
  /** Tokens for the GET routes except /healthz and /readyz; none = those routes are open (the default). */
  readonly readTokens: readonly { readonly name: string; readonly ref: SecretRef }[];
  /** Host names the Host header may carry besides IP literals, localhost and server.listen's host; lower case. */
  readonly allowedHosts: readonly string[];
  /** SIGTERM: how long in-flight steps may take to reach a safe point; default 30s. */
  readonly shutdownTimeoutMs: number;
  /** The status page's auto-refresh; default 30s. */
  readonly statusRefreshMs: number;
}

/** readers: the reader feed from Vault's audit device; undefined (no section) = no feed. */
export interface ReadersConfig {
  /** Where Vault's socket audit device connects: TCP (loopback unless allowRemote) or a unix socket. */
  readonly socket:
    | { readonly kind: "tcp"; readonly host: string; readonly port: number }
    | { readonly kind: "unix"; readonly path: string; readonly mode: number }
    | undefined;
  /** A file audit device's log, followed from its end. */
  readonly file: string | undefined;
  /** How far back a read makes its reader count; default 7d. */
  readonly windowMs: number;
  /** Display names whose reads are not counted. */
  readonly ignore: readonly string[];
  /** How often this replica writes what it saw to the shared entries; default 10s. */
  readonly shareIntervalMs: number;
  readonly allowRemote: boolean;
}

interface LogConfig {
  readonly level: "fatal" | "error" | "warn" | "info" | "debug" | "trace";
}

export interface Config {
  readonly vault: VaultConfig;
  readonly salesforce: { readonly connections: readonly SalesforceConnectionConfig[] };
  readonly marketingCloud: { readonly tenants: readonly MarketingCloudTenantConfig[] };
  readonly rotation: RotationConfig;
  readonly report: ReportConfig;
  readonly audit: AuditConfig;
  readonly server: ServerConfig;
  readonly log: LogConfig;
  readonly notifications: NotificationsConfig;
  /** Optional so hand-built test configs need not set it. */
  readonly readers?: ReadersConfig | undefined;
  /**
   * Where the config came from, for `check`: "file /etc/eca-rotator.yaml", then one "env NAME" per variable
   * that supplied a value (names only, never values).
   */
  readonly sources: readonly string[];
  /**
   * Which source set each key, by file key path ("vault.address" → "file" | "env BAO_ADDR"; the token is
   * "vault.auth.token"). Keys not listed took their default. Optional so hand-built test configs need not set it.
   */
  readonly origins?: Readonly<Record<string, string>>;
}
