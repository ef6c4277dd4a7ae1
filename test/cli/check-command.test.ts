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
