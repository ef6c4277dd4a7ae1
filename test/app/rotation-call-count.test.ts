// What one standard rotation (salesforce-eca, overlap semantics, soak 0) costs in calls, on the real adapters:
// the stack `rotate` and the daemon build (buildRotationStack), the run's OpenBao and the Salesforce simulator
// over loopback. Every request is counted where it leaves this process (node:http's diagnostics channel, attributed
// to the rotation: the bench's RequestMeter) and, for Salesforce, also where it arrives (the simulator's
// onRequest). The calls must stay exactly those of the call table in docs/rotation.md: a new call fails this test until
// it is justified there, and so does a saved one until the table says so.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { callKind, RequestMeter } from "../../bench/request-meter.ts";
import {
  buildRotationStack,
  connectVault,
  type RotationStack,
  type VaultStack,
} from "../../src/app/compose.ts";
import { loadConfig } from "../../src/config/load-config.ts";
import {
  type SalesforceSimulator,
  startSalesforceSimulator,
} from "../../src/simulator/salesforce/salesforce-simulator.ts";
import { admin, uniqueName, useVault } from "../support/vault-admin.ts";

const MOUNT = "secret";

/** The call table of docs/rotation.md (Vault and Salesforce calls), in order. */
const VAULT_CALLS = [
  "write lease", // claim: create the lease with cas 0
  "read credential", // policy and pair, under the lease (inspect uses this read too)
  "write journal", // claimed, created with cas 0: an existing journal (an unfinished rotation) makes it fail
  "patch credential metadata", // rotation_state=in_progress (the read just before vouches for `provider`)
  "read owner record", // inspect: who owns the consumer
  "write owner record", // first rotation only: this path becomes the consumer's owner (cas 0)
  "write journal", // staging: inspect's findings and the intent, before POST
  "write journal", // staged: the new pair, before any use
  "read credential", // publish: read, decide
  "write credential fields", // publish (PATCH with cas; the read just before vouches for `provider`)
  "write journal", // published and, soak 0, promoting: the intent before PATCH
  "read credential", // promote: KV still names the published pair (never promoted over a pair written back)
  "write journal", // promoted
  "read credential", // retire: KV still holds the new pair, previous_* the old one
  "write credential fields", // clear previous_* once the old key is proven dead (PATCH with cas)
  "write journal", // retired, with the proof (old_key_dead_at)
  "read credential", // close: the policy for next_rotation_due, and the flag as it is now
  "patch credential metadata", // the close stamps
  "delete journal",
  "delete lease",
];

const SALESFORCE_CALLS = [
  "list consumers", // resolve the target; the list shows the main key, which KV's client_id must be
  "list staged", // no staged set someone else made
  "token request", // proof of possession: KV's pair logs in (the token is dropped, not revoked)
  "create staged (POST)", // the intent is journaled; inspect's list, moments ago, showed none
  "token request", // verify the staged pair
  "list staged", // promote: our staged set still active, so nothing was promoted since inspect read the main key
  "promote staged (PATCH)",
  "token request", // verify the promoted pair
  "delete staged (DELETE)", // retire: the rotated record, by the id PATCH kept
  "token request", // prove the old key dead (invalid_client_id)
];

/** Salesforce's OAuth endpoints: not counted against the org's daily API request limit. */
const OAUTH_CALLS = new Set(["token request", "revoke token"]);

/** At most this many: the counts above (a later rotation of the same consumer writes no owner record). */
const VAULT_BUDGET = VAULT_CALLS.length;
const SALESFORCE_BUDGET = SALESFORCE_CALLS.length;

let sim: SalesforceSimulator;
let vault: VaultStack;
let stack: RotationStack;
let meter: RequestMeter;
const arrived: string[] = [];
let prefix: string;
let statePrefix: string;

beforeAll(async () => {
  sim = await startSalesforceSimulator({
    rotateSemantics: "overlap",
    onRequest: (e) => arrived.push(`${e.method} ${e.path}`),
  });
  const root = `calls/${uniqueName("w")}`;
  prefix = `${root}/creds`;
  statePrefix = `${root}/state`;
  const connPath = `${root}/conn/sim`;
  const a = admin();
  await a.seedKv(MOUNT, connPath, {
    client_id: sim.adminApp.consumerKey,
    client_secret: sim.adminApp.consumerSecret,
  });
  const dir = mkdtempSync(path.join(tmpdir(), "eca-calls-"));
  const file = path.join(dir, "config.yaml");
  writeFileSync(
    file,
    [
      "vault:",
      `  kv_mount: ${MOUNT}`,
      `  prefixes: [${prefix}]`,
      `  state_prefix: ${statePrefix}`,
      "salesforce:",
      "  connections:",
      "    sim:",
      `      my_domain_url: ${sim.url}`,
      `      credentials_path: ${connPath}`,
      "rotation:",
      "  soak: 0s",
      "  verify_timeout: 30s",
      "audit:",
      `  file: ${path.join(dir, "audit.jsonl")}`,
      "",
    ].join("\n"),
  );
  const target = useVault();
  const cfg = loadConfig({ file, env: { VAULT_ADDR: target.addr, VAULT_TOKEN: target.token } });
  vault = await connectVault(cfg);
  stack = await buildRotationStack(cfg, vault, { stderr: () => {} });
  meter = new RequestMeter();
});

afterAll(async () => {
  meter?.close();
  await stack?.close();
  await vault?.close();
  await sim?.close();
});

/** The simulator app behind each credential path. */
const apps = new Map<string, { appId: string; consumerId: string }>();

async function credential(name: string): Promise<string> {
  const app = sim.createApp(uniqueName(name).replace(/[^A-Za-z0-9]/g, "_"));
  const pair = sim.primaryPair(app.appId, app.consumerId);
  const p = `${prefix}/${name}`;
  await admin().seedKv(
    MOUNT,
    p,
    { client_id: pair.key, api_key: pair.secret },
    { provider: "salesforce-eca", eca_app_id: app.appId },
  );
  apps.set(p, app);
  return p;
}

async function rotate(p: string): Promise<{ vault: string[]; salesforce: string[]; arrived: string[] }> {
  arrived.length = 0;
  const { value: outcome, scope } = await meter.within(() =>
    stack.engine.start(p, { mode: "standard", trigger: "cli", actor: "cli" }),
  );
  expect(outcome).toMatchObject({ kind: "completed" });
  const kinds = (system: "Vault" | "Salesforce") =>
    scope.requests
      .filter((r) => (r.origin === vault.client.address) === (system === "Vault"))
      .map((r) => callKind(r, vault.client.address, statePrefix));
  return { vault: kinds("Vault"), salesforce: kinds("Salesforce"), arrived: [...arrived] };
}

describe("the calls of one standard rotation", () => {
  it("are the documented ones: at most 20 to Vault and 10 to Salesforce, 6 of them on the daily API limit", async () => {
    // A process's first rotation also logs the admin session in and asks for the org id; both are cached.
    await rotate(await credential("warm-up"));
    const first = await rotate(await credential("crm"));
    expect(first.vault).toEqual(VAULT_CALLS);
    expect(first.salesforce).toEqual(SALESFORCE_CALLS);
    expect(first.vault.length).toBeLessThanOrEqual(VAULT_BUDGET);
    expect(first.salesforce.length).toBeLessThanOrEqual(SALESFORCE_BUDGET);
    expect([VAULT_BUDGET, SALESFORCE_BUDGET]).toEqual([20, 10]);
    expect(first.salesforce.filter((k) => !OAUTH_CALLS.has(k))).toHaveLength(6);
    // The simulator saw exactly the Salesforce calls the client sent.
    expect(first.arrived).toHaveLength(first.salesforce.length);
    // Retirement deleted the record PATCH promoted, by its id.
    const promoted = first.arrived.find((a) => a.startsWith("PATCH "))?.slice("PATCH ".length);
    expect(promoted).toMatch(/\/staged\/\w+$/);
    expect(first.arrived).toContain(`DELETE ${promoted}`);

    // The next rotation of the same credential: the consumer already has its owner record.
    await admin().request(
      "PATCH",
      `${MOUNT}/metadata/${prefix}/crm`,
      { custom_metadata: { rotate: "now" } },
      { "Content-Type": "application/merge-patch+json" },
    );
    const again = await rotate(`${prefix}/crm`);
    expect(again.vault).toEqual(VAULT_CALLS.filter((k) => k !== "write owner record"));
    expect(again.salesforce).toEqual(SALESFORCE_CALLS);
  }, 60_000);

  it("cost a list and a second DELETE when the rotated record does not keep the promoted id", async () => {
    sim.setOptions({ rotatedRecordNewId: true });
    try {
      const p = await credential("renamed");
      const out = await rotate(p);
      const retire = SALESFORCE_CALLS.slice(SALESFORCE_CALLS.indexOf("delete staged (DELETE)"));
      expect(out.salesforce).toEqual([
        ...SALESFORCE_CALLS.slice(0, SALESFORCE_CALLS.indexOf("delete staged (DELETE)")),
        "delete staged (DELETE)", // by the promoted id: 404
        "list staged",
        ...retire,
      ]);
      expect(out.vault).toEqual(VAULT_CALLS);
      // Only the new pair logs in: the rotated record, found by listing, is gone with the old pair.
      const app = apps.get(p);
      const live = app === undefined ? [] : sim.validPairs(app.appId, app.consumerId);
      const kv = await admin().readData(MOUNT, p);
      expect(live.map((x) => [x.role, x.key])).toEqual([["primary", kv["client_id"]]]);
    } finally {
      sim.setOptions({ rotatedRecordNewId: false });
    }
  }, 60_000);
});
