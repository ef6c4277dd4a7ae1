// `eca-rotator simulate salesforce` as a real process: banner, a working admin pair, seeding commands that a
// real OpenBao accepts, clean shutdown on SIGTERM/SIGINT, and usage errors.
import { execFileSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { runCliProcess } from "../support/run-cli.ts";
import { admin, uniqueName, useVault } from "../support/vault-admin.ts";
import { freePort } from "../support/vault-backend.ts";
import { api, tokenRequest, V } from "./sim-client.ts";
import { bannerValue, startSimulatorProcess } from "./simulator-process.ts";

describe("eca-rotator simulate salesforce", () => {
  it("prints the URL and a fake admin pair that logs in, and exits 0 on SIGTERM", async () => {
    const port = await freePort();
    const proc = await startSimulatorProcess(["--port", String(port), "--semantics", "overlap-new-shown"]);
    try {
      const out = proc.stdout();
      const url = bannerValue(out, "url");
      expect(url).toBe(`http://127.0.0.1:${port}`);
      expect(out).toMatch(/FAKE org/);
      expect(out).toContain("rotate semantics: overlap-new-shown");
      const tok = await tokenRequest(
        { url },
        bannerValue(out, "client id"),
        bannerValue(out, "client secret"),
      );
      expect(tok.status).toBe(200);
      expect(tok.json.instance_url).toBe(url);
      const usage = await api({ url }, tok.json.access_token, "GET", `${V}/apps/oauth/usage`);
      expect(usage.json.apps.map((a: { developerName: string }) => a.developerName)).toEqual([
        "ECA_Rotator_Admin",
        "Sample_Integration",
      ]);
    } finally {
      expect(await proc.stop("SIGTERM")).toBe(0);
    }
    expect(proc.stdout()).toContain("simulator stopped");
    expect(proc.stderr()).toBe("");
  });

  it("prints vault commands that a real server accepts, seeding the connection and a managed credential", async () => {
    const vault = useVault();
    if (!vault.binary) throw new Error("the bao binary is needed to run the printed commands");
    const proc = await startSimulatorProcess(["--port", String(await freePort())]);
    await proc.stop("SIGINT").then((code) => expect(code).toBe(0));
    const mount = uniqueName("sim-seed");
    const a = admin();
    await a.mountKv(mount, 2);
    const lines = proc
      .stdout()
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l.startsWith("vault kv "));
    expect(lines).toHaveLength(3);
    for (const line of lines) {
      // The banner targets mount "secret"; run it against this test's own mount. No shell: plain words.
      const args = line
        .replace(/ secret\//g, ` ${mount}/`)
        .split(/\s+/)
        .slice(1);
      execFileSync(vault.binary, args, {
        env: {
          PATH: process.env["PATH"] ?? "",
          BAO_ADDR: vault.addr,
          BAO_TOKEN: vault.token,
          HOME: tmpdir(),
        },
        stdio: "pipe",
      });
    }
    const out = proc.stdout();
    const conn = await a.readData(mount, "eca-rotator/connections/sim");
    expect(conn).toEqual({
      client_id: bannerValue(out, "client id"),
      client_secret: bannerValue(out, "client secret"),
    });
    const cred = await a.readData(mount, "api-credentials/salesforce/sample-integration");
    expect(Object.keys(cred).sort()).toEqual(["api_key", "client_id"]);
    const meta = await a.readMetadata(mount, "api-credentials/salesforce/sample-integration");
    expect(meta.custom_metadata).toEqual({
      provider: "salesforce-eca",
      sf_connection: "sim",
      eca_app_id: bannerValue(out, "app id"),
      eca_consumer_id: bannerValue(out, "consumer id"),
    });
  });

  it("keeps the org in --state-file across restarts", async () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), "eca-sim-cli-")), "org.json");
    const first = await startSimulatorProcess(["--state-file", file]);
    expect(await first.stop()).toBe(0);
    const second = await startSimulatorProcess(["--state-file", file, "--admin-api"]);
    expect(await second.stop()).toBe(0);
    for (const label of ["client id", "client secret", "app id", "consumer id"]) {
      expect(bannerValue(second.stdout(), label)).toBe(bannerValue(first.stdout(), label));
    }
    expect(second.stdout()).toContain("admin API: on");
  });

  it("refuses other systems, bad flags and a taken port with exit 2", async () => {
    const other = await runCliProcess(["simulate", "marketing-cloud"]);
    expect(other.code).toBe(2);
    expect(other.stderr).toContain('"salesforce"');
    const none = await runCliProcess(["simulate"]);
    expect(none.code).toBe(2);
    const semantics = await runCliProcess(["simulate", "salesforce", "--semantics", "later"]);
    expect(semantics.code).toBe(2);
    expect(semantics.stderr).toContain("--semantics must be one of overlap, immediate, overlap-new-shown");
    expect((await runCliProcess(["simulate", "salesforce", "--port", "70000"])).code).toBe(2);
    const running = await startSimulatorProcess(["--port", "0"]);
    try {
      const taken = new URL(bannerValue(running.stdout(), "url")).port;
      const clash = await runCliProcess(["simulate", "salesforce", "--port", taken]);
      expect(clash.code).toBe(2);
      expect(clash.stderr).toContain("EADDRINUSE");
    } finally {
      await running.stop();
    }
  });

  it("logs one line per request with --verbose and never a secret", async () => {
    const proc = await startSimulatorProcess(["--verbose"]);
    const out = proc.stdout();
    const url = bannerValue(out, "url");
    await tokenRequest({ url }, bannerValue(out, "client id"), bannerValue(out, "client secret"));
    await tokenRequest({ url }, bannerValue(out, "client id"), "test-secret-canary-cli");
    expect(await proc.stop()).toBe(0);
    expect(proc.stderr()).toMatch(/^POST \/services\/oauth2\/token -> 200 \(\d+ ms\)$/m);
    expect(proc.stderr()).toMatch(/^POST \/services\/oauth2\/token -> 400/m);
    expect(proc.stderr()).not.toContain(bannerValue(out, "client secret"));
    expect(proc.stderr()).not.toContain("test-secret-canary-cli");
  });
});
