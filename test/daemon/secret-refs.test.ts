// resolveSecretRef: {file}, {env} and {vault: "path#field"} references, the vault ones against the real server.
// Every secret is a canary: no error message, context or cause may carry it.
import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AuditChainKey, chainLine, GENESIS_PREV } from "../../src/adapters/audit/jsonl-file-audit-sink.ts";
import { KvV2 } from "../../src/adapters/vault/kv-v2.ts";
import type { SecretRef } from "../../src/config/config-types.ts";
import { loadConfig } from "../../src/config/load-config.ts";
import { RotatorError } from "../../src/core/errors.ts";
import {
  exposedSecretFiles,
  insecureUrlWarning,
  loadAuditChainKey,
  resolveSecretRef,
  resolveUrlRef,
  type SecretRefContext,
  secretFiles,
  type UrlRule,
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

describe("resolveUrlRef: a URL held in a secret reference", () => {
  const URL_KEY = "notifications.targets.ops.url";
  const rule = (allowInsecureHttp: boolean): UrlRule => ({
    allowInsecureHttp,
    optOutKey: "notifications.targets.ops.allow_insecure_http",
    exposes: "the webhook URL and every message",
  });
  // The host is part of the secret too: a refusal shows neither it nor the path.
  const HOST = "hooks.intranet-canary.example";
  const remote = `http://${HOST}:8080/services/${CANARY}`;
  const ref: SecretRef = { kind: "env", name: "OPS_URL", key: URL_KEY };

  it("refuses plain http to a host that is not loopback, naming the key and the opt-out, never the URL", async () => {
    for (const url of [remote, `HTTP://${HOST}/${CANARY}`, `http://u:${CANARY}@${HOST}/`]) {
      const err = await caught(resolveUrlRef(ref, ctx({ OPS_URL: url }), rule(false)));
      expect(err).toBeInstanceOf(RotatorError);
      expect((err as RotatorError).code).toBe("CONFIG_INVALID");
      expect((err as RotatorError).message).toBe(
        `${URL_KEY}: the resolved URL is plain http:// to a host that is not loopback, which would send the ` +
          "webhook URL and every message in clear: use https://, or set " +
          "notifications.targets.ops.allow_insecure_http: true (only on a network you trust)",
      );
      expect(visible(err)).not.toContain(CANARY);
      expect(visible(err)).not.toContain(HOST);
    }
  });

  it("accepts https and loopback http as they are", async () => {
    for (const url of [`https://${HOST}/${CANARY}`, `http://127.0.0.1:9/${CANARY}`, "http://[::1]:9/x"]) {
      const got = await resolveUrlRef(ref, ctx({ OPS_URL: url }), rule(false));
      expect(got.url.reveal()).toBe(url);
      expect(got.insecure).toBe(false);
    }
  });

  it("accepts remote http with the opt-out and says so, for the caller's warning", async () => {
    const got = await resolveUrlRef(ref, ctx({ OPS_URL: remote }), rule(true));
    expect(got.url.reveal()).toBe(remote);
    expect(got.insecure).toBe(true);
    expect(insecureUrlWarning(rule(true))).toBe(
      "notifications.targets.ops.allow_insecure_http is on and the URL is plain http:// to a host that is not " +
        "loopback: the webhook URL and every message cross the network in clear",
    );
  });

  it("checks a URL read from a file the same way", async () => {
    const path = join(dir, "webhook-url");
    await writeFile(path, `${remote}\n`);
    const err = await caught(resolveUrlRef({ kind: "file", path, key: URL_KEY }, ctx(), rule(false)));
    expect((err as RotatorError).code).toBe("CONFIG_INVALID");
    expect(visible(err)).not.toContain(HOST);
  });
});

describe("loadAuditChainKey (audit.chain_key at start-up)", () => {
  const CHAIN_KEY = `${CANARY}-chain-key-material`; // more than 32 bytes
  const CK = "audit.chain_key";
  /** The key's HMAC of a fixed line, to compare keys without reading them. */
  const macOf = (key: AuditChainKey | undefined) =>
    key === undefined ? "none" : chainLine({}, GENESIS_PREV, key);

  it("is undefined without a chain key, and keys the chain with the value's bytes from a file, a variable or KV", async () => {
    expect(await loadAuditChainKey({ file: join(dir, "audit.jsonl") }, ctx())).toBeUndefined();
    const keyDir = join(dir, "keys");
    await mkdir(keyDir, { recursive: true });
    await writeFile(join(keyDir, "chain.key"), `${CHAIN_KEY}\n`);
    await admin().seedKv(MOUNT, `${base}/audit`, { chain_key: CHAIN_KEY });
    const audit = join(dir, "log", "audit.jsonl");
    const expected = macOf(AuditChainKey.of(CHAIN_KEY));
    const refs: SecretRef[] = [
      { kind: "file", path: join(keyDir, "chain.key"), key: CK },
      { kind: "env", name: "AUDIT_CHAIN_KEY", key: CK },
      { kind: "vault", path: `${base}/audit`, field: "chain_key", key: CK },
    ];
    for (const chainKey of refs) {
      const key = await loadAuditChainKey({ file: audit, chainKey }, ctx({ AUDIT_CHAIN_KEY: CHAIN_KEY }));
      expect(macOf(key)).toBe(expected);
      expect(String(key)).not.toContain(CANARY);
    }
  });

  it("refuses fewer than 32 bytes, naming audit.chain_key and never the value", async () => {
    const short = "test-secret-canary-short"; // 24 bytes
    const err = await caught(
      loadAuditChainKey(
        { file: join(dir, "audit.jsonl"), chainKey: { kind: "env", name: "K", key: CK } },
        ctx({ K: short }),
      ),
    );
    expect(err).toMatchObject({
      code: "CONFIG_INVALID",
      message:
        "audit.chain_key: the key has fewer than 32 bytes; use at least 32 random bytes, e.g. the output of openssl rand -hex 32",
    });
    expect(visible(err)).not.toContain(short);
  });

  it("refuses a key file that is in the audit file's folder through a symbolic link", async () => {
    // The config check compares the paths as written; start-up compares them with links resolved.
    const logDir = join(dir, "linked-log");
    await mkdir(logDir, { recursive: true });
    await writeFile(join(logDir, "chain.key"), CHAIN_KEY);
    await symlink(logDir, join(dir, "looks-elsewhere"));
    const keyPath = join(dir, "looks-elsewhere", "chain.key");
    const err = await caught(
      loadAuditChainKey(
        { file: join(logDir, "audit.jsonl"), chainKey: { kind: "file", path: keyPath, key: CK } },
        ctx(),
      ),
    );
    expect(err).toMatchObject({ code: "CONFIG_INVALID" });
    expect((err as Error).message).toMatch(
      /^audit\.chain_key: the key file .*looks-elsewhere\/chain\.key is in the audit file's folder .*linked-log: keep the key away from the log/,
    );
    expect(visible(err)).not.toContain(CANARY);
  });

  it("names audit.chain_key when the reference does not resolve", async () => {
    const err = await caught(
      loadAuditChainKey(
        {
          file: join(dir, "audit.jsonl"),
          chainKey: { kind: "vault", path: `${base}/no-audit-key`, field: "chain_key", key: CK },
        },
        ctx(),
      ),
    );
    expect(err).toMatchObject({
      code: "CONFIG_INVALID",
      message: `audit.chain_key: there is no KV entry at ${base}/no-audit-key`,
    });
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
