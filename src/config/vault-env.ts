// Vault's standard client variables, read the way OpenBao's own client reads them:
// BAO_X when it is set at all, else VAULT_X. A set-but-empty BAO_X still wins (OpenBao api/env.go uses
// LookupEnv for the BAO_ form) and, like an empty VAULT_X, then means "not set".
//
// Precedence between the file and the environment: where the config file sets a key, the file wins. The file
// is the deliberate, reviewed deployment artefact; a VAULT_ADDR left in a shell or inherited from a base image
// must not silently redirect a configured sidecar. The variables fill only what the file leaves out, which is
// also what lets `scan` run with nothing but VAULT_ADDR and VAULT_TOKEN.

export interface EnvValue {
  readonly value: string;
  /** The variable that supplied the value (a NAME, never shown with its value). */
  readonly envVar: string;
}

export type Env = Readonly<Record<string, string | undefined>>;

export function readVaultVariable(env: Env, name: string): EnvValue | undefined {
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
export const VAULT_VARIABLES: readonly VaultVariable[] = [
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
