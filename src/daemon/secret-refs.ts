// Resolves the config's secret references ({file}, {env}, {vault: "path#field"}) into SecretValues. Errors name
// the config key and the reference's location (a file path, a variable name, a KV path), never a value. Also
// finds the files holding secrets that their group or others may read, for `check` and `serve` to warn about.
import { lstat, readFile, readlink, realpath, stat } from "node:fs/promises";
import path from "node:path";
import { AuditChainKey, MIN_CHAIN_KEY_BYTES } from "../adapters/audit/jsonl-file-audit-sink.ts";
import type { KvV2 } from "../adapters/vault/kv-v2.ts";
import { isPlainHttpToRemote, isWithin, plainHttpRefusal } from "../config/config-schema.ts";
import type { AuditConfig, Config, SecretRef } from "../config/config-types.ts";
import { isRotatorError, RotatorError } from "../core/errors.ts";
import { SecretValue } from "../core/secret-value.ts";

export interface SecretRefContext {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly kv: Pick<KvV2, "readData">;
}

export async function resolveSecretRef(ref: SecretRef, ctx: SecretRefContext): Promise<SecretValue> {
  const fail = (problem: string, cause?: unknown) =>
    new RotatorError("CONFIG_INVALID", `${ref.key}: ${problem}`, cause === undefined ? {} : { cause });
  let value: string | undefined;
  switch (ref.kind) {
    case "file":
      try {
        value = (await readFile(ref.path, "utf8")).trim();
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code ?? "unreadable";
        throw fail(`the file ${ref.path} cannot be read (${code})`);
      }
      if (value === "") throw fail(`the file ${ref.path} is empty`);
      break;
    case "env":
      value = ctx.env[ref.name];
      if (value === undefined || value.trim() === "")
        throw fail(`the environment variable ${ref.name} is not set`);
      value = value.trim();
      break;
    case "vault": {
      let found: Awaited<ReturnType<typeof ctx.kv.readData>>;
      try {
        found = await ctx.kv.readData(ref.path);
      } catch (err) {
        // Keep Vault's code and retryability (a refused token is not a config typo), but name the config key.
        if (!isRotatorError(err)) throw err;
        throw new RotatorError(
          err.code,
          `${ref.key}: the KV entry ${ref.path} cannot be read (${err.message})`,
          {
            retryable: err.retryable,
            context: err.context,
            cause: err,
          },
        );
      }
      const field = found?.data?.[ref.field];
      if (found === undefined || found.data === null) throw fail(`there is no KV entry at ${ref.path}`);
      if (typeof field !== "string" || field.trim() === "")
        throw fail(`the KV entry ${ref.path} has no non-empty string field ${ref.field}`);
      value = field.trim();
      break;
    }
  }
  return SecretValue.of(value);
}

/** What a URL held in a secret reference may be, and what plain http to it would expose. */
export interface UrlRule {
  /** The target's `allow_insecure_http`. */
  readonly allowInsecureHttp: boolean;
  /** Its config key, named in the refusal. */
  readonly optOutKey: string;
  /** What plain http would send in clear ("the webhook URL and every message"). */
  readonly exposes: string;
}

/**
 * A secret reference that holds a URL (a chat webhook, the audit collector). Once resolved, plain http:// to a host
 * that is not loopback is refused (CONFIG_INVALID naming the key) unless the target opts out; `insecure` then
 * tells the caller to warn. The URL is a secret: no message quotes it or its host.
 */
export async function resolveUrlRef(
  ref: SecretRef,
  ctx: SecretRefContext,
  rule: UrlRule,
): Promise<{ readonly url: SecretValue; readonly insecure: boolean }> {
  const url = await resolveSecretRef(ref, ctx);
  const insecure = isPlainHttpToRemote(url.reveal());
  if (insecure && !rule.allowInsecureHttp) {
    throw new RotatorError(
      "CONFIG_INVALID",
      `${ref.key}: the resolved URL ${plainHttpRefusal(rule.exposes, rule.optOutKey)}`,
      {
        context: { key: ref.key },
      },
    );
  }
  return { url, insecure };
}

/** The loud warning for a target that opted into plain http to a remote host. */
export function insecureUrlWarning(rule: UrlRule): string {
  return (
    `${rule.optOutKey} is on and the URL is plain http:// to a host that is not loopback: ` +
    `${rule.exposes} cross the network in clear`
  );
}

/**
 * audit.chain_key as an AuditChainKey (undefined when not set). At least MIN_CHAIN_KEY_BYTES bytes of key material
 * (the resolved value's UTF-8 bytes), and a {file} key must not lie in the audit file's folder, symbolic links
 * followed: whoever can write the log there could read the key. Errors name audit.chain_key, never the value.
 */
export async function loadAuditChainKey(
  audit: Pick<AuditConfig, "file" | "chainKey">,
  ctx: SecretRefContext,
): Promise<AuditChainKey | undefined> {
  const ref = audit.chainKey;
  if (ref === undefined) return undefined;
  if (ref.kind === "file" && audit.file !== undefined) {
    const keyDir = await realpath(path.dirname(path.resolve(ref.path))).catch(() => undefined);
    const logDir = await realpath(path.dirname(path.resolve(audit.file))).catch(() => undefined);
    if (keyDir !== undefined && logDir !== undefined && isWithin(keyDir, logDir)) {
      throw new RotatorError(
        "CONFIG_INVALID",
        `${ref.key}: the key file ${ref.path} is in the audit file's folder ${logDir}: keep the key away from the log (another folder, or {vault: ...})`,
      );
    }
  }
  const value = await resolveSecretRef(ref, ctx);
  try {
    return AuditChainKey.of(value.reveal());
  } catch {
    throw new RotatorError(
      "CONFIG_INVALID",
      `${ref.key}: the key has fewer than ${MIN_CHAIN_KEY_BYTES} bytes; use at least ${MIN_CHAIN_KEY_BYTES} random bytes, e.g. the output of openssl rand -hex 32`,
    );
  }
}

/** A file the config names that holds a secret, by the config key that names it. */
export interface SecretFile {
  readonly key: string;
  readonly path: string;
}

export interface ExposedSecretFile extends SecretFile {
  /** Permission bits in octal, e.g. "0644". */
  readonly mode: string;
}

/**
 * Every file holding a secret: the Vault login files, the TLS client key, Salesforce JWT keys, the fingerprint
 * key, and every {file: PATH} reference anywhere in the config (chat URLs and HMAC keys, API tokens, the HTTP
 * audit URL, and any added later). The config file itself is not one: it refers to secrets, never holds them.
 */
export function secretFiles(cfg: Config): SecretFile[] {
  const files: SecretFile[] = [];
  const add = (key: string, path: string | undefined) => {
    if (path !== undefined && !files.some((f) => f.key === key && f.path === path)) files.push({ key, path });
  };
  const auth = cfg.vault.auth;
  if (auth.method === "token") add("vault.auth.token_file", auth.tokenFile);
  if (auth.method === "approle") {
    add("vault.auth.role_id_file", auth.roleIdFile);
    add("vault.auth.secret_id_file", auth.secretIdFile);
  }
  if (auth.method === "kubernetes") add("vault.auth.jwt_file", auth.jwtFile);
  add("vault.tls.client_key", cfg.vault.tls.clientKeyFile);
  for (const c of cfg.salesforce.connections) {
    add(`salesforce.connections.${c.name}.jwt_private_key_file`, c.jwtPrivateKeyFile);
  }
  add("audit.fingerprint_key_file", cfg.audit.fingerprintKeyFile);
  // Found by shape rather than by section, so a reference a new config key adds is covered too.
  const visit = (value: unknown): void => {
    if (value === null || typeof value !== "object" || value instanceof SecretValue) return;
    if (Array.isArray(value)) {
      for (const v of value) visit(v);
      return;
    }
    const o = value as Record<string, unknown>;
    if (o["kind"] === "file" && typeof o["path"] === "string" && typeof o["key"] === "string") {
      add(o["key"], o["path"]);
      return;
    }
    for (const v of Object.values(o)) visit(v);
  };
  visit(cfg);
  return files;
}

/**
 * The secret files that their group or others may read. Files Kubernetes mounts from a Secret or projected
 * volume are skipped: they are symlinks into the volume's `..data` folder, group-readable by design
 * (defaultMode, fsGroup), and the pod is the boundary. A file that cannot be read is left to the code that reads
 * it, which names the problem.
 */
export async function exposedSecretFiles(cfg: Config): Promise<ExposedSecretFile[]> {
  const exposed: ExposedSecretFile[] = [];
  for (const f of secretFiles(cfg)) {
    try {
      const link = await lstat(f.path);
      if (link.isSymbolicLink() && (await readlink(f.path)).startsWith("..data/")) continue;
      const { mode } = await stat(f.path);
      if ((mode & 0o044) === 0) continue;
      exposed.push({ ...f, mode: `0${(mode & 0o777).toString(8).padStart(3, "0")}` });
    } catch {
      // missing or unreadable: not this check's business
    }
  }
  return exposed;
}

/** The warning's words, the same for `check` and `serve`: key, path and mode, never the content. */
export function exposedSecretFileText(f: ExposedSecretFile): string {
  return `${f.key}: ${f.path} is readable by its group or others (mode ${f.mode}); restrict it with chmod go-rwx`;
}
