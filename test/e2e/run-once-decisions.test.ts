// `run --once` decides per credential: what is not due, invalid, unmanaged or of another provider is left
// alone with its reason; what is due by schedule is rotated. No secret reaches stdout, stderr (which carries
// the audit lines when no audit file is configured) or anywhere else.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type SalesforceSimulator,
  startSalesforceSimulator,
} from "../../src/simulator/salesforce/salesforce-simulator.ts";
import { admin } from "../support/vault-admin.ts";
import { expectRotatedClean } from "./e2e-invariants.ts";
import { CANARY, E2eWorld, MOUNT } from "./e2e-kit.ts";

let sim: SalesforceSimulator;
beforeAll(async () => {
  sim = await startSalesforceSimulator();
});
afterAll(async () => {
  await sim?.close();
});

describe("eca-rotator run --once", () => {
  it("rotates only what is due and lists every other credential with the reason it was left alone", async () => {
    const w = await E2eWorld.create(sim, { auditFile: false });
    const fresh = await w.credential("fresh", { last_rotated: new Date().toISOString() });
    const bad = await w.credential("bad", { rotation_period: "banana" });
    const due = await w.credential(
      "due",
      { last_rotated: "2024-01-01T00:00:00Z" },
      { webhook_token: CANARY },
    );
    const paused = await w.credential("paused", {
      last_rotated: "2024-01-01T00:00:00Z",
      auto_rotate: "false",
    });
    await admin().seedKv(
      MOUNT,
      `${w.prefix}/sfmc`,
      { api_key: CANARY },
      {
        provider: "sfmc",
        expires_at: "2024-01-01T00:00:00Z",
      },
    );
    await admin().seedKv(MOUNT, `${w.prefix}/plain`, { note: "not managed" });
    const snapshots = {
      fresh: await w.entry(fresh.path),
      bad: await w.entry(bad.path),
      paused: await w.entry(paused.path),
      sfmc: await w.entry(`${w.prefix}/sfmc`),
    };
    const before = sim.counters().promotions;

    const run = await w.cli(["run", "--once"]);

    const rows = run.stdout.split("\n");
    expect(rows[0]).toMatch(/^run --once at \S+Z: 5 credential\(s\)$/);
    expect(rows[1]).toMatch(/^PATH\s+ACTION\s+RESULT$/);
    expect(rows.slice(2, 7)).toEqual([
      expect.stringMatching(
        new RegExp(`^${bad.path}\\s+-\\s+invalid metadata: rotation_period must be a duration`),
      ),
      expect.stringMatching(
        new RegExp(`^${due.path}\\s+rotate \\(schedule\\)\\s+completed: KV version 2, key [0-9a-f]{16}, `),
      ),
      expect.stringMatching(new RegExp(`^${fresh.path}\\s+-\\s+not due for \\d+d`)),
      expect.stringMatching(
        new RegExp(`^${paused.path}\\s+-\\s+auto_rotate=false: only a flag or the CLI rotates it$`),
      ),
      expect.stringMatching(
        new RegExp(
          `^${w.prefix}/sfmc\\s+-\\s+assisted rotation: an operator stages a new secret in Setup and pastes it into pending_api_key`,
        ),
      ),
    ]);
    expect(rows[7]).toBe(
      "summary: 1 completed, 0 waiting, 0 failed, 0 rolled back, 0 skipped, 4 left alone; 1 unmanaged not listed",
    );
    expect(run.code).toBe(0);
    await expectRotatedClean(w, due, before);
    expect((await w.entry(due.path))?.data["webhook_token"]).toBe(CANARY); // kept, never printed
    // Left alone means untouched: same version, same data, same metadata.
    expect(await w.entry(fresh.path)).toEqual(snapshots.fresh);
    expect(await w.entry(bad.path)).toEqual(snapshots.bad);
    expect(await w.entry(paused.path)).toEqual(snapshots.paused);
    expect(await w.entry(`${w.prefix}/sfmc`)).toEqual(snapshots.sfmc);
    // The audit lines went to stderr (no audit.file), and they hold no secret either.
    expect(run.stderr).toMatch(/^audit \{"type":"rotation.completed",/m);
    w.expectNoLeak([CANARY, due.oldPair.secret, fresh.oldPair.secret, sim.adminApp.consumerSecret]);
  }, 60_000);

  it("exits 1 when a rotation fails, naming the code and the step", async () => {
    const w = await E2eWorld.create(sim);
    // A person has a staged set in flight: the rotator must not destroy it.
    const cred = await w.credential("conflict", { rotate: "now" });
    const { adminToken } = await simAdminSession();
    await fetch(
      `${sim.url}/services/data/v65.0/apps/oauth/credentials/${cred.app.appId}/${cred.app.consumerId}/staged`,
      { method: "POST", headers: { Authorization: `Bearer ${adminToken}` } },
    );
    const run = await w.cli(["run", "--once"]);
    expect(run.stdout).toMatch(
      new RegExp(`${cred.path}\\s+rotate \\(flag\\)\\s+FAILED SALESFORCE_STAGED_CONFLICT at [a-z_]+: `),
    );
    expect(run.code).toBe(1);
  }, 60_000);

  it("refuses run without --once with a usage error (exit 2)", async () => {
    const w = await E2eWorld.create(sim);
    const run = await w.cli(["run"]);
    expect(run.stderr).toMatch(
      /^error: run needs --once \(for cycles every rotation.scan_interval, run the daemon: eca-rotator serve\)$/m,
    );
    expect(run.code).toBe(2);
  }, 60_000);

  async function simAdminSession(): Promise<{ adminToken: string }> {
    const res = await fetch(`${sim.url}/services/oauth2/token`, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        grant_type: "client_credentials",
        client_id: sim.adminApp.consumerKey,
        client_secret: sim.adminApp.consumerSecret,
      }),
    });
    return { adminToken: ((await res.json()) as { access_token: string }).access_token };
  }
});
