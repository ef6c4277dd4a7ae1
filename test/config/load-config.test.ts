import { describe, expect, it } from "vitest";
import type { Config } from "../../src/config/config-types.ts";
import { loadConfig } from "../../src/config/load-config.ts";
import { BASE_ENV, CONFIG_PATH, load } from "./config-test-helpers.ts";

const DAY = 86_400_000;

describe("loadConfig", () => {
  it("builds the whole default configuration from VAULT_ADDR and VAULT_TOKEN alone (no file)", () => {
    const cfg = loadConfig({
      env: { VAULT_ADDR: "https://vault.example.com:8200/", VAULT_TOKEN: "test-secret-t" },
    });
    expect(cfg.vault).toMatchObject({
      address: "https://vault.example.com:8200",
      namespace: undefined,
      tls: { caCertFile: undefined, caPath: undefined, skipVerify: false },
      timeoutMs: 10_000,
      maxRetries: 2,
      kvMount: "secret",
      prefixes: ["api-credentials"],
      statePrefix: "eca-rotator",
      listing: "auto",
      scanConcurrency: 16,
      allowInsecureHttp: false,
    });
    expect(cfg.vault.auth.method).toBe("token");
    expect(cfg.vault.auth.method === "token" && cfg.vault.auth.token?.reveal()).toBe("test-secret-t");
    expect(cfg.salesforce.connections).toEqual([]);
    expect(cfg.rotation).toEqual({
      scanIntervalMs: 60_000,
      soakMs: 15 * 60_000,
      soakUntil: "time",
      soakMaxMs: 86_400_000,
      onSoakMax: "promote",
      verifyTimeoutMs: 10 * 60_000,
      concurrency: 4,
      warningWindowMs: 14 * DAY,
      stuckAfterMs: 2 * 3_600_000,
      maxAttempts: 5,
      retryBudgetMs: 4 * 3_600_000,
      leaseTtlMs: 30_000,
      retireAfterMs: 0,
      apiBudget: { slowAt: 0.5, stopAt: 0.9 },
    });
    expect(cfg.report.schedule).toBe("0 9 * * 1");
    expect(cfg.audit).toEqual({
      file: undefined,
      fingerprintKeyFile: undefined,
      syslog: undefined,
      http: undefined,
    });
    expect(cfg.server.listen).toBe("127.0.0.1:8080");
    expect(cfg.log.level).toBe("info");
    expect(cfg.sources).toEqual(["env VAULT_ADDR", "env VAULT_TOKEN"]);
    expect(cfg.origins).toEqual({ "vault.address": "env VAULT_ADDR", "vault.auth.token": "env VAULT_TOKEN" });
  });

  it("reads the documented example file into the normalised Config", () => {
    const cfg = load(
      `vault:
  address: http://127.0.0.1:8200        # else $VAULT_ADDR
  auth: { method: token }
  kv_mount: secret
  prefixes: [api-credentials]
  state_prefix: eca-rotator
salesforce:
  connections:
    prod:
      my_domain_url: https://acme.my.salesforce.com
      api_version: v65.0
      credentials_path: eca-rotator/connections/prod
rotation:
  scan_interval: 60s
  soak: 15m
  verify_timeout: 10m
  concurrency: 4
audit:
  file: /var/lib/eca-rotator/audit.jsonl
server:
  listen: 127.0.0.1:8080
`,
      { VAULT_TOKEN: "test-secret-t" },
    );
    expect(cfg.salesforce.connections).toEqual([
      {
        name: "prod",
        myDomainUrl: "https://acme.my.salesforce.com",
        apiVersion: "v65.0",
        credentialsPath: "eca-rotator/connections/prod",
        auth: "client_credentials",
        jwtUsername: undefined,
        jwtPrivateKeyFile: undefined,
        allowInsecureHttp: false,
      },
    ]);
    expect(cfg.audit.file).toBe("/var/lib/eca-rotator/audit.jsonl");
    expect(cfg.sources).toEqual([`file ${CONFIG_PATH}`, "env VAULT_TOKEN"]);
    expect(cfg.origins?.["vault.address"]).toBe("file");
    expect(cfg.origins?.["salesforce.connections.prod.my_domain_url"]).toBe("file");
  });

  type Row = [string, string | undefined, Record<string, string>, (cfg: Config) => unknown, unknown];
  it.each<Row>([
    [
      "strips slashes from mounts and prefixes",
      "vault: { kv_mount: /kv/, prefixes: [/a/b/, c] }",
      BASE_ENV,
      (c) => [c.vault.kvMount, c.vault.prefixes],
      ["kv", ["a/b", "c"]],
    ],
    [
      "parses durations into milliseconds",
      "rotation: { soak: 1h30m, warning_window: 2w }",
      BASE_ENV,
      (c) => [c.rotation.soakMs, c.rotation.warningWindowMs],
      [90 * 60_000, 14 * DAY],
    ],
    ["accepts a zero soak", "rotation: { soak: 0s }", BASE_ENV, (c) => c.rotation.soakMs, 0],
    [
      "defaults lease_ttl to 30s, whatever verify_timeout is (the lease is renewed while a step runs)",
      "rotation: { verify_timeout: 2h }",
      BASE_ENV,
      (c) => c.rotation.leaseTtlMs,
      30_000,
    ],
    [
      "raises the default lease_ttl to 3 × vault.timeout when that is longer",
      "vault: { timeout: 20s }",
      BASE_ENV,
      (c) => c.rotation.leaseTtlMs,
      60_000,
    ],
    [
      "reads the rotation attempts, lease and retire settings",
      "vault: { timeout: 2s }\nrotation: { max_attempts: 3, verify_timeout: 5m, lease_ttl: 6s, retire_after: 1h }",
      BASE_ENV,
      (c) => [c.rotation.maxAttempts, c.rotation.leaseTtlMs, c.rotation.retireAfterMs],
      [3, 6_000, 3_600_000],
    ],
    [
      "defaults the soak to time, with soak_max 24h and on_soak_max promote",
      "",
      BASE_ENV,
      (c) => [c.rotation.soakUntil, c.rotation.soakMaxMs, c.rotation.onSoakMax],
      ["time", 86_400_000, "promote"],
    ],
    [
      "reads soak_until, soak_max and on_soak_max",
      "rotation: { soak_until: readers, soak_max: 6h, on_soak_max: hold }",
      BASE_ENV,
      (c) => [c.rotation.soakUntil, c.rotation.soakMaxMs, c.rotation.onSoakMax],
      ["readers", 6 * 3_600_000, "hold"],
    ],
    [
      "reads the retry budget",
      "rotation: { retry_budget: 90m }",
      BASE_ENV,
      (c) => c.rotation.retryBudgetMs,
      90 * 60_000,
    ],
    [
      "reads the fingerprint key file",
      "audit: { fingerprint_key_file: /etc/eca/fp.key }",
      BASE_ENV,
      (c) => c.audit.fingerprintKeyFile,
      "/etc/eca/fp.key",
    ],
    [
      "takes vault.timeout as a duration",
      "vault: { timeout: 30s }",
      BASE_ENV,
      (c) => c.vault.timeoutMs,
      30_000,
    ],
    [
      "reads VAULT_CLIENT_TIMEOUT as seconds when it is a bare number",
      undefined,
      { ...BASE_ENV, VAULT_CLIENT_TIMEOUT: "45" },
      (c) => c.vault.timeoutMs,
      45_000,
    ],
    [
      "reads VAULT_CLIENT_TIMEOUT as a duration",
      undefined,
      { ...BASE_ENV, VAULT_CLIENT_TIMEOUT: "1m30s" },
      (c) => c.vault.timeoutMs,
      90_000,
    ],
    [
      "reads VAULT_MAX_RETRIES as a number",
      undefined,
      { ...BASE_ENV, VAULT_MAX_RETRIES: "5" },
      (c) => c.vault.maxRetries,
      5,
    ],
    [
      "reads VAULT_SKIP_VERIFY like Go's ParseBool",
      undefined,
      { ...BASE_ENV, VAULT_SKIP_VERIFY: "T" },
      (c) => c.vault.tls.skipVerify,
      true,
    ],
    [
      "reads VAULT_SKIP_VERIFY=0 as false",
      undefined,
      { ...BASE_ENV, VAULT_SKIP_VERIFY: "0" },
      (c) => c.vault.tls.skipVerify,
      false,
    ],
    [
      "reads the TLS variables",
      undefined,
      {
        ...BASE_ENV,
        VAULT_CACERT: "/ca.pem",
        VAULT_CAPATH: "/cas",
        VAULT_CLIENT_CERT: "/c.pem",
        VAULT_CLIENT_KEY: "/k.pem",
        VAULT_TLS_SERVER_NAME: "vault.internal",
      },
      (c) => c.vault.tls,
      {
        caCertFile: "/ca.pem",
        caPath: "/cas",
        clientCertFile: "/c.pem",
        clientKeyFile: "/k.pem",
        serverName: "vault.internal",
        skipVerify: false,
      },
    ],
    [
      "reads VAULT_NAMESPACE",
      undefined,
      { ...BASE_ENV, VAULT_NAMESPACE: "team-a/" },
      (c) => c.vault.namespace,
      "team-a",
    ],
    [
      "lets the file win over the environment for a key it sets",
      "vault: { address: 'https://file.example:8200' }",
      { ...BASE_ENV, VAULT_ADDR: "https://env.example:8200" },
      (c) => c.vault.address,
      "https://file.example:8200",
    ],
    [
      "fills what the file leaves out from the environment",
      "vault: { tls: { ca_path: /file-cas } }",
      { ...BASE_ENV, VAULT_CACERT: "/env-ca.pem", VAULT_CAPATH: "/env-cas" },
      (c) => [c.vault.tls.caCertFile, c.vault.tls.caPath],
      ["/env-ca.pem", "/file-cas"],
    ],
    [
      "treats an empty YAML value as not set, so the environment fills it",
      "vault:\n  address:\n",
      BASE_ENV,
      (c) => c.vault.address,
      "http://127.0.0.1:8200",
    ],
    ["accepts an empty file", "", BASE_ENV, (c) => c.vault.kvMount, "secret"],
    [
      "uses token_file instead of the environment token when the file names one",
      "vault: { auth: { token_file: /run/token } }",
      BASE_ENV,
      (c) => c.vault.auth,
      { method: "token", token: undefined, tokenFile: "/run/token" },
    ],
    [
      "reads an AppRole with a role id file and a wrapped secret id",
      "vault: { auth: { method: approle, role_id_file: /r, secret_id_file: /s, secret_id_wrapped: true } }",
      BASE_ENV,
      (c) => c.vault.auth,
      {
        method: "approle",
        mount: "approle",
        roleId: undefined,
        roleIdFile: "/r",
        secretIdFile: "/s",
        secretIdWrapped: true,
      },
    ],
    [
      "reads an AppRole on its own mount with an inline role id",
      "vault: { address: 'https://v', auth: { method: approle, mount: ar2, role_id: rid, secret_id_file: /s } }",
      {},
      (c) => c.vault.auth,
      {
        method: "approle",
        mount: "ar2",
        roleId: "rid",
        roleIdFile: undefined,
        secretIdFile: "/s",
        secretIdWrapped: false,
      },
    ],
    [
      "reads Kubernetes auth with the default service-account token file",
      "vault: { address: 'https://v', auth: { method: kubernetes, role: eca-rotator } }",
      {},
      (c) => c.vault.auth,
      {
        method: "kubernetes",
        mount: "kubernetes",
        role: "eca-rotator",
        jwtFile: "/var/run/secrets/kubernetes.io/serviceaccount/token",
      },
    ],
    [
      "accepts http:// for a loopback My Domain URL (the simulator)",
      "salesforce: { connections: { sim: { my_domain_url: 'http://localhost:9911', credentials_path: eca-rotator/connections/sim } } }",
      BASE_ENV,
      (c) => c.salesforce.connections[0]?.myDomainUrl,
      "http://localhost:9911",
    ],
    [
      "reads a JWT bearer connection",
      "salesforce: { connections: { p: { my_domain_url: 'https://a.my.salesforce.com', credentials_path: c/p, auth: jwt_bearer, jwt_username: ops@acme.com, jwt_private_key_file: /k.pem } } }",
      BASE_ENV,
      (c) => c.salesforce.connections[0]?.jwtPrivateKeyFile,
      "/k.pem",
    ],
    [
      "reads the listing mode and scan concurrency",
      "vault: { listing: per-key, scan_concurrency: 64 }",
      BASE_ENV,
      (c) => [c.vault.listing, c.vault.scanConcurrency],
      ["per-key", 64],
    ],
    [
      "reads report, server and log settings",
      "report: { schedule: '30 6 * * 1-5' }\nserver: { listen: '[::1]:9090' }\nlog: { level: debug }",
      BASE_ENV,
      (c) => [c.report.schedule, c.server.listen, c.log.level],
      ["30 6 * * 1-5", "[::1]:9090", "debug"],
    ],
  ])("%s", (_name, yaml, env, pick, expected) => {
    expect(pick(load(yaml, env))).toEqual(expected);
  });

  it("takes the file path from ECA_ROTATOR_CONFIG when no file is given", () => {
    const read: string[] = [];
    const cfg = loadConfig({
      env: { ...BASE_ENV, ECA_ROTATOR_CONFIG: "/srv/eca.yaml" },
      readFile: (p) => {
        read.push(p);
        return "vault: { kv_mount: kv }";
      },
    });
    expect(read).toEqual(["/srv/eca.yaml"]);
    expect(cfg.vault.kvMount).toBe("kv");
    expect(cfg.sources[0]).toBe("file /srv/eca.yaml");
  });

  it("prefers the file given explicitly (--config) over ECA_ROTATOR_CONFIG", () => {
    const read: string[] = [];
    loadConfig({
      file: "/cli.yaml",
      env: { ...BASE_ENV, ECA_ROTATOR_CONFIG: "/env.yaml" },
      readFile: (p) => {
        read.push(p);
        return "";
      },
    });
    expect(read).toEqual(["/cli.yaml"]);
  });
});

describe("BAO_* and VAULT_* precedence", () => {
  it.each([
    [
      "BAO_ADDR wins over VAULT_ADDR",
      { BAO_ADDR: "https://bao:8200", VAULT_ADDR: "https://vault:8200" },
      "https://bao:8200",
      "env BAO_ADDR",
    ],
    [
      "VAULT_ADDR is used when BAO_ADDR is unset",
      { VAULT_ADDR: "https://vault:8200" },
      "https://vault:8200",
      "env VAULT_ADDR",
    ],
    ["BAO_ADDR alone is used", { BAO_ADDR: "https://bao:8200" }, "https://bao:8200", "env BAO_ADDR"],
  ])("%s", (_name, env, address, origin) => {
    const cfg = load(undefined, { ...env, VAULT_TOKEN: "test-secret-t" });
    expect(cfg.vault.address).toBe(address);
    expect(cfg.origins?.["vault.address"]).toBe(origin);
  });

  it("lets a set-but-empty BAO_ variable hide the VAULT_ one, as OpenBao's client does", () => {
    const cfg = load(undefined, {
      BAO_ADDR: "https://bao:8200",
      BAO_CACERT: "",
      VAULT_CACERT: "/vault-ca.pem",
      VAULT_TOKEN: "test-secret-t",
    });
    expect(cfg.vault.tls.caCertFile).toBeUndefined();
    expect(cfg.sources).not.toContain("env VAULT_CACERT");
  });

  it("takes the token from BAO_TOKEN before VAULT_TOKEN and records only the variable's name", () => {
    const cfg = load(undefined, {
      VAULT_ADDR: "https://v",
      BAO_TOKEN: "test-secret-bao",
      VAULT_TOKEN: "test-secret-vault",
    });
    expect(cfg.vault.auth.method === "token" && cfg.vault.auth.token?.reveal()).toBe("test-secret-bao");
    expect(cfg.sources).toEqual(["env VAULT_ADDR", "env BAO_TOKEN"]);
  });

  it("treats an empty BAO_TOKEN as no token even when VAULT_TOKEN is set", () => {
    expect(() =>
      load(undefined, { VAULT_ADDR: "https://v", BAO_TOKEN: "", VAULT_TOKEN: "test-secret-vault" }),
    ).toThrow(/vault\.auth: method token needs a token/);
  });

  it("ignores the environment token for AppRole and does not list it as a source", () => {
    const cfg = load("vault: { auth: { method: approle, role_id: r, secret_id_file: /s } }", BASE_ENV);
    expect(cfg.sources).toEqual([`file ${CONFIG_PATH}`, "env VAULT_ADDR"]);
  });
});
