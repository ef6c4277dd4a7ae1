// Builds the Config every module receives: the YAML file (--config or $ECA_ROTATOR_CONFIG, optional), then
// Vault's standard variables for what the file leaves out (vault-env.ts explains the precedence), then the
// schema's defaults. Throws ConfigError with one `key.path: problem` line per problem, never a value.
import { readFileSync } from "node:fs";
import type { ClassifyDefaults } from "../core/inventory/classify.ts";
import type { Destinations } from "../core/inventory/destinations.ts";
import { SecretValue } from "../core/secret-value.ts";
import { ConfigError } from "./config-error.ts";
import { formatIssue } from "./config-issues.ts";
import { configFileSchema } from "./config-schema.ts";
import type { Config } from "./config-types.ts";
import { isPlainObject, readConfigFile } from "./read-config-file.ts";
import { type Env, readVaultVariable, VAULT_VARIABLES } from "./vault-env.ts";

export { ConfigError } from "./config-error.ts";
export { summarizeConfig } from "./summarize-config.ts";

export interface LoadConfigOptions {
  /** The config file; when absent, $ECA_ROTATOR_CONFIG; when that is absent or empty, no file at all. */
  readonly file?: string | undefined;
  readonly env: Env;
  /** Injected for tests; defaults to reading the file as UTF-8. */
  readonly readFile?: (path: string) => string;
}

export function loadConfig(opts: LoadConfigOptions): Config {
  const file = opts.file ?? (opts.env["ECA_ROTATOR_CONFIG"] || undefined);
  const readFile = opts.readFile ?? ((p: string) => readFileSync(p, "utf8"));
  const origins: Record<string, string> = {};
  const sources: string[] = [];

  let raw: Record<string, unknown> = {};
  if (file !== undefined) {
    const read = readConfigFile(file, readFile);
    if (!read.ok) throw new ConfigError(read.problems);
    raw = read.value;
    sources.push(`file ${file}`);
    for (const leaf of leafPaths(raw)) origins[leaf] = "file";
  }

  for (const variable of VAULT_VARIABLES) {
    const found = readVaultVariable(opts.env, variable.name);
    if (found === undefined || !fillIfUnset(raw, variable.key, variable.convert(found.value))) continue;
    origins[variable.key.join(".")] = `env ${found.envVar}`;
    sources.push(`env ${found.envVar}`);
  }

  const token = readVaultVariable(opts.env, "TOKEN");
  const parsed = configFileSchema({ envToken: token && SecretValue.of(token.value) }).safeParse(raw);
  if (!parsed.success) {
    throw new ConfigError([...new Set(parsed.error.issues.flatMap((issue) => formatIssue(issue, origins)))]);
  }

  const auth = parsed.data.vault.auth;
  if (auth.method === "token" && auth.tokenFile === undefined && token !== undefined) {
    origins["vault.auth.token"] = `env ${token.envVar}`;
    sources.push(`env ${token.envVar}`);
  }
  return { ...parsed.data, sources, origins };
}

/** Where the configuration lets secrets go: the Salesforce connections and the Marketing Cloud tenants. */
export function destinationsOf(cfg: Pick<Config, "salesforce" | "marketingCloud">): Destinations {
  return {
    connections: cfg.salesforce.connections.map((c) => ({
      name: c.name,
      origin: new URL(c.myDomainUrl).origin,
      prefixes: c.prefixes,
    })),
    tenants: cfg.marketingCloud.tenants.map((t) => ({
      name: t.name,
      origin: t.authUrl,
      prefixes: t.prefixes,
    })),
  };
}

/** What the scan's classification takes from the configuration (every command classifies alike). */
export function classifyDefaultsOf(cfg: Config): ClassifyDefaults {
  return {
    warningWindowMs: cfg.rotation.warningWindowMs,
    stuckAfterMs: cfg.rotation.stuckAfterMs,
    soakMs: cfg.rotation.soakMs,
    destinations: destinationsOf(cfg),
  };
}

/** Sets raw[key...] = value unless the file already set it; false when it did (or its parent is not a map). */
function fillIfUnset(raw: Record<string, unknown>, key: readonly string[], value: unknown): boolean {
  let node = raw;
  for (const part of key.slice(0, -1)) {
    const next = node[part] ?? {};
    if (!isPlainObject(next)) return false; // the schema reports the wrong type against the file's key
    node[part] = next;
    node = next;
  }
  const last = key[key.length - 1] ?? "";
  if (node[last] !== undefined) return false;
  node[last] = value;
  return true;
}

function leafPaths(value: Record<string, unknown>, prefix = ""): string[] {
  return Object.entries(value).flatMap(([k, v]) => {
    const path = prefix === "" ? k : `${prefix}.${k}`;
    return isPlainObject(v) ? leafPaths(v, path) : [path];
  });
}
