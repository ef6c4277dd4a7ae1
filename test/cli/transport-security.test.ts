// Transport rules through the real executable, against the real server: `check` and `serve` say loudly when TLS
// verification for Vault is off and when a target is allowed plain http to a host that is not loopback, and a
// chat or audit URL (a secret reference) that is plain http to a remote host stops them with one line naming the
// key, never the URL. Remote hosts are under .invalid, which never resolves: nothing can leave the machine.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { runCliProcess } from "../support/run-cli.ts";
import { ServeProcess } from "../support/serve-process.ts";
import { uniqueName, useVault } from "../support/vault-admin.ts";
import { freePort } from "../support/vault-backend.ts";

const URL_CANARY = "test-secret-canary-transport-url-5c1e";
const REMOTE_HOST = "hooks.transport-canary.invalid";
const REMOTE_URL = `http://${REMOTE_HOST}/services/${URL_CANARY}`;
const TLS_WARNING =
  "TLS certificate verification for Vault is OFF: vault.tls.skip_verify (from VAULT_SKIP_VERIFY) is true, so " +
  "anyone on the network path can pose as Vault and receive the token; trust Vault's CA with vault.tls.ca_cert instead";

function configFile(lines: readonly string[]): string {
  const file = path.join(mkdtempSync(path.join(tmpdir(), "eca-transport-")), "config.yaml");
  writeFileSync(file, [`vault:\n  prefixes: [${uniqueName("transport")}]`, ...lines, ""].join("\n"));
  return file;
}

function vaultEnv(extra: Record<string, string> = {}): Record<string, string> {
  const vault = useVault();
  return { VAULT_ADDR: vault.addr, VAULT_TOKEN: vault.token, ...extra };
}

type CheckJson = { ok: boolean; checks: { mark: string; topic: string; text: string }[] };

describe("check", () => {
  it("warns that TLS verification for Vault is off without --verbose, naming the variable", async () => {
    const res = await runCliProcess(
      ["check", "--config", configFile([])],
      vaultEnv({ VAULT_SKIP_VERIFY: "true" }),
    );
    expect(res.code, res.stdout + res.stderr).toBe(0);
    expect(res.stdout).toContain(`[warn] transport  ${TLS_WARNING}`);

    const json = await runCliProcess(
      ["check", "--json", "--config", configFile(["  tls: { skip_verify: true }"])],
      vaultEnv(),
    );
    const out = JSON.parse(json.stdout) as CheckJson;
    expect(out.checks).toContainEqual({
      mark: "warn",
      topic: "transport",
      text: expect.stringMatching(
        /^TLS certificate verification for Vault is OFF: vault\.tls\.skip_verify is true/,
      ),
    });
  });

  it("prints no transport line when nothing weakens transport security", async () => {
    const res = await runCliProcess(["check", "--config", configFile([])], vaultEnv());
    expect(res.code, res.stdout + res.stderr).toBe(0);
    expect(res.stdout).not.toMatch(/^\[warn\]\s+transport/m);
  });

  it("refuses a plain-http Vault address on a remote host before connecting, naming the variable", async () => {
    const res = await runCliProcess(["check"], {
      VAULT_ADDR: "http://vault.transport.invalid:8200",
      VAULT_TOKEN: "t",
    });
    expect(res.code).toBe(2);
    expect(res.stderr).toContain(
      "vault.address (from VAULT_ADDR): is plain http:// to a host that is not loopback, which would send the " +
        "Vault token in clear: use https://, or set vault.allow_insecure_http: true (only on a network you trust)",
    );
  });

  it("fails a chat target whose URL resolves to plain http on a remote host, without showing the URL", async () => {
    const target = (opt: string) => [
      "notifications:",
      "  targets:",
      `    ops: { type: slack, url: { env: OPS_URL }${opt} }`,
    ];
    const res = await runCliProcess(
      ["check", "--config", configFile(target(""))],
      vaultEnv({ OPS_URL: REMOTE_URL }),
    );
    expect(res.code).toBe(2);
    expect(res.stdout).toMatch(
      /\[FAIL\]\s+chat:ops\s+CONFIG_INVALID: notifications\.targets\.ops\.url: the resolved URL is plain http:\/\/ to a host that is not loopback, which would send the webhook URL and every message in clear: use https:\/\/, or set notifications\.targets\.ops\.allow_insecure_http: true/,
    );
    for (const out of [res.stdout, res.stderr]) {
      expect(out).not.toContain(URL_CANARY);
      expect(out).not.toContain(REMOTE_HOST);
    }

    const allowed = await runCliProcess(
      ["check", "--config", configFile(target(", allow_insecure_http: true"))],
      vaultEnv({ OPS_URL: REMOTE_URL }),
    );
    expect(allowed.code, allowed.stdout + allowed.stderr).toBe(0);
    expect(allowed.stdout).toMatch(/\[ok\]\s+chat:ops\s+slack, all events: configured/);
    expect(allowed.stderr).toContain(
      "warning: notifications.targets.ops.allow_insecure_http is on and the URL is plain http:// to a host that is " +
        "not loopback: the webhook URL and every message cross the network in clear",
    );
    expect(allowed.stdout + allowed.stderr).not.toContain(URL_CANARY);
  });
});

describe("serve", () => {
  let serve: ServeProcess | undefined;
  afterEach(async () => {
    await serve?.stop();
    serve = undefined;
  });

  it("logs a warning at start for TLS verification off and for each target allowed plain http to a remote host", async () => {
    const file = configFile([
      "rotation: { scan_interval: 1h }",
      `server: { listen: "127.0.0.1:${await freePort()}", shutdown_timeout: 5s }`,
      "audit:",
      "  http: { url: { env: AUDIT_URL }, allow_insecure_http: true }",
      "notifications:",
      "  targets:",
      "    lab: { type: slack, url: { env: LAB_URL }, allow_insecure_http: true, events: [report.weekly] }",
    ]);
    serve = await ServeProcess.start(
      ["--config", file],
      vaultEnv({ VAULT_SKIP_VERIFY: "true", AUDIT_URL: `${REMOTE_URL}/audit`, LAB_URL: REMOTE_URL }),
    );
    const warnings = serve.records.filter((r) => r.level === "warn").map((r) => r.msg);
    expect(warnings).toEqual(
      expect.arrayContaining([
        TLS_WARNING,
        "audit.http.allow_insecure_http is on and the URL is plain http:// to a host that is not loopback: the " +
          "audit events (and any user name and password in the URL) cross the network in clear",
        "notifications.targets.lab.allow_insecure_http is on and the URL is plain http:// to a host that is not " +
          "loopback: the webhook URL and every message cross the network in clear",
      ]),
    );
    // The TLS warning comes before anything connects.
    expect(serve.records[0]).toMatchObject({ level: "warn", key: "vault.tls.skip_verify", msg: TLS_WARNING });
    expect(serve.stdout + serve.stderr).not.toContain(URL_CANARY);
    expect(serve.stdout + serve.stderr).not.toContain(REMOTE_HOST);
  });

  it("refuses to start when the audit URL resolves to plain http on a remote host, exit 2, URL unshown", async () => {
    const file = configFile([
      `server: { listen: "127.0.0.1:${await freePort()}" }`,
      "audit:",
      "  http: { url: { env: AUDIT_URL } }",
    ]);
    const res = await runCliProcess(["serve", "--config", file], vaultEnv({ AUDIT_URL: REMOTE_URL }), {
      timeoutMs: 30_000,
    });
    expect(res.code).toBe(2);
    expect(res.stderr).toBe(
      "error: CONFIG_INVALID: audit.http.url: the resolved URL is plain http:// to a host that is not loopback, " +
        "which would send the audit events (and any user name and password in the URL) in clear: use https://, " +
        "or set audit.http.allow_insecure_http: true (only on a network you trust)\n",
    );
    expect(res.stdout + res.stderr).not.toContain(URL_CANARY);
    expect(res.stdout + res.stderr).not.toContain(REMOTE_HOST);
  });
});
