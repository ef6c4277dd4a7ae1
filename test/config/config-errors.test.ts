import { inspect } from "node:util";
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig, summarizeConfig } from "../../src/config/load-config.ts";
import { BASE_ENV, load, problemsOf } from "./config-test-helpers.ts";

const CONN = "my_domain_url: 'https://a.my.salesforce.com', credentials_path: eca-rotator/connections/p";

describe("loadConfig rejects", () => {
  it.each<[string, string | undefined, Record<string, string>, string]>([
    [
      "a misspelt key, suggesting the right one",
      "vault: { adress: 'https://v' }",
      BASE_ENV,
      "vault.adress: unknown key (did you mean vault.address?)",
    ],
    [
      "a misspelt nested key",
      "vault: { tls: { skip_verfy: true } }",
      BASE_ENV,
      "vault.tls.skip_verfy: unknown key (did you mean vault.tls.skip_verify?)",
    ],
    [
      "a misspelt top-level key",
      "rotaton: { soak: 1m }",
      BASE_ENV,
      "rotaton: unknown key (did you mean rotation?)",
    ],
    [
      "a dash instead of an underscore",
      "vault: { kv-mount: kv }",
      BASE_ENV,
      "vault.kv-mount: unknown key (did you mean vault.kv_mount?)",
    ],
    [
      "a misspelt key inside a connection",
      `salesforce: { connections: { p: { ${CONN}, api_verison: v65.0 } } }`,
      BASE_ENV,
      "salesforce.connections.p.api_verison: unknown key (did you mean salesforce.connections.p.api_version?)",
    ],
    [
      "an unknown key with no near match, listing the known ones",
      "log: { colour: red }",
      BASE_ENV,
      "log.colour: unknown key (known keys: level)",
    ],
    [
      "a key that cannot be a name, without showing it",
      `vault: { "${"x".repeat(80)}": 1 }`,
      BASE_ENV,
      "vault.<a 80-character key>: unknown key (known keys: address, auth, namespace, tls, timeout, max_retries, kv_mount, prefixes, state_prefix, listing, scan_concurrency, allow_insecure_http)",
    ],
    [
      "an inline token, pointing to the places a token may come from",
      "vault: { auth: { token: abc } }",
      BASE_ENV,
      "vault.auth.token: unknown key (a token is never written in the config file: use vault.auth.token_file, or VAULT_TOKEN / BAO_TOKEN)",
    ],
    [
      "an inline connection secret",
      `salesforce: { connections: { p: { ${CONN}, client_secret: x } } }`,
      BASE_ENV,
      "salesforce.connections.p.client_secret: unknown key (the connection's client id and secret live in KV at credentials_path, never in this file)",
    ],
    [
      "no Vault address anywhere",
      undefined,
      { VAULT_TOKEN: "test-secret-t" },
      "vault.address: is not set: set it in the config file, or VAULT_ADDR / BAO_ADDR",
    ],
    [
      "an address that is not a URL",
      "vault: { address: 'not a url' }",
      BASE_ENV,
      "vault.address: must be a URL such as https://vault.example.com:8200",
    ],
    [
      "an address that is not http(s)",
      "vault: { address: 'ftp://v' }",
      BASE_ENV,
      "vault.address: must be an http:// or https:// URL",
    ],
    [
      "an address from the environment with credentials in it, naming the variable",
      undefined,
      { VAULT_ADDR: "https://u:p@v:8200", VAULT_TOKEN: "t" },
      "vault.address (from VAULT_ADDR): must not contain a user name or password",
    ],
    [
      "an address with a query",
      "vault: { address: 'https://v/?token=x' }",
      BASE_ENV,
      "vault.address: must not contain a query or fragment",
    ],
    [
      "an address with a path",
      "vault: { address: 'https://v/vault' }",
      BASE_ENV,
      "vault.address: must be scheme://host[:port] without a path",
    ],
    [
      "token auth without any token",
      "vault: { auth: { method: token } }",
      { VAULT_ADDR: "https://v" },
      "vault.auth: method token needs a token: set vault.auth.token_file, or VAULT_TOKEN / BAO_TOKEN",
    ],
    [
      "an unknown auth method",
      "vault: { auth: { method: ldap } }",
      BASE_ENV,
      "vault.auth.method: must be one of token, approle, kubernetes",
    ],
    [
      "AppRole without a secret id file",
      "vault: { auth: { method: approle, role_id: r } }",
      BASE_ENV,
      "vault.auth.secret_id_file: is required for method approle",
    ],
    [
      "AppRole without a role id",
      "vault: { auth: { method: approle, secret_id_file: /s } }",
      BASE_ENV,
      "vault.auth: method approle needs role_id or role_id_file",
    ],
    [
      "AppRole with both role id forms",
      "vault: { auth: { method: approle, role_id: r, role_id_file: /r, secret_id_file: /s } }",
      BASE_ENV,
      "vault.auth.role_id_file: set only one of role_id and role_id_file",
    ],
    [
      "Kubernetes without a role",
      "vault: { auth: { method: kubernetes } }",
      BASE_ENV,
      "vault.auth.role: is required for method kubernetes",
    ],
    [
      "a key of another auth method",
      "vault: { auth: { method: kubernetes, role: r, secret_id_file: /s } }",
      BASE_ENV,
      "vault.auth.secret_id_file: is only used with method approle",
    ],
    [
      "a wrong type",
      "vault: { max_retries: 'three' }",
      BASE_ENV,
      "vault.max_retries: must be a whole number from 0 to 10",
    ],
    [
      "a number out of range",
      "vault: { scan_concurrency: 0 }",
      BASE_ENV,
      "vault.scan_concurrency: must be a whole number from 1 to 256",
    ],
    [
      "a bad VAULT_MAX_RETRIES, naming the variable",
      undefined,
      { ...BASE_ENV, VAULT_MAX_RETRIES: "many" },
      "vault.max_retries (from VAULT_MAX_RETRIES): must be a whole number from 0 to 10",
    ],
    [
      "a bad BAO_SKIP_VERIFY, naming the variable",
      undefined,
      { ...BASE_ENV, BAO_SKIP_VERIFY: "yes please" },
      "vault.tls.skip_verify (from BAO_SKIP_VERIFY): must be true or false",
    ],
    [
      "a bad VAULT_CLIENT_TIMEOUT",
      undefined,
      { ...BASE_ENV, VAULT_CLIENT_TIMEOUT: "soon" },
      "vault.timeout (from VAULT_CLIENT_TIMEOUT): must be a duration like 90d, 12h, 30m, 45s, 2w or 1d12h",
    ],
    [
      "a bad duration",
      "rotation: { soak: banana }",
      BASE_ENV,
      "rotation.soak: must be a duration like 90d, 12h, 30m, 45s, 2w or 1d12h",
    ],
    [
      "a negative duration",
      "rotation: { scan_interval: -3d }",
      BASE_ENV,
      "rotation.scan_interval: must not be negative",
    ],
    [
      "a lease too short for a renewal to wait out one Vault timeout and try again",
      "rotation: { lease_ttl: 29s }",
      BASE_ENV,
      "rotation.lease_ttl: must be at least 3 × vault.timeout (30s): the lease is renewed every third of it, and a renewal that waits vault.timeout for Vault and fails must leave time for a second one",
    ],
    [
      "a lease too short for a raised vault.timeout",
      "vault: { timeout: 1m }\nrotation: { lease_ttl: 2m }",
      BASE_ENV,
      "rotation.lease_ttl: must be at least 3 × vault.timeout (3m): the lease is renewed every third of it, and a renewal that waits vault.timeout for Vault and fails must leave time for a second one",
    ],
    [
      "a retry budget shorter than one scan",
      "rotation: { scan_interval: 5m, retry_budget: 1m }",
      BASE_ENV,
      "rotation.retry_budget: must be at least rotation.scan_interval (the first retry waits about that long)",
    ],
    [
      "a retry budget longer than a week",
      "rotation: { retry_budget: 8d }",
      BASE_ENV,
      "rotation.retry_budget: must be at most 7d",
    ],
    [
      "a soak_max shorter than the soak",
      "rotation: { soak: 2h, soak_max: 1h }",
      BASE_ENV,
      "rotation.soak_max: must be at least rotation.soak",
    ],
    [
      "an unknown soak_until",
      "rotation: { soak_until: evidence }",
      BASE_ENV,
      "rotation.soak_until: must be one of time, readers",
    ],
    [
      "an unknown on_soak_max",
      "rotation: { on_soak_max: wait }",
      BASE_ENV,
      "rotation.on_soak_max: must be one of promote, hold",
    ],
    [
      "a misspelt retry budget",
      "rotation: { retry_budgets: 1h }",
      BASE_ENV,
      "rotation.retry_budgets: unknown key (did you mean rotation.retry_budget?)",
    ],
    [
      "zero attempts",
      "rotation: { max_attempts: 0 }",
      BASE_ENV,
      "rotation.max_attempts: must be a whole number from 1 to 100",
    ],
    [
      "a misspelt fingerprint key setting",
      "audit: { fingerprint_keyfile: /k }",
      BASE_ENV,
      "audit.fingerprint_keyfile: unknown key (did you mean audit.fingerprint_key_file?)",
    ],
    [
      "a zero scan interval",
      "rotation: { scan_interval: 0s }",
      BASE_ENV,
      "rotation.scan_interval: must be greater than zero",
    ],
    [
      "a duration given as a number",
      "vault: { timeout: 10 }",
      BASE_ENV,
      "vault.timeout: must be a duration such as 10s, 15m or 14d",
    ],
    [
      "a boolean given as a string",
      "vault: { tls: { skip_verify: 'yes' } }",
      BASE_ENV,
      "vault.tls.skip_verify: must be true or false",
    ],
    [
      "an unknown listing mode",
      "vault: { listing: bulk }",
      BASE_ENV,
      "vault.listing: must be one of auto, detailed, per-key",
    ],
    ["an empty prefix list", "vault: { prefixes: [] }", BASE_ENV, "vault.prefixes: must not be empty"],
    [
      "a glob in a prefix",
      "vault: { prefixes: ['api/*'] }",
      BASE_ENV,
      "vault.prefixes[0]: must be a KV path such as api-credentials/team-a (no empty, . or .. segments, no * or +)",
    ],
    [
      "a .. segment in the state prefix",
      "vault: { state_prefix: 'a/../b' }",
      BASE_ENV,
      "vault.state_prefix: must be a KV path such as api-credentials/team-a (no empty, . or .. segments, no * or +)",
    ],
    [
      "a prefix nested in another",
      "vault: { prefixes: [a, a/b] }",
      BASE_ENV,
      "vault.prefixes[1]: lies inside vault.prefixes[0] (prefixes are scanned recursively)",
    ],
    [
      "a duplicated prefix",
      "vault: { prefixes: [a, a] }",
      BASE_ENV,
      "vault.prefixes[1]: lies inside vault.prefixes[0] (prefixes are scanned recursively)",
    ],
    [
      "a state prefix inside a scanned prefix",
      "vault: { prefixes: [a], state_prefix: a/state }",
      BASE_ENV,
      "vault.state_prefix: must not overlap vault.prefixes[0]: the rotator's own state would be scanned as credentials",
    ],
    [
      "http:// for a non-loopback My Domain",
      "salesforce: { connections: { p: { my_domain_url: 'http://acme.my.salesforce.com', credentials_path: c } } }",
      BASE_ENV,
      "salesforce.connections.p.my_domain_url: is plain http:// to a host that is not loopback, which would send the admin app's secret and tokens in clear: use https://, or set salesforce.connections.p.allow_insecure_http: true (only on a network you trust)",
    ],
    [
      "a malformed API version",
      `salesforce: { connections: { p: { ${CONN}, api_version: '65.0' } } }`,
      BASE_ENV,
      "salesforce.connections.p.api_version: must look like v65.0",
    ],
    [
      "a connection without credentials_path",
      "salesforce: { connections: { p: { my_domain_url: 'https://a.my.salesforce.com' } } }",
      BASE_ENV,
      "salesforce.connections.p.credentials_path: is required",
    ],
    [
      "JWT bearer without a username",
      `salesforce: { connections: { p: { ${CONN}, auth: jwt_bearer, jwt_private_key_file: /k } } }`,
      BASE_ENV,
      "salesforce.connections.p.jwt_username: is required for auth jwt_bearer",
    ],
    [
      "a JWT key file with client credentials",
      `salesforce: { connections: { p: { ${CONN}, jwt_private_key_file: /k } } }`,
      BASE_ENV,
      "salesforce.connections.p.jwt_private_key_file: is only used with auth jwt_bearer",
    ],
    [
      "a bad connection name",
      `salesforce: { connections: { 'has space': { ${CONN} } } }`,
      BASE_ENV,
      "salesforce.connections.has space: connection names use letters, digits, '.', '_' and '-' (at most 64)",
    ],
    [
      "connections given as a list",
      "salesforce: { connections: [a] }",
      BASE_ENV,
      "salesforce.connections: must be a mapping of connection names to connections",
    ],
    [
      "a section that is not a mapping",
      "rotation: fast",
      BASE_ENV,
      "rotation: must be a mapping (key: value)",
    ],
    [
      "a bad cron schedule",
      "report: { schedule: 'every monday' }",
      BASE_ENV,
      'report.schedule: must be a 5-field cron expression in UTC that fires, such as "0 9 * * 1"',
    ],
    [
      "a cron schedule with five fields that croner rejects",
      "report: { schedule: '0 25 * * 1' }",
      BASE_ENV,
      'report.schedule: must be a 5-field cron expression in UTC that fires, such as "0 9 * * 1"',
    ],
    [
      "a bad listen address",
      "server: { listen: '8080' }",
      BASE_ENV,
      "server.listen: must be host:port, such as 127.0.0.1:8080 or [::1]:8080",
    ],
    [
      "an unknown log level",
      "log: { level: loud }",
      BASE_ENV,
      "log.level: must be one of fatal, error, warn, info, debug, trace",
    ],
    [
      "a top level that is not a mapping",
      "- a\n- b\n",
      BASE_ENV,
      "config file: must be a YAML mapping (key: value) at the top level",
    ],
    [
      "a duplicated key, by line",
      "vault:\n  kv_mount: a\n  kv_mount: b\n",
      BASE_ENV,
      "config file line 3, column 3: YAML syntax error (duplicate key)",
    ],
  ])("%s", (_name, yaml, env, line) => {
    expect(problemsOf(yaml, env)).toContain(line);
  });

  it("lists every problem at once, one line each", () => {
    const problems = problemsOf(
      "vault: { adress: x, max_retries: -1 }\nrotation: { soak: x }\nlog: { level: x }",
      {},
    );
    expect(problems).toEqual([
      "vault.address: is not set: set it in the config file, or VAULT_ADDR / BAO_ADDR",
      "vault.auth: method token needs a token: set vault.auth.token_file, or VAULT_TOKEN / BAO_TOKEN",
      "vault.max_retries: must be a whole number from 0 to 10",
      "vault.adress: unknown key (did you mean vault.address?)",
      "rotation.soak: must be a duration like 90d, 12h, 30m, 45s, 2w or 1d12h",
      "log.level: must be one of fatal, error, warn, info, debug, trace",
    ]);
  });

  it("names an unreadable file and its error code, as CONFIG_INVALID", () => {
    const err = (() => {
      try {
        loadConfig({ file: "/nowhere/eca.yaml", env: BASE_ENV });
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).code).toBe("CONFIG_INVALID");
    expect((err as ConfigError).problems).toEqual(["config file /nowhere/eca.yaml: cannot be read (ENOENT)"]);
  });
});

describe("secrets never leak from configuration errors or the summary", () => {
  const CANARY = "test-secret-canary-9f3a7c";

  it("gives the line of a YAML syntax error but not the content of that line", () => {
    // yaml's own message for this error quotes the line, canary included.
    const problems = problemsOf(
      `vault:\n  address: https://v\n  token_file: ${CANARY}: x\n  kv_mount: secret\n`,
    );
    expect(problems.length).toBeGreaterThan(0);
    expect(
      problems.every((p) => /^config file line \d+, column \d+: YAML syntax error \(.+\)$/.test(p)),
    ).toBe(true);
    expect(problems[0]).toMatch(/^config file line 3,/);
    expect(problems.join("\n")).not.toContain(CANARY);
  });

  it.each<[string, string | undefined, Record<string, string>]>([
    ["a canary in a wrong-typed value", `vault: { max_retries: "${CANARY}" }`, { VAULT_TOKEN: CANARY }],
    ["a canary as an address", `vault: { address: "${CANARY}" }`, { VAULT_TOKEN: CANARY }],
    [
      "a canary in an address's password",
      `vault: { address: "https://u:${CANARY}@v" }`,
      { VAULT_TOKEN: CANARY },
    ],
    ["a canary in an address's query", `vault: { address: "https://v/?t=${CANARY}" }`, {}],
    ["a canary under an unknown key", `vault: { auth: { token: "${CANARY}" } }`, { VAULT_TOKEN: CANARY }],
    ["a canary as a duration", `rotation: { soak: "${CANARY}" }`, { VAULT_TOKEN: CANARY }],
    ["a canary as an enum value", `log: { level: "${CANARY}" }`, { VAULT_TOKEN: CANARY }],
    [
      "a canary in every Vault variable",
      undefined,
      Object.fromEntries(
        ["ADDR", "TOKEN", "MAX_RETRIES", "CLIENT_TIMEOUT", "SKIP_VERIFY", "NAMESPACE"].map((n) => [
          `VAULT_${n}`,
          `${CANARY}/x`,
        ]),
      ),
    ],
    [
      "a canary as a connection URL",
      `salesforce: { connections: { p: { my_domain_url: "http://${CANARY}.example", credentials_path: "${CANARY}/*" } } }`,
      { VAULT_TOKEN: CANARY },
    ],
  ])("keeps %s out of every problem line", (_name, yaml, env) => {
    const problems = problemsOf(yaml, { VAULT_ADDR: "https://v", ...env });
    expect(problems.length).toBeGreaterThan(0);
    expect(problems.join("\n")).not.toContain(CANARY);
  });

  it("shows the token only as set, with the variable it came from, in the summary and when printed", () => {
    const cfg = loadConfig({ env: { VAULT_ADDR: "https://vault.example:8200", VAULT_TOKEN: CANARY } });
    const summary = summarizeConfig(cfg);
    expect(summary).toContain("vault.auth.token: set (from VAULT_TOKEN)");
    expect(summary).not.toContain(CANARY);
    expect(JSON.stringify(cfg)).not.toContain(CANARY);
    expect(inspect(cfg, { depth: 10 })).not.toContain(CANARY);
  });

  it("shows an AppRole role id only as set", () => {
    const cfg = loadConfig({
      file: "/c.yaml",
      env: { VAULT_ADDR: "https://v" },
      readFile: () =>
        `vault: { auth: { method: approle, role_id: "${CANARY}", secret_id_file: /run/secret-id } }`,
    });
    const summary = summarizeConfig(cfg);
    expect(summary).toContain("vault.auth.role_id: set (file)");
    expect(summary).toContain("vault.auth.secret_id_file: /run/secret-id (file)");
    expect(summary).not.toContain(CANARY);
  });
});

describe("plain http:// to a host that is not loopback", () => {
  const vaultRefusal = (from = "") =>
    `vault.address${from}: is plain http:// to a host that is not loopback, which would send the Vault token in clear: use https://, or set vault.allow_insecure_http: true (only on a network you trust)`;

  it.each<[string, string | undefined, Record<string, string>, string]>([
    ["in the file", "vault: { address: 'http://vault.internal:8200' }", { VAULT_TOKEN: "t" }, ""],
    [
      "from VAULT_ADDR",
      undefined,
      { VAULT_ADDR: "http://vault:8200", VAULT_TOKEN: "t" },
      " (from VAULT_ADDR)",
    ],
    ["from BAO_ADDR", undefined, { BAO_ADDR: "http://10.0.0.7:8200", VAULT_TOKEN: "t" }, " (from BAO_ADDR)"],
    // Names that only look like loopback are remote hosts.
    [
      "to a lookalike name",
      undefined,
      { VAULT_ADDR: "http://127.0.0.1.nip.io:8200", VAULT_TOKEN: "t" },
      " (from VAULT_ADDR)",
    ],
    [
      "to localhost.<domain>",
      undefined,
      { VAULT_ADDR: "http://localhost.example.com", VAULT_TOKEN: "t" },
      " (from VAULT_ADDR)",
    ],
    ["to 0.0.0.0", undefined, { VAULT_ADDR: "http://0.0.0.0:8200", VAULT_TOKEN: "t" }, " (from VAULT_ADDR)"],
  ])("refuses a Vault address %s, naming the key and the opt-out", (_name, yaml, env, from) => {
    expect(problemsOf(yaml, env)).toEqual([vaultRefusal(from)]);
  });

  it.each([
    "http://127.0.0.1:8200",
    "http://127.9.8.7:8200",
    "http://localhost:8200",
    "http://LOCALHOST",
    "http://[::1]:8200",
    "https://vault.example.com:8200",
  ])("accepts %s without an opt-out", (addr) => {
    const cfg = load(undefined, { VAULT_ADDR: addr, VAULT_TOKEN: "t" });
    expect(cfg.vault.allowInsecureHttp).toBe(false);
  });

  it("accepts plain http to a remote Vault when vault.allow_insecure_http is true", () => {
    const cfg = load("vault: { allow_insecure_http: true }", {
      VAULT_ADDR: "http://vault:8200",
      VAULT_TOKEN: "t",
    });
    expect(cfg.vault.address).toBe("http://vault:8200");
    expect(cfg.vault.allowInsecureHttp).toBe(true);
    expect(problemsOf("vault: { allow_insecure_http: yes please }")).toEqual([
      "vault.allow_insecure_http: must be true or false",
    ]);
  });

  it("refuses a remote http My Domain per connection, and accepts it with that connection's opt-out", () => {
    const yaml = (opt: string) => `
salesforce:
  connections:
    a: { my_domain_url: 'http://acme.my.salesforce.com', credentials_path: c/a${opt} }
    b: { my_domain_url: 'http://127.0.0.1:9911', credentials_path: c/b }
    c: { my_domain_url: 'https://acme--sb.sandbox.my.salesforce.com', credentials_path: c/c }
`;
    expect(problemsOf(yaml(""))).toEqual([
      "salesforce.connections.a.my_domain_url: is plain http:// to a host that is not loopback, which would send the admin app's secret and tokens in clear: use https://, or set salesforce.connections.a.allow_insecure_http: true (only on a network you trust)",
    ]);
    const cfg = load(yaml(", allow_insecure_http: true"));
    expect(cfg.salesforce.connections.map((c) => [c.name, c.allowInsecureHttp])).toEqual([
      ["a", true],
      ["b", false],
      ["c", false],
    ]);
  });

  it("reads allow_insecure_http for chat targets and the HTTP audit sink (their URLs are checked once resolved)", () => {
    const cfg = load(`
notifications:
  targets:
    lab: { type: webhook, url: { env: LAB_URL }, secret: { env: LAB_KEY }, allow_insecure_http: true }
    ops: { type: slack, url: { env: SLACK_URL } }
audit:
  http: { url: { env: AUDIT_URL }, allow_insecure_http: true }
`);
    expect(cfg.notifications.targets.map((t) => [t.name, t.allowInsecureHttp])).toEqual([
      ["lab", true],
      ["ops", false],
    ]);
    expect(cfg.audit.http?.allowInsecureHttp).toBe(true);
    expect(problemsOf("audit: { http: { url: { env: U }, allow_insecure_htp: true } }")).toEqual([
      "audit.http.allow_insecure_htp: unknown key (did you mean audit.http.allow_insecure_http?)",
    ]);
  });
});
