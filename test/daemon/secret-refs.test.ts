// resolveSecretRef: {file}, {env} and {vault: "path#field"} references, the vault ones against the real server.
// Every secret is a canary: no error message, context or cause may carry it.
import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KvV2 } from "../../src/adapters/vault/kv-v2.ts";
import type { SecretRef } from "../../src/config/config-types.ts";
import { loadConfig } from "../../src/config/load-config.ts";
import { RotatorError } from "../../src/core/errors.ts";
import {
  exposedSecretFiles,
  resolveSecretRef,
  type SecretRefContext,
  secretFiles,
} from "../../src/daemon/secret-refs.ts";
import { caught, connectWithToken, rootKv } from "../adapters/vault/vault-test-kit.ts";
import { admin, uniqueName } from "../support/vault-admin.ts";

const MOUNT = "secret";
const CANARY = `test-secret-canary-${uniqueName("ref")}`;
const KEY = "server.api_token[0].token";

let dir: string;
let kv: KvV2;
const clients: KvV2[] = [];
const base = uniqueName("secret-refs");

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "secret-refs-"));
  kv = await rootKv(MOUNT);
  clients.push(kv);
  await admin().seedKv(MOUNT, `${base}/tokens`, {
    api: `  ${CANARY}\n`,
    blank: "   ",
    number: 42,
  });
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
  for (const c of clients) await c.client.close();
});

function ctx(
  env: Record<string, string | undefined> = {},
  store: Pick<KvV2, "readData"> = kv,
): SecretRefContext {
  return { env, kv: store };
}

/** Everything an error shows: message, context, cause chain, and how it prints. */
function visible(err: unknown): string {
  const parts: string[] = [];
  let e: unknown = err;
  for (let i = 0; i < 5 && e !== undefined; i++) {
    if (e instanceof Error) {
      parts.push(e.message, String(e), e.stack ?? "");
      if (e instanceof RotatorError) parts.push(JSON.stringify(e.context), e.toLine());
      e = e.cause;
    } else {
      parts.push(JSON.stringify(e) ?? String(e));
      e = undefined;
    }
  }
  return parts.join("\n");
}

async function failure(ref: SecretRef, c: SecretRefContext = ctx()): Promise<RotatorError> {
  const err = await caught(resolveSecretRef(ref, c));
  expect(err).toBeInstanceOf(RotatorError);
  expect(visible(err)).not.toContain(CANARY);
  return err as RotatorError;
}

describe("resolveSecretRef: file", () => {
  it("reads the file and trims surrounding whitespace", async () => {
    const path = join(dir, "token");
    await writeFile(path, `\n  ${CANARY} \n\n`);
    const value = await resolveSecretRef({ kind: "file", path, key: KEY }, ctx());
    expect(value.reveal()).toBe(CANARY);
    expect(String(value)).not.toContain(CANARY);
  });

  it("names the config key and the path of a missing file", async () => {
    const path = join(dir, "missing");
    const err = await failure({ kind: "file", path, key: KEY });
    expect(err.code).toBe("CONFIG_INVALID");
    expect(err.message).toBe(`${KEY}: the file ${path} cannot be read (ENOENT)`);
  });

  it("never shows the content of a file it cannot use", async () => {
    // A directory cannot be read as a file: the error names it, with the system's code only.
    const err = await failure({ kind: "file", path: dir, key: KEY });
    expect(err.message).toBe(`${KEY}: the file ${dir} cannot be read (EISDIR)`);
  });

  it("refuses an empty or whitespace-only file", async () => {
    const path = join(dir, "empty");
    await writeFile(path, " \n\t\n");
    const err = await failure({ kind: "file", path, key: KEY });
    expect(err.code).toBe("CONFIG_INVALID");
    expect(err.message).toBe(`${KEY}: the file ${path} is empty`);
  });
});

describe("resolveSecretRef: env", () => {
  it("reads the variable, trimmed", async () => {
    const value = await resolveSecretRef(
      { kind: "env", name: "ROTATOR_API_TOKEN", key: KEY },
      ctx({ ROTATOR_API_TOKEN: ` ${CANARY} ` }),
    );
    expect(value.reveal()).toBe(CANARY);
  });

  it("names the config key and the variable when it is unset or blank", async () => {
    for (const env of [{}, { ROTATOR_API_TOKEN: "" }, { ROTATOR_API_TOKEN: "  " }, { OTHER: CANARY }]) {
      const err = await failure({ kind: "env", name: "ROTATOR_API_TOKEN", key: KEY }, ctx(env));
      expect(err.code).toBe("CONFIG_INVALID");
      expect(err.message).toBe(`${KEY}: the environment variable ROTATOR_API_TOKEN is not set`);
    }
  });
});

describe("resolveSecretRef: vault", () => {
  it("reads a string field of a KV entry, trimmed", async () => {
    const value = await resolveSecretRef(
      { kind: "vault", path: `${base}/tokens`, field: "api", key: KEY },
      ctx(),
    );
    expect(value.reveal()).toBe(CANARY);
  });

  it("names the key and the KV path when there is no such entry", async () => {
    const path = `${base}/nothing-here`;
    const err = await failure({ kind: "vault", path, field: "api", key: KEY });
    expect(err.code).toBe("CONFIG_INVALID");
    expect(err.message).toBe(`${KEY}: there is no KV entry at ${path}`);
  });

  it("names the key, the path and the field when the field is missing, blank or not a string", async () => {
    for (const field of ["nope", "blank", "number"]) {
      const err = await failure({ kind: "vault", path: `${base}/tokens`, field, key: KEY });
      expect(err.code).toBe("CONFIG_INVALID");
      expect(err.message).toBe(`${KEY}: the KV entry ${base}/tokens has no non-empty string field ${field}`);
    }
  });

  it("treats an entry whose current version was deleted as missing", async () => {
    const path = `${base}/deleted`;
    await admin().seedKv(MOUNT, path, { api: CANARY });
    await admin().must("DELETE", `${MOUNT}/data/${path}`);
    const err = await failure({ kind: "vault", path, field: "api", key: KEY });
    expect(err.message).toBe(`${KEY}: there is no KV entry at ${path}`);
  });

  it("names the key and keeps Vault's code when the token may not read the entry", async () => {
    const policy = uniqueName("no-read");
    await admin().writePolicy(policy, `path "${MOUNT}/data/${base}/other/*" { capabilities = ["read"] }`);
    const token = await admin().createToken({ policies: [policy] });
    const client = await connectWithToken(token);
    const weak = new KvV2(client, MOUNT);
    clients.push(weak);
    const err = await failure(
      { kind: "vault", path: `${base}/tokens`, field: "api", key: KEY },
      ctx({}, weak),
    );
    expect(err.code).toBe("VAULT_PERMISSION_DENIED");
    expect(err.message).toContain(KEY);
    expect(err.message).toContain(`${base}/tokens`);
    expect(visible(err)).not.toContain(token);
  });
});

describe("secretFiles and exposedSecretFiles", () => {
  /** Writes `name` under the test folder with exactly `mode` (chmod after writing: the umask does not apply). */
  async function file(name: string, mode: number): Promise<string> {
    const p = join(dir, name);
    await writeFile(p, CANARY);
    await chmod(p, mode);
    return p;
  }

  function config(yaml: string) {
    return loadConfig({
      file: "/c.yaml",
      env: { VAULT_ADDR: "http://127.0.0.1:8200" },
      readFile: () => yaml,
    });
  }

  it("names every file holding a secret by its config key", () => {
    const cfg = config(`
vault:
  auth: { method: approle, role_id_file: /s/role-id, secret_id_file: /s/secret-id }
  tls: { client_cert: /s/client.crt, client_key: /s/client.key, ca_cert: /s/ca.crt }
salesforce:
  connections:
    prod:
      my_domain_url: https://acme.my.salesforce.com
      credentials_path: eca-rotator/connections/prod
      auth: jwt_bearer
      jwt_username: admin@acme.example
      jwt_private_key_file: /s/jwt.key
audit:
  fingerprint_key_file: /s/fingerprint
  http: { url: { file: /s/audit-url } }
server:
  api_tokens: { ci: { file: /s/api-token }, ops: { env: OPS_TOKEN } }
notifications:
  targets:
    siem: { type: webhook, url: { file: /s/hook-url }, secret: { file: /s/hmac } }
`);
    expect(secretFiles(cfg).map((f) => `${f.key} ${f.path}`)).toEqual(
      expect.arrayContaining([
        "vault.auth.role_id_file /s/role-id",
        "vault.auth.secret_id_file /s/secret-id",
        "vault.tls.client_key /s/client.key",
        "salesforce.connections.prod.jwt_private_key_file /s/jwt.key",
        "audit.fingerprint_key_file /s/fingerprint",
        "audit.http.url /s/audit-url",
        "server.api_tokens.ci /s/api-token",
        "notifications.targets.siem.url /s/hook-url",
        "notifications.targets.siem.secret /s/hmac",
      ]),
    );
    // Public material is not a secret: the CA and the client certificate are left alone.
    expect(secretFiles(cfg).map((f) => f.path)).toHaveLength(9);
    expect(secretFiles(config("vault: { auth: { method: token, token_file: /s/token } }"))).toEqual([
      { key: "vault.auth.token_file", path: "/s/token" },
    ]);
  });

  it("reports 0640 and 0644 files with their mode, and passes 0600, a missing file and a Kubernetes volume", async () => {
    const tokenFile = await file("token", 0o640);
    const hook = await file("hook-url", 0o644);
    const hmac = await file("hmac", 0o600);
    // A Kubernetes Secret volume: the file is a symlink into ..data, itself a symlink to a timestamped folder.
    const volume = join(dir, "k8s");
    await mkdir(join(volume, "..2026_03_02_09_00_00.000000001"), { recursive: true });
    await writeFile(join(volume, "..2026_03_02_09_00_00.000000001", "api-token"), CANARY);
    await chmod(join(volume, "..2026_03_02_09_00_00.000000001", "api-token"), 0o644);
    await symlink("..2026_03_02_09_00_00.000000001", join(volume, "..data"));
    await symlink("..data/api-token", join(volume, "api-token"));
    const cfg = config(`
vault: { auth: { method: token, token_file: ${tokenFile} } }
server: { api_tokens: { ci: { file: ${join(volume, "api-token")} } } }
audit: { fingerprint_key_file: ${join(dir, "missing")} }
notifications:
  targets:
    siem: { type: webhook, url: { file: ${hook} }, secret: { file: ${hmac} } }
`);
    const exposed = await exposedSecretFiles(cfg);
    expect(exposed).toEqual([
      { key: "vault.auth.token_file", path: tokenFile, mode: "0640" },
      { key: "notifications.targets.siem.url", path: hook, mode: "0644" },
    ]);
    expect(JSON.stringify(exposed)).not.toContain(CANARY);
  });
});
