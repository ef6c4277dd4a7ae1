// audit.chain_key: a secret reference like the daemon's others, only with audit.file, never beside the log.
// Errors name the key, never the value: an inline key is a canary that no problem line may carry.
import { describe, expect, it } from "vitest";
import { summarizeConfig } from "../../src/config/load-config.ts";
import { load, problemsOf } from "./config-test-helpers.ts";

const CANARY = "test-secret-canary-chain-key-inline-5e2b";

describe("audit.chain_key", () => {
  it("reads a {file}, {env} or {vault} reference and keeps its config key", () => {
    const file = load("audit: { file: /var/lib/eca/audit.jsonl, chain_key: { file: /etc/eca/chain.key } }");
    expect(file.audit.chainKey).toEqual({ kind: "file", path: "/etc/eca/chain.key", key: "audit.chain_key" });
    const env = load("audit: { file: /var/lib/eca/audit.jsonl, chain_key: { env: AUDIT_CHAIN_KEY } }");
    expect(env.audit.chainKey).toEqual({ kind: "env", name: "AUDIT_CHAIN_KEY", key: "audit.chain_key" });
    const vault = load(
      'audit: { file: /var/lib/eca/audit.jsonl, chain_key: { vault: "eca-rotator/audit#chain_key" } }',
    );
    expect(vault.audit.chainKey).toEqual({
      kind: "vault",
      path: "eca-rotator/audit",
      field: "chain_key",
      key: "audit.chain_key",
    });
    expect(load("audit: { file: /var/lib/eca/audit.jsonl }").audit.chainKey).toBeUndefined();
  });

  it("refuses a key written inline, naming the key and never showing the value", () => {
    const problems = problemsOf(`audit: { file: /var/lib/eca/audit.jsonl, chain_key: ${CANARY} }`);
    expect(problems).toEqual([
      'audit.chain_key: is a secret and is never written inline: use {file: PATH}, {env: NAME} or {vault: "KV_PATH#FIELD"}',
    ]);
    expect(problems.join("\n")).not.toContain(CANARY);
  });

  it("refuses a key without audit.file, two sources, and a misspelt key with a hint", () => {
    expect(problemsOf("audit: { chain_key: { env: K } }")).toEqual([
      "audit.chain_key: is only used with audit.file (it keys the file's hash chain)",
    ]);
    expect(problemsOf("audit: { file: /a/audit.jsonl, chain_key: { env: K, file: /k } }")).toEqual([
      "audit.chain_key: set exactly one of file, env and vault",
    ]);
    expect(problemsOf("audit: { file: /a/audit.jsonl, chainkey: { env: K } }")).toEqual([
      "audit.chainkey: unknown key (did you mean audit.chain_key?)",
    ]);
  });

  it("refuses a {file} key in the audit file's folder or below it, and accepts one elsewhere", () => {
    for (const keyFile of [
      "/var/lib/eca/chain.key",
      "/var/lib/eca/keys/chain.key",
      "/var/lib/eca/./x/../k",
    ]) {
      expect(
        problemsOf(`audit: { file: /var/lib/eca/audit.jsonl, chain_key: { file: "${keyFile}" } }`),
      ).toEqual([
        "audit.chain_key: must not be a file in the audit file's folder /var/lib/eca: keep the key away from the log (another folder, or {vault: ...})",
      ]);
    }
    for (const keyFile of ["/var/lib/eca-keys/chain.key", "/var/lib/chain.key", "/etc/eca/chain.key"]) {
      const cfg = load(`audit: { file: /var/lib/eca/audit.jsonl, chain_key: { file: "${keyFile}" } }`);
      expect(cfg.audit.chainKey).toMatchObject({ kind: "file", path: keyFile });
    }
  });

  it("is summarised as where the key comes from, never the key", () => {
    const cfg = load('audit: { file: /var/lib/eca/audit.jsonl, chain_key: { vault: "eca/audit#key" } }');
    expect(summarizeConfig(cfg).split("\n")).toContain("audit.chain_key: {vault: eca/audit#key} (file)");
    expect(summarizeConfig(load("")).split("\n")).toContain("audit.chain_key: not set");
  });
});
