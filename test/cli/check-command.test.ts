// `check` against the real server, with tokens holding the shipped policies: it passes for the rotator's
// policy and names every missing capability for a read-only one.
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
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
    expect(res.stdout).not.toContain(token);
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
