// The redacted summary `check` prints: each setting with the source that set it. Secrets (the token, the
// AppRole role id) are shown only as "set"; paths, names and the address are shown because they are validated
// not to carry credentials (an address with a user, password or query is refused).
import { formatExactDuration } from "../core/time.ts";
import { isPlainHttpToRemote } from "./config-schema.ts";
import type { Config, VaultAuthConfig } from "./config-types.ts";

export function summarizeConfig(cfg: Config): string {
  const origins = cfg.origins ?? {};
  const lines: string[] = [`sources: ${cfg.sources.length === 0 ? "defaults only" : cfg.sources.join(", ")}`];
  const add = (key: string, shown: string | undefined) => {
    const origin = origins[key];
    const from =
      origin === undefined ? "default" : origin === "file" ? "file" : `from ${origin.replace(/^env /, "")}`;
    lines.push(shown === undefined ? `${key}: not set` : `${key}: ${shown} (${from})`);
  };
  const v = cfg.vault;
  add("vault.address", v.address);
  add("vault.namespace", v.namespace);
  addAuth(v.auth, add);
  add("vault.tls.ca_cert", v.tls.caCertFile);
  add("vault.tls.ca_path", v.tls.caPath);
  add("vault.tls.client_cert", v.tls.clientCertFile);
  add("vault.tls.client_key", v.tls.clientKeyFile);
  add("vault.tls.server_name", v.tls.serverName);
  add("vault.tls.skip_verify", v.tls.skipVerify ? "true (TLS verification is OFF)" : "false");
  add("vault.timeout", formatExactDuration(v.timeoutMs));
  add("vault.max_retries", String(v.maxRetries));
  add("vault.kv_mount", v.kvMount);
  add("vault.prefixes", v.prefixes.join(", "));
  add("vault.state_prefix", v.statePrefix);
  add("vault.listing", v.listing);
  add("vault.scan_concurrency", String(v.scanConcurrency));
  add("vault.allow_insecure_http", String(v.allowInsecureHttp));
  if (cfg.salesforce.connections.length === 0) lines.push("salesforce.connections: none");
  for (const c of cfg.salesforce.connections) {
    const at = `salesforce.connections.${c.name}`;
    add(`${at}.my_domain_url`, c.myDomainUrl);
    add(`${at}.api_version`, c.apiVersion);
    add(`${at}.credentials_path`, c.credentialsPath);
    add(`${at}.auth`, c.auth);
    add(`${at}.allow_insecure_http`, String(c.allowInsecureHttp));
    if (c.auth === "jwt_bearer") {
      add(`${at}.jwt_username`, c.jwtUsername);
      add(`${at}.jwt_private_key_file`, c.jwtPrivateKeyFile);
    }
    add(`${at}.prefixes`, c.prefixes?.join(", ") ?? "any (every path under vault.prefixes)");
  }
  if (cfg.marketingCloud.tenants.length === 0) lines.push("marketing_cloud.tenants: none");
  for (const t of cfg.marketingCloud.tenants) {
    const at = `marketing_cloud.tenants.${t.name}`;
    add(`${at}.auth_url`, t.authUrl);
    add(`${at}.allow_loopback_http`, String(t.allowLoopbackHttp));
    add(`${at}.prefixes`, t.prefixes?.join(", ") ?? "any (every path under vault.prefixes)");
  }
  const r = cfg.rotation;
  add("rotation.scan_interval", formatExactDuration(r.scanIntervalMs));
  add("rotation.soak", formatExactDuration(r.soakMs));
  add("rotation.soak_until", r.soakUntil);
  add("rotation.soak_max", formatExactDuration(r.soakMaxMs));
  add("rotation.on_soak_max", r.onSoakMax);
  add("rotation.verify_timeout", formatExactDuration(r.verifyTimeoutMs));
  add("rotation.concurrency", String(r.concurrency));
  add("rotation.warning_window", formatExactDuration(r.warningWindowMs));
  add("rotation.stuck_after", formatExactDuration(r.stuckAfterMs));
  add("rotation.max_attempts", String(r.maxAttempts));
  add("rotation.retry_budget", formatExactDuration(r.retryBudgetMs));
  add("rotation.lease_ttl", formatExactDuration(r.leaseTtlMs));
  add("rotation.retire_after", formatExactDuration(r.retireAfterMs));
  add("report.schedule", cfg.report.schedule ?? "off"); // cron, evaluated in UTC
  add("audit.file", cfg.audit.file);
  add("audit.fingerprint_key_file", cfg.audit.fingerprintKeyFile); // not set: a per-installation key in KV
  // A secret reference: where the key is read from, never the key. Only the file sets it.
  const ck = cfg.audit.chainKey;
  lines.push(
    ck === undefined
      ? "audit.chain_key: not set"
      : `audit.chain_key: ${ck.kind === "file" ? `{file: ${ck.path}}` : ck.kind === "env" ? `{env: ${ck.name}}` : `{vault: ${ck.path}#${ck.field}}`} (file)`,
  );
  add("server.listen", cfg.server.listen);
  // Token names only: the values stay behind their references.
  const tokens = (key: string, list: readonly { name: string }[], none: string) =>
    lines.push(
      `${key}: ${list.length === 0 ? `none (${none})` : `${list.map((t) => t.name).join(", ")} (file)`}`,
    );
  tokens("server.api_tokens", cfg.server.apiTokens, "writes are refused");
  tokens("server.read_tokens", cfg.server.readTokens, "the GET routes are open");
  add(
    "server.allowed_hosts",
    cfg.server.allowedHosts.length === 0 ? undefined : cfg.server.allowedHosts.join(", "),
  );
  add("log.level", cfg.log.level);
  const rd = cfg.readers;
  if (rd === undefined) lines.push("readers: not set (no reader feed)");
  else {
    const sock = rd.socket;
    add(
      "readers.socket",
      sock === undefined
        ? undefined
        : sock.kind === "unix"
          ? `unix:${sock.path} (mode ${sock.mode.toString(8).padStart(4, "0")})`
          : `${sock.host.includes(":") ? `[${sock.host}]` : sock.host}:${sock.port}`,
    );
    add("readers.file", rd.file);
    add("readers.window", formatExactDuration(rd.windowMs));
    add("readers.ignore", rd.ignore.length === 0 ? undefined : rd.ignore.join(", "));
    add("readers.share_interval", formatExactDuration(rd.shareIntervalMs));
    add("readers.allow_remote", String(rd.allowRemote));
  }
  return lines.join("\n");
}

function addAuth(auth: VaultAuthConfig, add: (key: string, shown: string | undefined) => void): void {
  add("vault.auth.method", auth.method);
  switch (auth.method) {
    case "token":
      if (auth.tokenFile !== undefined)
        add("vault.auth.token_file", `${auth.tokenFile} (re-read on every use)`);
      else add("vault.auth.token", auth.token === undefined ? undefined : "set");
      break;
    case "approle":
      add("vault.auth.mount", auth.mount);
      if (auth.roleIdFile !== undefined) add("vault.auth.role_id_file", auth.roleIdFile);
      else add("vault.auth.role_id", auth.roleId === undefined ? undefined : "set");
      add("vault.auth.secret_id_file", auth.secretIdFile);
      add("vault.auth.secret_id_wrapped", String(auth.secretIdWrapped));
      break;
    case "kubernetes":
      add("vault.auth.mount", auth.mount);
      add("vault.auth.role", auth.role);
      add("vault.auth.jwt_file", auth.jwtFile);
      break;
  }
}

export interface TransportWarning {
  /** The config key that weakens transport security. */
  readonly key: string;
  readonly text: string;
}

/**
 * What the configuration itself says about weakened transport security: TLS verification off for Vault, and
 * opt-ins to plain http:// to a host that is not loopback. `serve` logs each at start-up and `check` prints each
 * as a warn line. (Chat and audit URLs are secret references: their warnings come once they are resolved.)
 */
export function transportWarnings(cfg: Config): TransportWarning[] {
  const out: TransportWarning[] = [];
  const v = cfg.vault;
  if (v.tls.skipVerify) {
    const origin = cfg.origins?.["vault.tls.skip_verify"];
    const from = origin?.startsWith("env ") ? ` (from ${origin.slice(4)})` : "";
    out.push({
      key: "vault.tls.skip_verify",
      text:
        `TLS certificate verification for Vault is OFF: vault.tls.skip_verify${from} is true, so anyone on the ` +
        "network path can pose as Vault and receive the token; trust Vault's CA with vault.tls.ca_cert instead",
    });
  }
  if (v.allowInsecureHttp && isPlainHttpToRemote(v.address)) {
    out.push({
      key: "vault.allow_insecure_http",
      text:
        `vault.allow_insecure_http is on and vault.address is plain http:// to ${new URL(v.address).host}, ` +
        "not a loopback host: the Vault token and every secret read cross the network in clear",
    });
  }
  for (const c of cfg.salesforce.connections) {
    if (!c.allowInsecureHttp || !isPlainHttpToRemote(c.myDomainUrl)) continue;
    const at = `salesforce.connections.${c.name}`;
    out.push({
      key: `${at}.allow_insecure_http`,
      text:
        `${at}.allow_insecure_http is on and ${at}.my_domain_url is plain http:// to ` +
        `${new URL(c.myDomainUrl).host}, not a loopback host: the admin app's secret and tokens cross the network in clear`,
    });
  }
  return out;
}
