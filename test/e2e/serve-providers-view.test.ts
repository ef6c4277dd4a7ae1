// Every face of `serve` with all four providers under one prefix and two rotations waiting for a person: an sfmc
// secret pasted into pending_api_key (no flag), picked up by the scan, published and waiting for activation in Setup, a generated confirm_by=flag secret in dual-accept, a
// manual credential due soon and a healthy ECA. The API, the status page, /metrics and `report` (a separate CLI
// process against the same Vault) name each credential's provider and state; after activation in Setup and a
// rotate=now the daemon completes the sfmc rotation and the API says ok. No secret in any output.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FixedClock } from "../../src/core/time.ts";
import {
  type SalesforceSimulator,
  startSalesforceSimulator,
} from "../../src/simulator/salesforce/salesforce-simulator.ts";
import { ServeProcess } from "../support/serve-process.ts";
import { freePort } from "../support/vault-backend.ts";
import { E2eWorld, type KvEntry, MOUNT } from "./e2e-kit.ts";

const FIVE_MINUTES = 5 * 60_000;
const DAY = 86_400_000;
const API_TOKEN = "test-secret-canary-api-token-views-3d7a";
const GENERATED_OLD = "test-secret-canary-generated-views-6b1f";
const MANUAL_SECRET = "test-secret-canary-manual-views-0e94";

let sim: SalesforceSimulator;
let clock: FixedClock;
beforeAll(async () => {
  clock = new FixedClock(new Date());
  sim = await startSalesforceSimulator({ clock });
});
afterAll(async () => {
  await sim?.close();
});

interface CredentialJson {
  path: string;
  state: string;
  provider: string | null;
  rotation_state: string | null;
  reason: string | null;
  stuck: boolean;
  rotation_verified_at: string | null;
}

async function get(url: string, token?: string) {
  const res = await request(url, {
    headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
  });
  const text = await res.body.text();
  return { status: res.statusCode, text };
}

async function until(
  read: () => Promise<KvEntry | undefined>,
  ok: (e: KvEntry) => boolean,
  what: string,
): Promise<KvEntry> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const e = await read();
    if (e !== undefined && ok(e)) return e;
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(e?.meta)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Waits until the daemon has finished `n` more scans than it had so far. */
async function afterScans(daemon: ServeProcess, n: number): Promise<void> {
  const scans = () => daemon.records.filter((r) => r.msg === "scan finished").length;
  const target = scans() + n;
  await daemon.waitForLog(() => scans() >= target, 20_000);
}

/** The status page's row for a path: the <tr> holding its (wbr-split) path cell. */
function statusRow(html: string, credPath: string): string {
  const cellHtml = credPath.split("/").join("/<wbr>");
  const row = html.match(/<tr[ >].*?<\/tr>/g)?.find((tr) => tr.includes(`>${cellHtml}</td>`));
  expect(row, `no status page row for ${credPath}`).toBeDefined();
  return row ?? "";
}

describe("serve with sfmc, generated, manual and salesforce-eca credentials", () => {
  it("every face names each provider and state while two rotations wait for a person, then shows sfmc done", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "eca-views-"));
    writeFileSync(path.join(dir, "api-token"), `${API_TOKEN}\n`);
    const w = await E2eWorld.create(sim, {
      soak: "1h",
      rotationExtra: ["scan_interval: 1s"],
      extraYaml: [
        "server:",
        `  listen: 127.0.0.1:${await freePort()}`,
        "  shutdown_timeout: 10s",
        "  api_tokens:",
        `    ci: { file: ${path.join(dir, "api-token")} }`,
        "log:",
        "  level: debug",
      ],
    });
    const now = Date.now();

    // sfmc: an operator staged a secret in Setup 5 minutes ago and pasted it; no flag: the scan picks it up.
    const pkg = sim.mc.createPackage("mc-views");
    const staged = sim.mc.stageSecret(pkg.clientId);
    clock.advance(FIVE_MINUTES);
    const sfmc = `${w.prefix}/mc-views`;
    await w.admin.seedKv(
      MOUNT,
      sfmc,
      { client_id: pkg.clientId, api_key: pkg.clientSecret, pending_api_key: staged },
      {
        provider: "sfmc",
        sfmc_tenant: "sim",
        credential_type: "oauth_client_secret",
      },
    );
    // generated: the sender has to be switched before the overlap ends.
    const generated = `${w.prefix}/hook`;
    await w.admin.seedKv(
      MOUNT,
      generated,
      { current_secret: GENERATED_OLD },
      {
        provider: "generated",
        credential_type: "webhook_secret",
        confirm_by: "flag",
        rotate: "now",
      },
    );
    // manual: rotated by hand 85 days ago on a 90-day period, so due in 5 days. No rotation_verified_at: the
    // first scan adopts the current version (a rotation_verified_at older than the version would record it).
    const manual = `${w.prefix}/erp-password`;
    const lastManual = new Date(now - 85 * DAY).toISOString();
    await w.admin.seedKv(
      MOUNT,
      manual,
      { password: MANUAL_SECRET },
      {
        provider: "manual",
        rotation_period: "90d",
        last_rotated: lastManual,
        rotation_contact: "team-erp",
      },
    );
    const eca = await w.credential("eca", {
      last_rotated: new Date(now).toISOString(),
      rotation_verified_at: new Date(now).toISOString(),
    });
    const expected: Record<string, { provider: string; state: string }> = {
      [sfmc]: { provider: "sfmc", state: "awaiting_promotion" },
      [generated]: { provider: "generated", state: "awaiting_promotion" },
      [manual]: { provider: "manual", state: "due_soon" },
      [eca.path]: { provider: "salesforce-eca", state: "ok" },
    };

    const daemon = await ServeProcess.start(["--config", w.configFile], {
      VAULT_ADDR: w.vault.addr,
      VAULT_TOKEN: w.vault.token,
    });
    const outputs: string[] = [];
    let newGenerated = "";
    try {
      const published = await until(
        () => w.entry(sfmc),
        (e) => e.meta["rotation_state"] === "awaiting_promotion",
        "the sfmc secret to be published",
      );
      expect(published.data["api_key"]).toBe(staged);
      expect(published.data["previous_key"]).toBe(pkg.clientSecret);
      expect(published.data["pending_api_key"]).toBe("");
      const started = w.auditEvents().filter((e) => e.path === sfmc && e.type === "rotation.started");
      expect(started.map((e) => [e["trigger"], e["actor"]])).toEqual([["pending", "operator-paste"]]);
      const overlap = await until(
        () => w.entry(generated),
        (e) => e.meta["rotation_state"] === "awaiting_promotion",
        "the generated overlap",
      );
      expect(overlap.data["rotation_phase"]).toBe("dual-accept");
      newGenerated = String(overlap.data["current_secret"]);
      // A scan after both publishes, so the daemon's snapshot (the list, the page, the metrics) has them.
      await afterScans(daemon, 2);

      // The API: the list (the last scan) and each credential (a fresh read).
      const list = await get(`${daemon.url}/v1/credentials`, API_TOKEN);
      expect(list.status, list.text).toBe(200);
      outputs.push(list.text);
      const items = (JSON.parse(list.text) as { credentials: CredentialJson[] }).credentials;
      expect(
        Object.fromEntries(items.map((c) => [c.path, { provider: c.provider, state: c.state }])),
      ).toEqual(expected);
      for (const [p, want] of Object.entries(expected)) {
        const one = await get(`${daemon.url}/v1/credentials/${p}`, API_TOKEN);
        expect(one.status, one.text).toBe(200);
        outputs.push(one.text);
        const item = JSON.parse(one.text) as CredentialJson;
        expect({ provider: item.provider, state: item.state }).toEqual(want);
        // Waiting for a person is not a stuck rotation.
        expect(item.stuck).toBe(false);
        expect(item.reason ?? "").not.toContain("stuck");
      }
      // The reasons say whom each overlap waits for, in the provider's words.
      const reasonOf = (p: string) => items.find((c) => c.path === p)?.reason ?? "";
      expect(reasonOf(sfmc)).toContain("activate it in Setup");
      expect(reasonOf(generated)).toContain("rotate=now");

      // The status page: one row per credential with its state group and its provider.
      const page = await get(`${daemon.url}/`);
      expect(page.status).toBe(200);
      outputs.push(page.text);
      for (const [p, want] of Object.entries(expected)) {
        const row = statusRow(page.text, p);
        expect(row).toContain(`data-state="${want.state}"`);
        expect(row).toContain(`<td data-label="Provider">${want.provider}</td>`);
      }
      // Recent rotations: the generated overlap waits for a person (the recheck time is not its end).
      expect(page.text).toContain("for a person; looked at again");

      // /metrics: credentials by state, the deadline gauge per provider, and the waiting rotations.
      const metrics = await get(`${daemon.url}/metrics`);
      expect(metrics.status).toBe(200);
      outputs.push(metrics.text);
      expect(metrics.text).toContain('eca_rotator_credentials{state="awaiting_promotion",provider="sfmc"} 1');
      expect(metrics.text).toContain(
        'eca_rotator_credentials{state="awaiting_promotion",provider="generated"} 1',
      );
      expect(metrics.text).toContain('eca_rotator_credentials{state="due_soon",provider="manual"} 1');
      expect(metrics.text).toContain('eca_rotator_credentials{state="ok",provider="salesforce-eca"} 1');
      for (const [p, want] of Object.entries(expected)) {
        expect(metrics.text).toMatch(
          new RegExp(
            `eca_rotator_credential_deadline_seconds\\{path="${p}",provider="${want.provider}"\\} \\d+`,
          ),
        );
      }
      expect(metrics.text).toContain('eca_rotator_rotations_total{outcome="waiting",provider="sfmc"} 1');
      expect(metrics.text).toContain('eca_rotator_rotations_total{outcome="waiting",provider="generated"} 1');

      // `report` as its own process against the same Vault.
      const json = await w.cli(["report", "--format", "json"]);
      expect(json.code, json.stderr).toBe(0);
      const report = JSON.parse(json.stdout) as {
        totals: { by_state: Record<string, number>; stuck: number };
        sections: Array<{ id: string; items: CredentialJson[] }>;
      };
      expect(report.totals.by_state).toMatchObject({ awaiting_promotion: 2, due_soon: 1, ok: 1 });
      expect(report.totals.stuck).toBe(0);
      const listed = report.sections.flatMap((s) =>
        s.items.map((i) => [i.path, { provider: i.provider, state: i.state, section: s.id }] as const),
      );
      expect(Object.fromEntries(listed)).toEqual({
        [sfmc]: { ...expected[sfmc], section: "in_progress" },
        [generated]: { ...expected[generated], section: "in_progress" },
        [manual]: { ...expected[manual], section: "due_soon" },
        [eca.path]: { ...expected[eca.path], section: "ok" },
      });
      const table = await w.cli(["report"]);
      expect(table.code, table.stderr).toBe(0);
      expect(table.stdout).toMatch(/^PATH +PROVIDER +DEADLINE \(UTC\)/m);
      expect(table.stdout).toMatch(/^DUE SOON \(1\)$/m);
      expect(table.stdout).toMatch(/^ROTATION IN PROGRESS \(2\)$/m);
      expect(table.stdout).toMatch(new RegExp(`^${manual} +manual `, "m"));
      expect(table.stdout).toMatch(new RegExp(`^${sfmc} +sfmc `, "m"));
      expect(table.stdout).toMatch(new RegExp(`^${generated} +generated `, "m"));
      expect(table.stdout).not.toContain("stuck 1");

      // The operator activates the staged secret in Setup and says so: the daemon proves the old one dead.
      clock.advance(FIVE_MINUTES);
      sim.mc.activateStaged(pkg.clientId);
      await w.admin.must(
        "PATCH",
        `${MOUNT}/metadata/${sfmc}`,
        { custom_metadata: { rotate: "now", rotate_reason: "activated in Setup" } },
        { "Content-Type": "application/merge-patch+json" },
      );
      await daemon.waitForLog((r) => r.msg === "rotation completed" && r["path"] === sfmc, 20_000);
      const done = await w.entry(sfmc);
      expect(done?.data["api_key"]).toBe(staged);
      expect(done?.data["previous_key"]).toBe("");
      expect(done?.meta["rotation_state"]).toBe("idle");
      expect(done?.meta["rotation_verified_at"]).toMatch(/Z$/);
      expect(done?.meta["expires_at"]).toMatch(/Z$/);
      expect(done?.meta["rotate"]).toBeUndefined();
      const after = await get(`${daemon.url}/v1/credentials/${sfmc}`, API_TOKEN);
      expect(after.status).toBe(200);
      outputs.push(after.text);
      const afterJson = JSON.parse(after.text) as CredentialJson & { expires_at: string | null };
      expect(afterJson).toMatchObject({
        provider: "sfmc",
        state: "ok",
        rotation_state: "idle",
        rotation_verified_at: expect.stringMatching(/Z$/),
      });
      expect(Date.parse(afterJson.expires_at ?? "")).toBe(Date.parse(String(done?.meta["expires_at"])));
      // The generated overlap still waits for its own confirmation.
      expect((await w.entry(generated))?.meta["rotation_state"]).toBe("awaiting_promotion");
      const metricsAfter = await get(`${daemon.url}/metrics`);
      outputs.push(metricsAfter.text);
      expect(metricsAfter.text).toContain(
        'eca_rotator_rotations_total{outcome="completed",provider="sfmc"} 1',
      );
      const pageAfter = await get(`${daemon.url}/`);
      outputs.push(pageAfter.text);
    } finally {
      const stopped = await daemon.stop();
      expect(stopped.code).toBe(0);
      w.outputs.push(daemon.stdout, daemon.stderr, ...outputs);
    }
    w.expectNoLeak([
      API_TOKEN,
      pkg.clientSecret,
      staged,
      GENERATED_OLD,
      newGenerated,
      MANUAL_SECRET,
      eca.oldPair.secret,
    ]);
  }, 120_000);
});
