// Files holding secrets that their group or others may read: `check` prints one warn line per file and `serve`
// logs one warning per file at start, each naming the config key, the path and the mode, never the content.
// A 0600 file and a Kubernetes Secret volume (symlinks into ..data) pass silently. Real files, real processes.
import { chmodSync, mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { runCliProcess } from "../support/run-cli.ts";
import { ServeProcess } from "../support/serve-process.ts";
import { uniqueName, useVault } from "../support/vault-admin.ts";
import { freePort } from "../support/vault-backend.ts";

const URL_CANARY = "test-secret-canary-file-modes-url";
const HMAC_CANARY = "test-secret-canary-file-modes-hmac";
const API_CANARY = "test-secret-canary-file-modes-api-token";

let dir: string;
let files: { token: string; hook: string; hmac: string; apiToken: string };

/** Writes `content` with exactly `mode` (chmod after writing: the umask does not apply). */
function secretFile(name: string, content: string, mode: number): string {
  const p = path.join(dir, name);
  writeFileSync(p, content);
  chmodSync(p, mode);
  return p;
}

function config(listen?: string): string {
  const file = path.join(dir, `${uniqueName("config")}.yaml`);
  writeFileSync(
    file,
    `vault:
  auth: { method: token, token_file: ${files.token} }
  prefixes: [${uniqueName("file-modes")}]
server:${listen === undefined ? "" : `\n  listen: ${listen}`}
  api_tokens: { ci: { file: ${files.apiToken} } }
notifications:
  targets:
    siem: { type: webhook, url: { file: ${files.hook} }, secret: { file: ${files.hmac} } }
`,
  );
  return file;
}

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), "eca-file-modes-"));
  // A Kubernetes Secret volume as the kubelet lays it out: 0644 files behind ..data symlinks.
  const volume = path.join(dir, "volume");
  const stamp = "..2026_03_02_09_00_00.000000001";
  mkdirSync(path.join(volume, stamp), { recursive: true });
  writeFileSync(path.join(volume, stamp, "api-token"), API_CANARY);
  chmodSync(path.join(volume, stamp, "api-token"), 0o644);
  symlinkSync(stamp, path.join(volume, "..data"));
  symlinkSync("..data/api-token", path.join(volume, "api-token"));
  files = {
    token: secretFile("vault-token", useVault().token, 0o640),
    hook: secretFile("hook-url", `http://127.0.0.1:9/${URL_CANARY}`, 0o644),
    hmac: secretFile("hmac", HMAC_CANARY, 0o600),
    apiToken: path.join(volume, "api-token"),
  };
});

describe("secret files readable by group or others", () => {
  it("check prints one warn line per such file with key, path and mode, and passes the others", async () => {
    const res = await runCliProcess(["check", "--config", config()], { VAULT_ADDR: useVault().addr });
    const warnings = res.stdout.split("\n").filter((l) => /^\[warn\]\s+files\s/.test(l));
    expect(warnings).toEqual([
      expect.stringMatching(
        new RegExp(
          `vault\\.auth\\.token_file: ${files.token} is readable by its group or others \\(mode 0640\\)`,
        ),
      ),
      expect.stringMatching(
        new RegExp(
          `notifications\\.targets\\.siem\\.url: ${files.hook} is readable by its group or others \\(mode 0644\\)`,
        ),
      ),
    ]);
    expect(res.stdout).not.toContain(files.hmac);
    expect(res.stdout).not.toContain(files.apiToken);
    // A warning, not a failure: the rest of check runs and passes.
    expect(res.stdout).toMatch(/\[ok\]\s+mount\s/);
    expect(res.code).toBe(0);
    for (const canary of [URL_CANARY, HMAC_CANARY, API_CANARY, useVault().token]) {
      expect(res.stdout + res.stderr).not.toContain(canary);
    }
  });

  it("check says so in one ok line when every secret file is private", async () => {
    chmodSync(files.token, 0o600);
    chmodSync(files.hook, 0o600);
    try {
      const res = await runCliProcess(["check", "--json", "--config", config()], {
        VAULT_ADDR: useVault().addr,
      });
      const checks = (
        JSON.parse(res.stdout) as { checks: Array<{ mark: string; topic: string; text: string }> }
      ).checks;
      expect(checks.filter((c) => c.topic === "files")).toEqual([
        {
          mark: "ok",
          topic: "files",
          text: "no secret file is readable by its group or others (4 named by the config)",
        },
      ]);
    } finally {
      chmodSync(files.token, 0o640);
      chmodSync(files.hook, 0o644);
    }
  });

  it("serve logs one warning per such file at start, with key, path and mode", async () => {
    const daemon = await ServeProcess.start(["--config", config(`127.0.0.1:${await freePort()}`)], {
      VAULT_ADDR: useVault().addr,
    });
    try {
      const warnings = daemon.records.filter((r) => r.msg === "secret file readable by its group or others");
      expect(
        warnings.map((r) => ({ level: r.level, key: r["key"], file: r["file"], mode: r["mode"] })),
      ).toEqual([
        { level: "warn", key: "vault.auth.token_file", file: files.token, mode: "0640" },
        { level: "warn", key: "notifications.targets.siem.url", file: files.hook, mode: "0644" },
      ]);
      expect((await daemon.stop()).code).toBe(0);
      for (const canary of [URL_CANARY, HMAC_CANARY, API_CANARY, useVault().token]) {
        expect(daemon.stdout + daemon.stderr).not.toContain(canary);
      }
    } finally {
      daemon.child.kill("SIGKILL");
    }
  }, 60_000);
});
