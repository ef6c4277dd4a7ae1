// Builds the Config every module receives: the YAML file (--config or $ECA_ROTATOR_CONFIG, optional), then
// Vault's standard variables for what the file leaves out (the section below explains the precedence), then the
// schema's defaults. Throws ConfigError with one `key.path: problem` line per problem, never a value.
import { readFileSync } from "node:fs";
import { isMap, parseDocument } from "yaml";
import type { ClassifyDefaults } from "../core/inventory/classify.ts";
import type { Destinations } from "../core/inventory/credential-policy.ts";
import { SecretValue } from "../core/secret-value.ts";
import { ConfigError } from "./config-error.ts";
import { formatIssue } from "./config-issues.ts";
import { configFileSchema } from "./config-schema.ts";
import type { Config } from "./config-types.ts";

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
    soakUntil: cfg.rotation.soakUntil,
    soakMaxMs: cfg.rotation.soakMaxMs,
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

// Reads and parses the YAML file. Problems name the file and a line, never its content: yaml's own messages
// quote the offending source, which may be the line holding a pasted secret.
type FileResult =
  | { readonly ok: true; readonly value: Record<string, unknown> }
  | { readonly ok: false; readonly problems: readonly string[] };

function readConfigFile(file: string, readFile: (path: string) => string): FileResult {
  let text: string;
  try {
    text = readFile(file);
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    const why = typeof code === "string" && /^E[A-Z]+$/.test(code) ? code : "unreadable";
    return { ok: false, problems: [`config file ${file}: cannot be read (${why})`] };
  }
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const problems = doc.errors.map((e) => {
      const pos = e.linePos?.[0];
      const where = pos === undefined ? "" : ` line ${pos.line}, column ${pos.col}`;
      return `config file${where}: YAML syntax error (${e.code.toLowerCase().replaceAll("_", " ")})`;
    });
    return { ok: false, problems: [...new Set(problems)] };
  }
  if (doc.contents !== null && !isMap(doc.contents)) {
    return { ok: false, problems: ["config file: must be a YAML mapping (key: value) at the top level"] };
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 100 });
  } catch {
    return {
      ok: false,
      problems: ["config file: YAML could not be resolved (too many or unresolved aliases)"],
    };
  }
  return { ok: true, value: dropNulls(value ?? {}) as Record<string, unknown> };
}

/** `key:` with nothing after it is YAML null; treat it as "not set" so defaults and the environment apply. */
function dropNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(dropNulls);
  if (isPlainObject(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) if (v !== null) out[k] = dropNulls(v);
    return out;
  }
  return value;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

// Vault's standard client variables, read the way OpenBao's own client reads them:
// BAO_X when it is set at all, else VAULT_X. A set-but-empty BAO_X still wins (OpenBao api/env.go uses
// LookupEnv for the BAO_ form) and, like an empty VAULT_X, then means "not set".
//
// Precedence between the file and the environment: where the config file sets a key, the file wins. The file
// is the deliberate, reviewed deployment artefact; a VAULT_ADDR left in a shell or inherited from a base image
// must not silently redirect a configured sidecar. The variables fill only what the file leaves out, which is
// also what lets `scan` run with nothing but VAULT_ADDR and VAULT_TOKEN.
interface EnvValue {
  readonly value: string;
  /** The variable that supplied the value (a NAME, never shown with its value). */
  readonly envVar: string;
}

type Env = Readonly<Record<string, string | undefined>>;

function readVaultVariable(env: Env, name: string): EnvValue | undefined {
  const baoName = `BAO_${name}`;
  const vaultName = `VAULT_${name}`;
  const bao = env[baoName];
  if (bao !== undefined) return bao === "" ? undefined : { value: bao, envVar: baoName };
  const vault = env[vaultName];
  return vault === undefined || vault === "" ? undefined : { value: vault, envVar: vaultName };
}

// Go's strconv.ParseBool, which the Vault client uses for VAULT_SKIP_VERIFY. Anything else is left as a
// string so the schema reports "must be true or false" against the key.
const GO_BOOL: Readonly<Record<string, boolean>> = {
  "1": true,
  t: true,
  T: true,
  TRUE: true,
  true: true,
  True: true,
  "0": false,
  f: false,
  F: false,
  FALSE: false,
  false: false,
  False: false,
};

interface VaultVariable {
  readonly name: string;
  readonly key: readonly string[];
  readonly convert: (value: string) => unknown;
}

const asIs = (value: string): unknown => value;

/** The file key each variable fills, and how its text becomes the file's type. */
const VAULT_VARIABLES: readonly VaultVariable[] = [
  { name: "ADDR", key: ["vault", "address"], convert: asIs },
  { name: "NAMESPACE", key: ["vault", "namespace"], convert: asIs },
  { name: "CACERT", key: ["vault", "tls", "ca_cert"], convert: asIs },
  { name: "CAPATH", key: ["vault", "tls", "ca_path"], convert: asIs },
  { name: "CLIENT_CERT", key: ["vault", "tls", "client_cert"], convert: asIs },
  { name: "CLIENT_KEY", key: ["vault", "tls", "client_key"], convert: asIs },
  { name: "TLS_SERVER_NAME", key: ["vault", "tls", "server_name"], convert: asIs },
  { name: "SKIP_VERIFY", key: ["vault", "tls", "skip_verify"], convert: (v) => GO_BOOL[v] ?? v },
  // Like the Go client: a bare number is seconds, anything else a duration ("1m30s").
  { name: "CLIENT_TIMEOUT", key: ["vault", "timeout"], convert: (v) => (/^[0-9]+$/.test(v) ? `${v}s` : v) },
  {
    name: "MAX_RETRIES",
    key: ["vault", "max_retries"],
    convert: (v) => (/^[0-9]{1,6}$/.test(v) ? Number(v) : v),
  },
];
