// `check` for Salesforce connections, against the real bao server and the simulator over real HTTP.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type SalesforceSimulator,
  startSalesforceSimulator,
} from "../../src/simulator/salesforce/salesforce-simulator.ts";
import { runCliProcess } from "../support/run-cli.ts";
import { admin, uniqueName, useVault } from "../support/vault-admin.ts";

interface CheckJson {
  ok: boolean;
  checks: Array<{ mark: string; topic: string; text: string }>;
}

describe("eca-rotator check with a Salesforce connection", () => {
  let sim: SalesforceSimulator;
  let env: Record<string, string>;
  const credsPath = `eca-rotator/connections/${uniqueName("sim")}`;

  function config(credentialsPath: string, apiVersion = "v65.0"): string {
    const file = path.join(mkdtempSync(path.join(tmpdir(), "eca-check-sf-")), "config.yaml");
    writeFileSync(
      file,
      `vault:\n  prefixes: [${uniqueName("check-sf-creds")}]\nsalesforce:\n  connections:\n    sim:\n      my_domain_url: ${sim.url}\n      credentials_path: ${credentialsPath}\n      api_version: ${apiVersion}\n`,
    );
    return file;
  }

  async function check(
    credentialsPath = credsPath,
    apiVersion?: string,
  ): Promise<{ code: number | null; out: CheckJson; raw: string }> {
    const res = await runCliProcess(
      ["check", "--json", "--config", config(credentialsPath, apiVersion)],
      env,
    );
    return { code: res.code, out: JSON.parse(res.stdout) as CheckJson, raw: res.stdout + res.stderr };
  }

  const sfLines = (out: CheckJson) => out.checks.filter((c) => c.topic === "sf:sim");

  beforeAll(async () => {
    sim = await startSalesforceSimulator();
    sim.createApp("Sample_Integration");
    const vault = useVault();
    env = { VAULT_ADDR: vault.addr, VAULT_TOKEN: vault.token };
    await admin().seedKv("secret", credsPath, {
      client_id: sim.adminApp.consumerKey,
      client_secret: sim.adminApp.consumerSecret,
    });
  });

  afterAll(async () => {
    await sim?.close();
  });

  it("logs in with the admin pair from KV, reaches the ECA API and reads a consumer secret", async () => {
    const { code, out, raw } = await check();
    expect(sfLines(out).map((l) => l.mark)).toEqual(["ok", "ok", "ok"]);
    expect(sfLines(out)[2]?.text).toMatch(/consumer secrets are readable/);
    expect(code).toBe(0);
    expect(raw).not.toContain(sim.adminApp.consumerSecret);
  });

  it("fails an api_version older than v65.0, which has no staged credentials, though every read works", async () => {
    const { code, out } = await check(credsPath, "v64.0");
    expect(code).toBe(1);
    expect(sfLines(out)).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          mark: "FAIL",
          text: "api_version v64.0 has no staged credentials: rotation needs v65.0 or later",
        }),
      ]),
    );
  });

  it("fails naming the org setting when REST access to consumer secrets is off", async () => {
    sim.setOptions({ restSecretsEnabled: false });
    try {
      const { code, out } = await check();
      expect(code).toBe(1);
      expect(sfLines(out).at(-1)).toMatchObject({
        mark: "FAIL",
        text: expect.stringMatching(/^SALESFORCE_NOT_ENABLED/),
      });
    } finally {
      sim.setOptions({ restSecretsEnabled: true });
    }
  });

  it("fails with SALESFORCE_AUTH_FAILED for a wrong secret, without printing it", async () => {
    const wrong = `eca-rotator/connections/${uniqueName("wrong")}`;
    const canary = "test-secret-canary-wrong-sf-secret";
    await admin().seedKv("secret", wrong, { client_id: sim.adminApp.consumerKey, client_secret: canary });
    const { code, out, raw } = await check(wrong);
    expect(code).toBe(1);
    expect(sfLines(out)).toEqual([
      expect.objectContaining({ mark: "FAIL", text: expect.stringMatching(/^SALESFORCE_AUTH_FAILED/) }),
    ]);
    expect(raw).not.toContain(canary);
  });

  it("fails naming the KV path when the connection's credentials are missing", async () => {
    const missing = `eca-rotator/connections/${uniqueName("missing")}`;
    const { code, out } = await check(missing);
    expect(code).toBe(1);
    expect(sfLines(out)[0]?.text).toContain(`no KV entry at ${missing}`);
  });
});
