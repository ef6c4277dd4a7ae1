// `check` against the real server, with tokens holding the shipped policies: it passes for the rotator's
// policy and names every missing capability for a read-only one.
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { VaultClient } from "../../src/adapters/vault/vault-client.ts";
import { checkClock } from "../../src/cli/check-command.ts";
import { loadConfig } from "../../src/config/load-config.ts";
import { SecretValue } from "../../src/core/secret-value.ts";
import { runCliProcess } from "../support/run-cli.ts";
import { admin, uniqueName, useVault } from "../support/vault-admin.ts";

const POLICIES = path.resolve(import.meta.dirname, "../../policies");

async function tokenWithPolicy(file: string): Promise<string> {
  const a = admin();
  const name = uniqueName(path.basename(file, ".hcl"));
  await a.writePolicy(name, readFileSync(path.join(POLICIES, file), "utf8"));
  return a.createToken({ policies: [name], ttl: "10m" });
}

describe("eca-rotator check", () => {
  it("passes with a token holding policies/rotator.hcl", async () => {
    const vault = useVault();
    const token = await tokenWithPolicy("rotator.hcl");
    // A prefix of its own inside the policy's api-credentials/*: other tests keep invalid credentials there.
    const file = path.join(mkdtempSync(path.join(tmpdir(), "eca-check-")), "config.yaml");
    writeFileSync(file, `vault:\n  prefixes: [api-credentials/${uniqueName("check")}]\n`);
    const res = await runCliProcess(["check", "--config", file], {
      VAULT_ADDR: vault.addr,
      VAULT_TOKEN: token,
    });
    expect(res.stdout).not.toContain("[FAIL]");
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/\[ok\]\s+mount\s+secret\/ is KV version 2/);
    expect(res.stdout).toMatch(/\[ok\]\s+token\s+valid, ttl 10 min, renewable/);
    expect(res.stdout).toMatch(/\[ok\]\s+state\s+secret\/ never deletes versions by age/);
    expect(res.stdout).toMatch(/\[ok\]\s+clock\s+this host's clock is within \d+s of Vault's/);
    expect(res.stdout).not.toContain(token);
  });

  it("refuses a mount whose delete_version_after would expire journal and lease versions, and passes it at 0s", async () => {
    const vault = useVault();
    const a = admin();
    const mount = uniqueName("expiring");
    await a.mountKv(mount);
    await a.must("POST", `${mount}/config`, { delete_version_after: "2h" });
    const file = path.join(mkdtempSync(path.join(tmpdir(), "eca-check-")), "config.yaml");
    writeFileSync(file, `vault:\n  kv_mount: ${mount}\n  prefixes: [creds]\n  state_prefix: state\n`);
    const env = { VAULT_ADDR: vault.addr, VAULT_TOKEN: vault.token };
    const res = await runCliProcess(["check", "--json", "--config", file], env);
    expect(res.code).toBe(1);
    const checks = (
      JSON.parse(res.stdout) as { checks: Array<{ mark: string; topic: string; text: string }> }
    ).checks;
    expect(checks).toContainEqual({
      mark: "FAIL",
      topic: "state",
      text: expect.stringMatching(
        new RegExp(
          `^${mount}/ has delete_version_after=2h0m0s: journal and lease versions under state/ would be soft-deleted`,
        ),
      ),
    });
    await a.must("POST", `${mount}/config`, { delete_version_after: "0s" });
    const fixed = await runCliProcess(["check", "--json", "--config", file], env);
    const after = (JSON.parse(fixed.stdout) as { checks: Array<{ mark: string; topic: string }> }).checks;
    expect(after.filter((c) => c.topic === "state").map((c) => c.mark)).toEqual(["ok"]);
  });

  it("warns about a host clock far from Vault's, saying why", async () => {
    const cfg = loadConfig({
      file: "/c.yaml",
      env: { VAULT_ADDR: useVault().addr, VAULT_TOKEN: useVault().token },
      readFile: () => "rotation: { lease_ttl: 15m }",
    });
    const skewed = await VaultClient.connect({
      address: useVault().addr,
      auth: { method: "token", token: SecretValue.of(useVault().token), tokenFile: undefined },
      timeoutMs: 5_000,
      clock: { now: () => new Date(Date.now() + 3 * 60_000) },
    });
    try {
      const line = await checkClock(skewed, cfg);
      expect(line.mark).toBe("warn");
      expect(line.text).toMatch(/^this host's clock is about 1[78]\ds ahead of Vault's \(Date header\)\. /);
      expect(line.text).toContain("two thirds of rotation.lease_ttl (600s)");
    } finally {
      await skewed.close();
    }
  });

  it("names each capability a read-only report token lacks, exit 1", async () => {
    const vault = useVault();
    const token = await tokenWithPolicy("report.hcl");
    const res = await runCliProcess(["check", "--json"], { VAULT_ADDR: vault.addr, VAULT_TOKEN: token });
    expect(res.code).toBe(1);
    const out = JSON.parse(res.stdout) as {
      ok: boolean;
      checks: Array<{ mark: string; topic: string; text: string }>;
    };
    expect(out.ok).toBe(false);
    const failed = out.checks.filter((c) => c.mark === "FAIL").map((c) => c.text);
    // A report token cannot read the mount's settings: a warning, not a failure.
    expect(out.checks).toContainEqual(
      expect.objectContaining({
        mark: "warn",
        topic: "state",
        text: expect.stringMatching(/^cannot read secret\/config/),
      }),
    );
    expect(failed).toContainEqual(
      expect.stringMatching(
        /missing "read", "create", "update", "patch" on secret\/data\/api-credentials\/__probe__/,
      ),
    );
    expect(failed).toContainEqual(
      expect.stringMatching(/missing "patch" on secret\/metadata\/api-credentials\/__probe__/),
    );
    expect(failed).toContainEqual(expect.stringMatching(/on secret\/data\/eca-rotator\/__probe__/));
    // what the report policy does grant is reported as fine
    expect(out.checks).toContainEqual(
      expect.objectContaining({
        mark: "ok",
        text: expect.stringMatching(/^list on secret\/metadata\/api-credentials\//),
      }),
    );
    expect(res.stdout).not.toContain(token);
  });

  it("prints the effective configuration with --verbose, secrets only as 'set'", async () => {
    const vault = useVault();
    const res = await runCliProcess(["check", "--verbose"], {
      VAULT_ADDR: vault.addr,
      VAULT_TOKEN: vault.token,
    });
    expect(res.stdout).toContain("vault.auth.token: set (from VAULT_TOKEN)");
    expect(res.stdout).not.toContain(vault.token);
  });
});

describe("eca-rotator check: the audit chain", () => {
  const KEY_CANARY = "test-secret-canary-check-chain-key-3e9f07a1c6b2d5";

  it("warns when audit.file is unkeyed, says when audit.chain_key resolves, and exits 2 naming it when it does not", async () => {
    const vault = useVault();
    const dir = mkdtempSync(path.join(tmpdir(), "eca-check-audit-"));
    const keyPath = `${uniqueName("check-audit")}/audit`;
    await admin().seedKv("secret", keyPath, { chain_key: KEY_CANARY, short: "test-secret-canary-short" });
    const config = (name: string, chainKey: string | undefined) => {
      const file = path.join(dir, name);
      writeFileSync(
        file,
        [
          `vault:\n  prefixes: [api-credentials/${uniqueName("check")}]`,
          `audit:\n  file: ${path.join(dir, "log", "audit.jsonl")}`,
          ...(chainKey === undefined ? [] : [`  chain_key: ${chainKey}`]),
          "",
        ].join("\n"),
      );
      return file;
    };
    const env = { VAULT_ADDR: vault.addr, VAULT_TOKEN: vault.token };
    const [unkeyed, keyed, short] = await Promise.all([
      runCliProcess(["check", "--json", "--config", config("unkeyed.yaml", undefined)], env),
      runCliProcess(
        ["check", "--json", "--config", config("keyed.yaml", `{ vault: "${keyPath}#chain_key" }`)],
        env,
      ),
      runCliProcess(
        ["check", "--json", "--config", config("short.yaml", `{ vault: "${keyPath}#short" }`)],
        env,
      ),
    ]);
    const auditLines = (stdout: string) =>
      (JSON.parse(stdout) as { checks: Array<{ mark: string; topic: string; text: string }> }).checks.filter(
        (c) => c.topic === "audit",
      );
    expect(auditLines(unkeyed.stdout)).toEqual([
      {
        mark: "warn",
        topic: "audit",
        text: "the audit chain is unkeyed: anyone who can write the file can rewrite it undetected; set audit.chain_key",
      },
    ]);
    expect(unkeyed.code).toBe(0); // a warning, not a failure
    expect(auditLines(keyed.stdout)).toEqual([
      {
        mark: "ok",
        topic: "audit",
        text: `the audit chain is keyed (HMAC-SHA256): audit.chain_key resolves (KV ${keyPath}#chain_key)`,
      },
    ]);
    expect(keyed.code).toBe(0);
    expect(auditLines(short.stdout)).toEqual([
      {
        mark: "FAIL",
        topic: "audit",
        text: "CONFIG_INVALID: audit.chain_key: the key has fewer than 32 bytes; use at least 32 random bytes, e.g. the output of openssl rand -hex 32",
      },
    ]);
    expect(short.code).toBe(2);
    for (const res of [unkeyed, keyed, short]) {
      expect(res.stdout + res.stderr).not.toContain(KEY_CANARY);
      expect(res.stdout + res.stderr).not.toContain("test-secret-canary-short");
    }
  });
});
