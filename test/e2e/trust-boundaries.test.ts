// The trust boundaries, played by attackers with exactly the privileges the shipped policies give them, against
// the real OpenBao, the real CLI and the simulator:
//   - an operator holding policies/operator.hcl (metadata PATCH only, no secret data) re-labels entries and points
//     them at a listener of their own: nothing ever reaches it, from `check`, `run --once` or a rotation;
//   - a team that may write only its own folder names another team's app (its id and current consumer key are
//     not secrets) with a made-up secret and flags it: the other team's app is not rotated, its pair keeps
//     working, and no secret of it reaches the attacker's path;
//   - the same team chooses a Salesforce connection that the config keeps for other prefixes: refused.
// The rotator itself runs with a token of policies/rotator.hcl, as deployed.
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type SalesforceSimulator,
  startSalesforceSimulator,
} from "../../src/simulator/salesforce/salesforce-simulator.ts";
import { policyText } from "../policies/policy-test-helpers.ts";
import { admin, uniqueName, type VaultAdmin } from "../support/vault-admin.ts";
import { E2eWorld, MOUNT } from "./e2e-kit.ts";

/** A listener an attacker controls: it records every request it receives, bodies included. */
class AttackerListener {
  readonly received: string[] = [];
  #server: Server | undefined;
  url = "";

  async start(): Promise<void> {
    this.#server = createServer((req: IncomingMessage, res) => {
      let body = "";
      req.on("data", (c: Buffer) => {
        body += c.toString();
      });
      req.on("end", () => {
        this.received.push(`${req.method} ${req.url} ${body}`);
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ access_token: "attacker-token", token_type: "Bearer", expires_in: 1080 }));
      });
    });
    const server = this.#server;
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.#server?.close(() => resolve()));
  }
}

let sim: SalesforceSimulator;
const listener = new AttackerListener();
beforeAll(async () => {
  sim = await startSalesforceSimulator();
  await listener.start();
});
afterAll(async () => {
  await listener.close();
  await sim?.close();
});

/** A token holding only the named shipped policy (loaded under a unique name), and no default policy. */
async function tokenFor(file: string): Promise<string> {
  const name = uniqueName(file.replace(/\.hcl$/, ""));
  await admin().writePolicy(name, policyText(file));
  return admin().createToken({ policies: [name], noDefaultPolicy: true });
}

/** Merge-patches custom_metadata as `vault kv metadata patch` does, with the given token. */
async function patchMetadata(as: VaultAdmin, path: string, custom: Record<string, string>) {
  return as.request(
    "PATCH",
    `${MOUNT}/metadata/${path}`,
    { custom_metadata: custom },
    {
      "Content-Type": "application/merge-patch+json",
    },
  );
}

describe("trust boundaries, attacked with the shipped policies' privileges", () => {
  it("an operator cannot make check or a rotation send any secret to a host of their choosing", async () => {
    const w = await E2eWorld.create(sim, { layout: "shipped", soak: "0s" });
    const rotator = await tokenFor("rotator.hcl");
    const operator = admin().withToken(await tokenFor("operator.hcl"));
    const eca = await w.credential("payments");
    const pkg = sim.mc.createPackage(uniqueName("mc"));
    const mcPath = `${w.prefix}/marketing-cloud`;
    await w.admin.seedKv(
      MOUNT,
      mcPath,
      { client_id: pkg.clientId, api_key: pkg.clientSecret },
      {
        provider: "sfmc",
        sfmc_tenant: "sim",
      },
    );
    const secrets = [eca.oldPair.secret, pkg.clientSecret];

    // The operator may not read either secret...
    expect((await operator.request("GET", `${MOUNT}/data/${eca.path}`)).status).toBe(403);
    // ...but may re-label both entries and name a listener of their own, as the old sfmc_auth_url allowed.
    const evil = { provider: "sfmc", sfmc_auth_url: `${listener.url}/steal` };
    expect((await patchMetadata(operator, eca.path, evil)).status).toBeLessThan(300);
    expect(
      (await patchMetadata(operator, mcPath, { sfmc_auth_url: listener.url, rotate: "now" })).status,
    ).toBeLessThan(300);
    // An admin pastes a newly staged secret, which a rotation would send for verification.
    const staged = sim.mc.stageSecret(pkg.clientId);
    secrets.push(staged);
    await w.admin.seedKv(MOUNT, mcPath, {
      client_id: pkg.clientId,
      api_key: pkg.clientSecret,
      pending_api_key: staged,
    });
    // A tenant the config does not know is no way around it either.
    const otherMc = `${w.prefix}/marketing-cloud-2`;
    await w.admin.seedKv(
      MOUNT,
      otherMc,
      { client_id: pkg.clientId, api_key: pkg.clientSecret },
      {
        provider: "sfmc",
      },
    );
    expect(
      (await patchMetadata(operator, otherMc, { sfmc_tenant: "attacker", rotate: "now" })).status,
    ).toBeLessThan(300);

    const env = { VAULT_TOKEN: rotator };
    const check = await w.cli(["check", "--json"], env);
    const run = await w.cli(["run", "--once"], env);
    const rotate = await w.cli(["rotate", mcPath], env);

    expect(listener.received).toEqual([]);
    const lines = (JSON.parse(check.stdout) as { checks: Array<{ topic: string; text: string }> }).checks;
    const of = (p: string) => lines.filter((l) => l.topic === `cred:${p}`).map((l) => l.text);
    expect(of(eca.path)).toEqual([expect.stringMatching(/^invalid: sfmc_auth_url is no longer read/)]);
    expect(of(mcPath)).toEqual([expect.stringMatching(/^invalid: sfmc_auth_url is no longer read/)]);
    expect(of(otherMc)).toEqual([
      "invalid: sfmc_tenant attacker is not in marketing_cloud.tenants (configured: sim)",
    ]);
    expect(run.stdout).toMatch(
      new RegExp(`^${mcPath} +- +invalid metadata: sfmc_auth_url is no longer read`, "m"),
    );
    expect(run.stdout).toMatch(
      /summary: 0 completed, 0 waiting, 0 failed, 0 rolled back, 0 skipped, 3 left alone/,
    );
    expect(rotate.stdout).toMatch(
      new RegExp(`^skipped: ${mcPath}: invalid metadata: sfmc_auth_url is no longer read`),
    );
    // Nothing was published anywhere: both entries hold what they held.
    expect((await w.entry(mcPath))?.data["api_key"]).toBe(pkg.clientSecret);
    expect((await w.entry(eca.path))?.data["api_key"]).toBe(eca.oldPair.secret);
    w.expectNoLeak(secrets);
  }, 120_000);

  it("a team that may write only its own folder cannot rotate another team's app or obtain its secret", async () => {
    const w = await E2eWorld.create(sim, {
      layout: "shipped",
      soak: "0s",
      // One-second scans: the backoff before the second attempt is at most a second.
      rotationExtra: ["max_attempts: 2", "scan_interval: 1s"],
    });
    const rotator = await tokenFor("rotator.hcl");
    const victim = await w.credential("payroll/salesforce");
    // The attacker's team writes its own folder only (data and metadata), like a per-team consumer policy.
    const teamPolicy = uniqueName("team-marketing-writer");
    await admin().writePolicy(
      teamPolicy,
      `path "${MOUNT}/data/${w.prefix}/marketing/*" { capabilities = ["create", "read", "update", "patch"] }
path "${MOUNT}/metadata/${w.prefix}/marketing/*" { capabilities = ["create", "read", "update", "patch", "list"] }`,
    );
    const attacker = admin().withToken(
      await admin().createToken({ policies: [teamPolicy], noDefaultPolicy: true }),
    );
    expect((await attacker.request("GET", `${MOUNT}/data/${victim.path}`)).status).toBe(403);

    // The victim's app id and current consumer key are not secrets; the secret is made up.
    const stolenPath = `${w.prefix}/marketing/not-payroll`;
    const madeUp = "test-secret-canary-made-up-by-attacker";
    const put = await attacker.request("POST", `${MOUNT}/data/${stolenPath}`, {
      data: { client_id: victim.oldPair.key, api_key: madeUp },
    });
    expect(put.status).toBeLessThan(300);
    expect(
      (
        await patchMetadata(attacker, stolenPath, {
          provider: "salesforce-eca",
          eca_app_id: victim.app.appId,
          soak: "0s",
          rotate: "now",
        })
      ).status,
    ).toBeLessThan(300);
    const simBefore = w.simState(victim.app);

    const env = { VAULT_TOKEN: rotator };
    // Asked on every cycle up to rotation.max_attempts (a brand-new pair may still be propagating), then refused.
    const first = await w.cli(["run", "--once"], env);
    expect(first.stdout).toMatch(/rotate \(flag\) +FAILED ROTATION_POSSESSION_UNPROVEN at claimed/);
    expect(w.simState(victim.app)).toEqual(simBefore);
    await new Promise((r) => setTimeout(r, 1_100)); // the backoff after the first attempt
    const second = await w.cli(["run", "--once"], env);
    expect(second.stdout).toMatch(/FAILED ROTATION_POSSESSION_UNPROVEN at claimed/);

    // Salesforce is untouched: nothing staged or promoted, the victim's pair is the only one and still logs in.
    expect(w.simState(victim.app)).toEqual(simBefore);
    expect(sim.validPairs(victim.app.appId, victim.app.consumerId).map((p) => p.key)).toEqual([
      victim.oldPair.key,
    ]);
    // The attacker's path holds nothing it did not write; the victim's KV is unchanged.
    const theirs = await attacker.request("GET", `${MOUNT}/data/${stolenPath}`);
    expect(JSON.stringify(theirs.body)).not.toContain(victim.oldPair.secret);
    expect((theirs.body as { data: { data: Record<string, string> } }).data.data["api_key"]).toBe(madeUp);
    expect((await w.entry(victim.path))?.data["api_key"]).toBe(victim.oldPair.secret);
    const meta = (await w.entry(stolenPath))?.meta;
    expect(meta?.["rotation_state"]).toBe("failed");
    expect(meta?.["last_rotation_error"]).toMatch(
      /^ROTATION_POSSESSION_UNPROVEN: the client_id\/api_key pair in KV does not log in/,
    );
    expect(meta?.["rotate"]).toBeUndefined();
    // The refusal is visible where people look: scan and the audit trail.
    const scan = await w.cli(["scan", "--json"], env);
    expect(scan.stdout).toContain("ROTATION_POSSESSION_UNPROVEN");
    expect(w.auditEvents().filter((e) => e.type === "rotation.failed" && e.path === stolenPath)).toHaveLength(
      1,
    );

    // The victim's own rotation still works, and makes the victim's path the consumer's owner.
    await patchMetadata(admin(), victim.path, { rotate: "now" });
    const own = await w.cli(["rotate", victim.path], env);
    expect(own.stdout).toMatch(/^completed: /);
    expect(w.auditEvents().some((e) => e.type === "consumer.owned" && e.path === victim.path)).toBe(true);
    w.expectNoLeak([victim.oldPair.secret, madeUp]);
  }, 180_000);

  it("a path may not choose a connection the config keeps for other prefixes, and nothing is asked of Salesforce", async () => {
    const w = await E2eWorld.create(sim, {
      layout: "shipped",
      connectionExtra: ["prefixes: [{prefix}/payroll]"],
    });
    const rotator = await tokenFor("rotator.hcl");
    const allowed = await w.credential("payroll/salesforce");
    const outside = await w.credential("marketing/salesforce", { rotate: "now" });
    const before = sim.counters();
    const env = { VAULT_TOKEN: rotator };
    const scan = await w.cli(["scan", "--json"], env);
    const items = (
      JSON.parse(scan.stdout) as { items: Array<{ path: string; state: string; reason?: string }> }
    ).items;
    const stateOf = (p: string) => items.find((i) => i.path === p);
    expect(stateOf(outside.path)).toMatchObject({
      state: "invalid",
      reason: "sf_connection sim may not be used under this path (salesforce.connections.sim.prefixes)",
    });
    expect(stateOf(allowed.path)?.state).not.toBe("invalid");
    const rotate = await w.cli(["rotate", outside.path], env);
    expect(rotate.stdout).toBe(
      `skipped: ${outside.path}: sf_connection sim may not be used under this path (salesforce.connections.sim.prefixes)\n`,
    );
    const run = await w.cli(["run", "--once"], env);
    expect(run.code).toBe(0);
    // Not a login, not a listing: Salesforce never heard of the refused path.
    expect(sim.counters()).toEqual(before);
    expect((await w.entry(outside.path))?.meta["rotate"]).toBe("now");
  }, 90_000);
});
