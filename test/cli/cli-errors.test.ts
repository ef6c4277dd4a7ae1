// Bad situations give one clear line and the documented exit code, never a stack trace (issue: "Bad input").
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CliResult, runCliProcess } from "../support/run-cli.ts";
import { type StandaloneServer, startStandaloneServer } from "../support/standalone-server.ts";
import { admin, uniqueName, useVault } from "../support/vault-admin.ts";
import { freePort } from "../support/vault-backend.ts";

const TOKEN_CANARY = "test-secret-canary-token-0f3a9c";

function configWith(yaml: string): string {
  const file = path.join(mkdtempSync(path.join(tmpdir(), "eca-cli-")), "config.yaml");
  writeFileSync(file, yaml);
  return file;
}

/** One line on stderr, no stack frames, nothing on stdout. */
function expectOneCleanLine(res: CliResult): void {
  expect(res.stdout).toBe("");
  const lines = res.stderr.trim().split("\n");
  expect(lines, res.stderr).toHaveLength(1);
  expect(res.stderr).not.toMatch(/\n\s+at /);
}

describe("the CLI in bad situations", () => {
  it("scans a prefix that does not exist as an empty inventory, exit 0", async () => {
    const vault = useVault();
    const cfg = configWith(`vault:\n  prefixes: [${uniqueName("nothing-here")}]\n`);
    const res = await runCliProcess(["scan", "--json", "--config", cfg], {
      VAULT_ADDR: vault.addr,
      VAULT_TOKEN: vault.token,
    });
    expect(res.code).toBe(0);
    expect(JSON.parse(res.stdout)).toMatchObject({ count: 0, items: [] });
  });

  it("refuses a KV version 1 mount with VAULT_NOT_KV_V2", async () => {
    const vault = useVault();
    const mount = uniqueName("kv1");
    const a = admin();
    await a.mountKv(mount, 1);
    await a.must("POST", `${mount}/api-credentials/x`, { api_key: "v1-value" });
    const cfg = configWith(`vault:\n  kv_mount: ${mount}\n`);
    const res = await runCliProcess(["scan", "--config", cfg], {
      VAULT_ADDR: vault.addr,
      VAULT_TOKEN: vault.token,
    });
    expect(res.code).toBe(1);
    expectOneCleanLine(res);
    expect(res.stderr).toContain("VAULT_NOT_KV_V2");
  });

  it("says the token is bad in one line and never prints it", async () => {
    const vault = useVault();
    const res = await runCliProcess(["scan"], { VAULT_ADDR: vault.addr, VAULT_TOKEN: TOKEN_CANARY });
    expect(res.code).toBe(1);
    expectOneCleanLine(res);
    expect(res.stderr).toMatch(/VAULT_(AUTH_FAILED|PERMISSION_DENIED)/);
    expect(res.stderr).not.toContain(TOKEN_CANARY);
  });

  it("says Vault is unreachable when nothing listens", async () => {
    const port = await freePort();
    const cfg = configWith("vault:\n  timeout: 2s\n  max_retries: 1\n");
    const res = await runCliProcess(["report", "--config", cfg], {
      VAULT_ADDR: `http://127.0.0.1:${port}`,
      VAULT_TOKEN: TOKEN_CANARY,
    });
    expect(res.code).toBe(1);
    expectOneCleanLine(res);
    expect(res.stderr).toContain("VAULT_UNAVAILABLE");
    expect(res.stderr).not.toContain(TOKEN_CANARY);
  });

  it("rejects a bad config with exit 2, naming the key and not the value", async () => {
    const cfg = configWith(
      `vault:\n  adress: http://127.0.0.1:1\n  auth: { method: token, token_file: ${TOKEN_CANARY} }\n  scan_concurrency: lots\n`,
    );
    const res = await runCliProcess(["scan", "--config", cfg], { VAULT_TOKEN: TOKEN_CANARY });
    expect(res.code).toBe(2);
    expect(res.stderr).toContain("vault.adress");
    expect(res.stderr).toContain("vault.scan_concurrency");
    expect(res.stderr).not.toContain(TOKEN_CANARY);
    expect(res.stderr).not.toMatch(/\n\s+at /);
  });

  it("rejects unknown commands and flags with exit 2", async () => {
    expect((await runCliProcess(["scna"])).code).toBe(2);
    const badFlag = await runCliProcess(["report", "--format", "pdf"]);
    expect(badFlag.code).toBe(2);
    expect(badFlag.stderr).toContain("--format must be one of table, markdown, json, csv, html");
  });

  describe("against a sealed server", () => {
    let server: StandaloneServer;
    beforeAll(async () => {
      server = await startStandaloneServer(useVault().binary ?? "bao");
    });
    afterAll(async () => {
      await server?.stop();
    });

    it("scan says the server is sealed (or not initialised) in one line", async () => {
      const res = await runCliProcess(["scan", "--config", configWith("vault:\n  max_retries: 0\n")], {
        VAULT_ADDR: server.addr,
        VAULT_TOKEN: TOKEN_CANARY,
      });
      expect(res.code).toBe(1);
      expectOneCleanLine(res);
      expect(res.stderr).toMatch(/VAULT_SEALED/);
    });

    it("check reports the sealed server as a failed check, exit 1", async () => {
      const res = await runCliProcess(["check", "--config", configWith("vault:\n  max_retries: 0\n")], {
        VAULT_ADDR: server.addr,
        VAULT_TOKEN: TOKEN_CANARY,
      });
      expect(res.code).toBe(1);
      expect(res.stdout).toMatch(/\[FAIL\]\s+vault\s+.*(sealed|VAULT_SEALED)/);
      expect(res.stdout + res.stderr).not.toContain(TOKEN_CANARY);
    });
  });
});
