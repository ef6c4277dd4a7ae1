import { describe, expect, it } from "vitest";
import { loadConfig, summarizeConfig } from "../../src/config/load-config.ts";

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
        "rotation.lease_ttl: 15m (default)",
        "rotation.retire_after: 0s (default)",
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
