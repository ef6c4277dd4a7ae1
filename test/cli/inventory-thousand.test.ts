// The "done when": scan and report against a real server seeded with a thousand entries in mixed
// states classify every one correctly. Expected states come from how each entry is built, not from the code
// under test. Runs the real executable, as a user would.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { runCliProcess } from "../support/run-cli.ts";
import { admin, uniqueName, useVault } from "../support/vault-admin.ts";

const DAY = 86_400_000;
const CANARY = "test-secret-canary-thousand";

interface Planned {
  path: string;
  metadata: Record<string, string> | undefined;
  expected: string;
}

/** Ten kinds of entry, 100 of each; `now` is the seeding time (deadlines are days away from any edge). */
function plan(prefix: string, now: number): Planned[] {
  const iso = (offsetDays: number) => new Date(now + offsetDays * DAY).toISOString();
  const kinds: Array<(i: number) => Omit<Planned, "path">> = [
    () => ({
      expected: "ok",
      metadata: {
        provider: "salesforce-eca",
        eca_app_name: "App_Ok",
        last_rotated: iso(-10),
        rotation_verified_at: iso(-10),
      },
    }),
    // oauth_client_secret standard = 180d: 170 days ago leaves 10 days, inside the 14-day window
    () => ({
      expected: "due_soon",
      metadata: {
        provider: "salesforce-eca",
        eca_app_name: "App_Soon",
        last_rotated: iso(-170),
        rotation_verified_at: iso(-170),
      },
    }),
    (i) => ({
      expected: "overdue",
      metadata:
        i % 2 === 0
          ? {
              provider: "salesforce-eca",
              eca_app_id: "0xIWt0000003lOz",
              last_rotated: iso(-200),
              rotation_verified_at: iso(-200),
            }
          : // capped by a provider expiry that has passed, although the period has not
            { provider: "sfmc", expires_at: iso(-1), last_rotated: iso(-5), rotation_verified_at: iso(-5) },
    }),
    () => ({
      expected: "flagged",
      metadata: {
        provider: "generated",
        credential_type: "webhook_secret",
        rotate: "emergency",
        rotate_reason: "INC-1",
        last_rotated: iso(-1),
        rotation_verified_at: iso(-1),
      },
    }),
    () => ({
      expected: "failed",
      metadata: {
        provider: "salesforce-eca",
        eca_app_name: "App_Failed",
        rotation_state: "failed",
        last_rotation_error: "SALESFORCE_AUTH_FAILED: invalid_client",
      },
    }),
    (i) => ({
      expected: i % 2 === 0 ? "in_progress" : "awaiting_promotion",
      metadata: {
        provider: "salesforce-eca",
        eca_app_name: "App_Busy",
        rotation_state: i % 2 === 0 ? "in_progress" : "awaiting_promotion",
      },
    }),
    () => ({
      expected: "unverified",
      metadata: { provider: "manual", credential_type: "api_key", last_rotated: iso(-2) },
    }),
    (i) => ({
      expected: "invalid",
      metadata: [
        { provider: "salesforce-eca", eca_app_name: "App_Bad", rotation_period: "banana" },
        { provider: "salesforce-eca", eca_app_name: "App_Bad", rotation_period: "-3d" },
        { provider: "salesforce-eca", eca_app_name: "App_Bad", rotation_period: "999999999d" },
        { provider: "aws-iam" },
        { provider: "salesforce-eca", eca_app_name: "App_Bad", risk: "extreme" },
        { provider: "salesforce-eca", eca_app_name: "App_Bad", last_rotated: "last tuesday" },
        { provider: "salesforce-eca", eca_app_name: "App_Bad", expires_at: "2026-02-30T00:00:00Z" },
        { provider: "salesforce-eca", eca_app_name: "App_Bad", credential_type: "password" },
        { provider: "salesforce-eca" }, // neither eca_app_id nor eca_app_name
        { provider: "salesforce-eca", eca_app_name: "App_Bad", rotation_period: "９０d" }, // full-width digits
      ][i % 10],
    }),
    () => ({ expected: "unmanaged", metadata: undefined }),
    // a high-risk api_key (30d) rotated 20 days ago: 10 days left, due soon; proves the schedule table
    () => ({
      expected: "due_soon",
      metadata: {
        provider: "salesforce-eca",
        eca_app_name: "App_Hi",
        credential_type: "api_key",
        risk: "high",
        last_rotated: iso(-20),
        rotation_verified_at: iso(-20),
      },
    }),
  ];
  const out: Planned[] = [];
  for (let i = 0; i < 1000; i++) {
    const kind = kinds[i % kinds.length]!;
    const folder = `team-${i % 7}/${i % 3 === 0 ? "nested/" : ""}`;
    out.push({
      path: `${prefix}/${folder}cred-${String(i).padStart(4, "0")}`,
      ...kind(Math.floor(i / kinds.length)),
    });
  }
  return out;
}

async function inBatches<T>(
  items: readonly T[],
  size: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(fn));
}

describe("scan and report over a thousand entries on a real server", () => {
  const prefix = uniqueName("thousand");
  let planned: Planned[] = [];
  let env: Record<string, string> = {};
  let configFile = "";

  beforeAll(async () => {
    const vault = useVault();
    const a = admin();
    planned = plan(prefix, Date.now());
    await inBatches(planned, 25, (p) =>
      a.seedKv("secret", p.path, { client_id: "3MVGexample", api_key: CANARY }, p.metadata),
    );
    const dir = mkdtempSync(path.join(tmpdir(), "eca-thousand-"));
    configFile = path.join(dir, "config.yaml");
    writeFileSync(configFile, `vault:\n  kv_mount: secret\n  prefixes: [${prefix}]\n`);
    env = { VAULT_ADDR: vault.addr, VAULT_TOKEN: vault.token };
  }, 120_000);

  it("classifies every one of the 1,000 entries as its construction says", async () => {
    const res = await runCliProcess(["scan", "--json", "--config", configFile], env);
    expect(res.stderr).toBe("");
    expect(res.code).toBe(0);
    const inventory = JSON.parse(res.stdout) as {
      count: number;
      items: Array<{ path: string; state: string; reason: string | null }>;
    };
    expect(inventory.count).toBe(1000);
    const actual = new Map(inventory.items.map((i) => [i.path, i]));
    const wrong = planned
      .filter((p) => actual.get(p.path)?.state !== p.expected)
      .map((p) => `${p.path}: expected ${p.expected}, got ${actual.get(p.path)?.state}`);
    expect(wrong).toEqual([]);
    for (const item of inventory.items.filter((i) => i.state === "invalid")) expect(item.reason).toBeTruthy();
  });

  it("reports the same totals in every format and never prints secret data", async () => {
    const json = await runCliProcess(["report", "--format", "json", "--config", configFile], env);
    expect(json.code).toBe(0);
    const report = JSON.parse(json.stdout) as {
      totals: { all: number; by_state: Record<string, number> };
      sections: Array<{ id: string; count: number }>;
    };
    const expectedByState: Record<string, number> = {};
    for (const p of planned) expectedByState[p.expected] = (expectedByState[p.expected] ?? 0) + 1;
    expect(report.totals.all).toBe(1000);
    for (const [state, n] of Object.entries(expectedByState))
      expect(report.totals.by_state[state], state).toBe(n);
    expect(report.sections.find((s) => s.id === "overdue")?.count).toBe(100);

    const csv = await runCliProcess(["report", "--format", "csv", "--config", configFile], env);
    expect(csv.stdout.trim().split("\n")).toHaveLength(1001);
    for (const format of ["table", "markdown", "html"]) {
      const out = await runCliProcess(["report", "--format", format, "--config", configFile], env);
      expect(out.code).toBe(0);
      expect(out.stdout).toContain(planned.find((p) => p.expected === "overdue")!.path);
      expect(out.stdout + out.stderr).not.toContain(CANARY);
    }
    expect(json.stdout + csv.stdout).not.toContain(CANARY);
  });

  it("exits 1 with --fail-on overdue and 0 with --fail-on never", async () => {
    const failing = await runCliProcess(["report", "--fail-on", "overdue", "--config", configFile], env);
    expect(failing.code).toBe(1);
    const never = await runCliProcess(["report", "--fail-on", "never", "--config", configFile], env);
    expect(never.code).toBe(0);
  });
});
