// Resolves the config's secret references ({file}, {env}, {vault: "path#field"}) into SecretValues. Errors name
// the config key and the reference's location (a file path, a variable name, a KV path), never a value.
import { readFile, realpath } from "node:fs/promises";
import path from "node:path";
import { AuditChainKey, MIN_CHAIN_KEY_BYTES } from "../adapters/audit/audit-chain.ts";
import type { KvV2 } from "../adapters/vault/kv-v2.ts";
import { isPlainHttpToRemote, plainHttpRefusal } from "../config/config-fields.ts";
import { isWithin } from "../config/config-schema.ts";
import type { AuditConfig, SecretRef } from "../config/config-types.ts";
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
