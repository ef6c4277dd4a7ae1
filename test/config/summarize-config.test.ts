import { describe, expect, it } from "vitest";
import { loadConfig, summarizeConfig } from "../../src/config/load-config.ts";
import { transportWarnings } from "../../src/config/summarize-config.ts";

describe("summarizeConfig", () => {
  it("says which source set each setting, one setting a line", () => {
    const cfg = loadConfig({
      file: "/etc/eca.yaml",
      env: {
        BAO_ADDR: "https://bao.example:8200",
        VAULT_CACERT: "/etc/ssl/vault-ca.pem",
        VAULT_TOKEN: "test-secret-x",
      },
      readFile: () =>
        "vault:\n  auth: { token_file: /run/secrets/vault-token }\n  prefixes: [api-credentials, partners]\n" +
        "rotation: { soak: 1h30m }\nsalesforce:\n  connections:\n    prod: { my_domain_url: 'https://acme.my.salesforce.com', credentials_path: eca-rotator/connections/prod }\n",
    });
    const lines = summarizeConfig(cfg).split("\n");
    expect(lines[0]).toBe("sources: file /etc/eca.yaml, env BAO_ADDR, env VAULT_CACERT");
    expect(lines).toEqual(
      expect.arrayContaining([
        "vault.address: https://bao.example:8200 (from BAO_ADDR)",
        "vault.auth.method: token (default)",
        "vault.auth.token_file: /run/secrets/vault-token (re-read on every use) (file)",
        "vault.tls.ca_cert: /etc/ssl/vault-ca.pem (from VAULT_CACERT)",
        "vault.tls.skip_verify: false (default)",
        "vault.namespace: not set",
        "vault.prefixes: api-credentials, partners (file)",
        "rotation.soak: 1h30m (file)",
        "rotation.warning_window: 14d (default)",
        "salesforce.connections.prod.my_domain_url: https://acme.my.salesforce.com (file)",
        "salesforce.connections.prod.api_version: v65.0 (default)",
        "audit.file: not set",
        "audit.fingerprint_key_file: not set",
        "rotation.max_attempts: 5 (default)",
        "rotation.retry_budget: 4h (default)",
        "rotation.lease_ttl: 30s (default)",
        "rotation.retire_after: 0s (default)",
        "rotation.soak_until: time (default)",
        "rotation.soak_max: 1d (default)",
        "rotation.on_soak_max: promote (default)",
      ]),
    );
    expect(lines.some((l) => l.startsWith("vault.auth.token:"))).toBe(false);
  });

  it("flags turned-off TLS verification", () => {
    const cfg = loadConfig({
      env: { VAULT_ADDR: "https://v", VAULT_TOKEN: "test-secret-x", VAULT_SKIP_VERIFY: "true" },
    });
    expect(summarizeConfig(cfg)).toContain(
      "vault.tls.skip_verify: true (TLS verification is OFF) (from VAULT_SKIP_VERIFY)",
    );
  });
});

describe("transportWarnings", () => {
  const load = (env: Record<string, string>, file?: string) =>
    loadConfig({
      ...(file === undefined ? {} : { file: "/etc/eca.yaml", readFile: () => file }),
      env: { VAULT_TOKEN: "test-secret-x", ...env },
    });

  it("is empty for https, loopback http, and an opt-out that nothing uses", () => {
    expect(transportWarnings(load({ VAULT_ADDR: "https://v" }))).toEqual([]);
    expect(transportWarnings(load({ VAULT_ADDR: "http://127.0.0.1:8200" }))).toEqual([]);
    const optedIn = load(
      { VAULT_ADDR: "https://v" },
      "vault: { allow_insecure_http: true }\nsalesforce: { connections: { sim: { my_domain_url: 'http://127.0.0.1:9', credentials_path: c, allow_insecure_http: true } } }",
    );
    expect(transportWarnings(optedIn)).toEqual([]);
  });

  it.each([
    ["VAULT_SKIP_VERIFY", { VAULT_SKIP_VERIFY: "true" }, undefined, " (from VAULT_SKIP_VERIFY)"],
    ["BAO_SKIP_VERIFY", { BAO_SKIP_VERIFY: "1" }, undefined, " (from BAO_SKIP_VERIFY)"],
    ["vault.tls.skip_verify", {}, "vault: { tls: { skip_verify: true } }", ""],
  ])("says TLS verification for Vault is off when %s turns it off", (_name, env, file, from) => {
    expect(transportWarnings(load({ VAULT_ADDR: "https://vault.example:8200", ...env }, file))).toEqual([
      {
        key: "vault.tls.skip_verify",
        text: `TLS certificate verification for Vault is OFF: vault.tls.skip_verify${from} is true, so anyone on the network path can pose as Vault and receive the token; trust Vault's CA with vault.tls.ca_cert instead`,
      },
    ]);
  });

  it("names each target allowed plain http to a remote host", () => {
    const cfg = load(
      { VAULT_ADDR: "http://vault:8200" },
      "vault: { allow_insecure_http: true }\nsalesforce: { connections: { lab: { my_domain_url: 'http://sf.lab:8443', credentials_path: c, allow_insecure_http: true } } }",
    );
    expect(transportWarnings(cfg)).toEqual([
      {
        key: "vault.allow_insecure_http",
        text: "vault.allow_insecure_http is on and vault.address is plain http:// to vault:8200, not a loopback host: the Vault token and every secret read cross the network in clear",
      },
      {
        key: "salesforce.connections.lab.allow_insecure_http",
        text: "salesforce.connections.lab.allow_insecure_http is on and salesforce.connections.lab.my_domain_url is plain http:// to sf.lab:8443, not a loopback host: the admin app's secret and tokens cross the network in clear",
      },
    ]);
  });
});
