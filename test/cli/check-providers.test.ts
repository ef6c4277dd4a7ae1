// `check` validates each managed credential's provider configuration: the real CLI against the run's bao server
// and the simulator's Marketing Cloud v2/token. Every case seeds under a prefix of its own; no secret value ever
// reaches stdout, stderr or the JSON.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type SalesforceSimulator,
  startSalesforceSimulator,
} from "../../src/simulator/salesforce/salesforce-simulator.ts";
import { type CliResult, runCliProcess } from "../support/run-cli.ts";
import { admin, uniqueName, useVault } from "../support/vault-admin.ts";
import { freePort } from "../support/vault-backend.ts";

interface CheckJson {
  ok: boolean;
  checks: Array<{ mark: string; topic: string; text: string }>;
}

const MOUNT = "secret";
const CANARY = "test-secret-canary-check-providers-3f9a";
const IN_90_DAYS = new Date(Date.now() + 90 * 86_400_000).toISOString();

let sim: SalesforceSimulator;
const secrets: string[] = [CANARY];

beforeAll(async () => {
  sim = await startSalesforceSimulator();
});
afterAll(async () => {
  await sim?.close();
});

/** Marketing Cloud tenants the config names: the simulator, and optionally one nobody listens on. */
function configFor(prefix: string, deadPort?: number, extraYaml = ""): string {
  const file = path.join(mkdtempSync(path.join(tmpdir(), "eca-check-prov-")), "config.yaml");
  const dead =
    deadPort === undefined
      ? ""
      : `    dead: { auth_url: "http://127.0.0.1:${deadPort}", allow_loopback_http: true }\n`;
  writeFileSync(
    file,
    `vault:\n  prefixes: [${prefix}]\nmarketing_cloud:\n  tenants:\n    sim: { auth_url: "${sim.url}", allow_loopback_http: true }\n${dead}${extraYaml}`,
  );
  return file;
}

async function check(
  prefix: string,
  json: boolean,
  token = useVault().token,
  deadPort?: number,
  extraYaml?: string,
): Promise<CliResult> {
  const args = ["check", ...(json ? ["--json"] : []), "--config", configFor(prefix, deadPort, extraYaml)];
  const res = await runCliProcess(args, { VAULT_ADDR: useVault().addr, VAULT_TOKEN: token });
  for (const s of secrets) expect(res.stdout + res.stderr).not.toContain(s);
  return res;
}

function linesOf(res: CliResult, topic: string) {
  return (JSON.parse(res.stdout) as CheckJson).checks.filter((c) => c.topic === topic);
}

/** A Marketing Cloud package in the simulator and its credential in KV; `apiKey` overrides the real secret. */
async function seedSfmc(p: string, meta: Record<string, string>, apiKey?: string): Promise<void> {
  const pkg = sim.mc.createPackage(path.basename(p));
  secrets.push(pkg.clientSecret);
  await admin().seedKv(MOUNT, p, { client_id: pkg.clientId, api_key: apiKey ?? pkg.clientSecret }, meta);
}

function sfmcMeta(extra: Record<string, string> = {}): Record<string, string> {
  return { provider: "sfmc", sfmc_tenant: "sim", expires_at: IN_90_DAYS, ...extra };
}

describe("eca-rotator check: each credential's provider configuration", () => {
  it("passes, exit 0, when every credential is configured and the sfmc secret gets a token", async () => {
    const prefix = uniqueName("check-prov-good");
    await seedSfmc(`${prefix}/mc-good`, sfmcMeta({ rotation_contact: "#mc-team" }));
    await admin().seedKv(
      MOUNT,
      `${prefix}/vendor`,
      { api_key: CANARY },
      {
        provider: "manual",
        rotation_contact: "#vendor-owners",
      },
    );

    const res = await check(prefix, true);
    const host = new URL(sim.url).host;
    expect(linesOf(res, `cred:${prefix}/mc-good`)).toEqual([
      {
        mark: "ok",
        topic: `cred:${prefix}/mc-good`,
        text: `the current api_key gets a token at ${host} (tenant sim)`,
      },
    ]);
    expect(linesOf(res, `cred:${prefix}/vendor`)).toEqual([]);
    expect(linesOf(res, "provider:sfmc")).toEqual([
      { mark: "ok", topic: "provider:sfmc", text: "1 credential checked, no problems" },
    ]);
    expect(linesOf(res, "provider:manual")).toEqual([
      { mark: "ok", topic: "provider:manual", text: "1 credential checked, no problems" },
    ]);
    expect((JSON.parse(res.stdout) as CheckJson).ok).toBe(true);
    expect(res.code).toBe(0);
  }, 60_000);

  it("names each problem on its own line, exit 1, and never prints a secret", async () => {
    const prefix = uniqueName("check-prov-bad");
    await seedSfmc(`${prefix}/mc-no-tenant`, { provider: "sfmc", expires_at: IN_90_DAYS });
    await seedSfmc(`${prefix}/mc-refused`, sfmcMeta(), CANARY);
    const deadPort = await freePort();
    await seedSfmc(`${prefix}/mc-unreachable`, sfmcMeta({ sfmc_tenant: "dead" }));
    await seedSfmc(`${prefix}/mc-no-expiry`, { provider: "sfmc", sfmc_tenant: "sim" });
    await seedSfmc(`${prefix}/mc-legacy-url`, sfmcMeta({ sfmc_auth_url: sim.url }));
    await admin().seedKv(
      MOUNT,
      `${prefix}/webhook`,
      { current_secret: CANARY, previous_secret: `${CANARY}-old`, rotation_phase: "dual-accept" },
      { provider: "generated", credential_type: "webhook_secret" },
    );
    await admin().seedKv(MOUNT, `${prefix}/vendor`, { api_key: CANARY }, { provider: "manual" });
    await admin().seedKv(
      MOUNT,
      `${prefix}/broken`,
      { api_key: CANARY },
      {
        provider: "sfmc",
        rotation_period: "soon",
      },
    );

    const res = await check(prefix, true, useVault().token, deadPort);
    const host = new URL(sim.url).host;
    const cred = (name: string) => linesOf(res, `cred:${prefix}/${name}`).map((l) => [l.mark, l.text]);
    expect(cred("mc-no-tenant")).toEqual([
      ["FAIL", "invalid: no sfmc_tenant, and 2 are configured (sim, dead): name one"],
    ]);
    expect(cred("mc-legacy-url")).toEqual([
      [
        "FAIL",
        "invalid: sfmc_auth_url is no longer read (a secret goes only to a host the config names): add the tenant under marketing_cloud.tenants, set sfmc_tenant to its name and remove sfmc_auth_url",
      ],
    ]);
    expect(cred("mc-refused")).toEqual([
      [
        "FAIL",
        `Marketing Cloud at ${host} (tenant sim) refuses the current api_key (invalid_client): check client_id and api_key, and sfmc_tenant`,
      ],
    ]);
    const unreachable = cred("mc-unreachable");
    expect(unreachable).toHaveLength(1);
    expect(unreachable[0]?.[0]).toBe("FAIL");
    expect(unreachable[0]?.[1]).toMatch(
      new RegExp(
        `^SALESFORCE_UNAVAILABLE: no answer from Marketing Cloud at http://127\\.0\\.0\\.1:${deadPort}`,
      ),
    );
    expect(cred("mc-no-expiry")).toEqual([
      [
        "warn",
        `no expires_at: the 180-day expiry is not tracked; copy the date from Setup (Installed Packages): vault kv metadata patch -custom-metadata=expires_at=<RFC 3339 time> secret/${prefix}/mc-no-expiry`,
      ],
      ["ok", `the current api_key gets a token at ${host} (tenant sim)`],
    ]);
    expect(cred("webhook")).toEqual([
      [
        "warn",
        `rotation_phase=dual-accept with no rotation under way: previous_secret is still accepted; once every sender uses current_secret: vault kv patch secret/${prefix}/webhook previous_secret= rotation_phase=complete`,
      ],
    ]);
    expect(cred("vendor")).toEqual([
      [
        "warn",
        "no rotation_contact: reminders have nobody to name; set it to the owner (a team or a person)",
      ],
    ]);
    expect(cred("broken")).toHaveLength(1);
    expect(cred("broken")[0]?.[0]).toBe("FAIL");
    expect(cred("broken")[0]?.[1]).toMatch(/^invalid: rotation_period /);
    expect(linesOf(res, "provider:sfmc")).toEqual([
      { mark: "FAIL", topic: "provider:sfmc", text: "6 credentials checked: 5 failing, 1 with warnings" },
    ]);
    expect(linesOf(res, "provider:generated")[0]?.mark).toBe("warn");
    expect((JSON.parse(res.stdout) as CheckJson).ok).toBe(false);
    expect(res.code).toBe(1);
  }, 60_000);

  it("prints one line per problem in text, topic cred:PATH, and a credential the token may not read is a FAIL", async () => {
    const prefix = uniqueName("check-prov-denied");
    await admin().seedKv(MOUNT, `${prefix}/webhook`, { current_secret: CANARY }, { provider: "generated" });
    await admin().seedKv(MOUNT, `${prefix}/locked`, { current_secret: CANARY }, { provider: "generated" });
    await admin().seedKv(MOUNT, `${prefix}/hidden`, { current_secret: CANARY }, { provider: "generated" });
    const policy = uniqueName("check-prov-reader");
    await admin().writePolicy(
      policy,
      `path "${MOUNT}/metadata/${prefix}/*" { capabilities = ["read", "list"] }
path "${MOUNT}/data/${prefix}/*" { capabilities = ["read"] }
path "${MOUNT}/data/${prefix}/locked" { capabilities = ["deny"] }
path "${MOUNT}/metadata/${prefix}/hidden" { capabilities = ["deny"] }
path "sys/capabilities-self" { capabilities = ["update"] }`,
    );
    const token = await admin().createToken({ policies: [policy], ttl: "10m" });
    secrets.push(token);

    const res = await check(prefix, false, token);
    expect(res.stdout).toMatch(
      new RegExp(`\\[FAIL\\] cred:${prefix}/locked secret data unreadable: VAULT_PERMISSION_DENIED`),
    );
    expect(res.stdout).toMatch(
      new RegExp(`\\[FAIL\\] cred:${prefix}/hidden invalid: unreadable \\(VAULT_PERMISSION_DENIED\\)`),
    );
    expect(res.stdout).not.toMatch(new RegExp(`cred:${prefix}/webhook`));
    expect(res.stdout).toMatch(/\[FAIL\] provider:generated 2 credentials checked: 1 failing/);
    expect(res.code).toBe(1);
  }, 60_000);

  it("warns when credentials wait for their readers (soak_until=readers) and no reader feed is configured", async () => {
    const prefix = uniqueName("check-prov-readers");
    const meta = { provider: "generated", soak_until: "readers" };
    await admin().seedKv(MOUNT, `${prefix}/hook-a`, { current_secret: CANARY }, meta);
    await admin().seedKv(MOUNT, `${prefix}/hook-b`, { current_secret: CANARY }, meta);
    await admin().seedKv(MOUNT, `${prefix}/hook-c`, { current_secret: CANARY }, { provider: "generated" });
    const res = await check(prefix, true);
    expect(linesOf(res, "readers")).toEqual([
      {
        mark: "warn",
        topic: "readers",
        text: "2 credentials use soak_until=readers, but no reader feed is configured (readers:): their soaks never end early and run to soak_max, where on_soak_max decides",
      },
    ]);
    expect(res.code).toBe(0);
    // With a reader feed configured (readers:), the same credentials get no warning.
    const fed = await check(
      prefix,
      true,
      undefined,
      undefined,
      "readers:\n  file: /var/log/openbao/audit.log\n",
    );
    expect(linesOf(fed, "readers")).toEqual([]);

    const none = uniqueName("check-prov-no-readers");
    await admin().seedKv(MOUNT, `${none}/hook`, { current_secret: CANARY }, { provider: "generated" });
    expect(linesOf(await check(none, true), "readers")).toEqual([]);
  }, 60_000);
});
