// Readers per credential on the real HTTP server: the API's JSON and the status page, with a soak that waits for
// readers (its words come from the real RotationTracker), and labels an attacker chose escaped.
import { afterEach, describe, expect, it } from "vitest";
import { summarizeReaders } from "../../src/core/inventory/collect-inventory.ts";
import type { RotationOutcome } from "../../src/core/rotation/rotation-outcome.ts";
import { RotationTracker } from "../../src/daemon/rotation-tracker.ts";
import { CONTENT_SECURITY_POLICY } from "../../src/http/http-server.ts";
import { FakeDaemonView, inventoryItem } from "../support/fake-daemon-view.ts";
import { startTestApi, type TestApi } from "../support/http-api-client.ts";

const NOW = new Date("2026-05-01T12:00:00Z");
const HOUR = 3_600_000;
const ago = (h: number) => new Date(NOW.getTime() - h * HOUR);
const PROD = "api-credentials/acme/prod";
const HOSTILE = '<script>alert(1)</script>"\u202Eevil';
const DETAIL = "waiting for readers: 3 of 4 moved; waiting for token-billing-sync, last read v7 2h ago";

let running: TestApi | undefined;
afterEach(async () => {
  await running?.close();
  running = undefined;
});

async function setup() {
  const view = new FakeDaemonView();
  const seen = [
    { id: "entity:a", label: "approle (billing)", version: 8, at: ago(1) },
    { id: "entity:b", label: "token-billing-sync", version: 7, at: ago(2) },
    { id: "entity:c", label: HOSTILE, version: 6, at: ago(3) },
  ];
  const prod = { currentVersion: 8, consumers: ["billing", "crm"] };
  view.setItems(
    [
      inventoryItem(PROD, "awaiting_promotion", { ...prod, readers: summarizeReaders(seen, prod) }),
      inventoryItem("api-credentials/acme/idle", "ok", {
        currentVersion: 2,
        readers: summarizeReaders([], { currentVersion: 2, consumers: [] }),
      }),
    ],
    ago(0.01),
  );
  // The soak's waiting outcome, through the tracker the daemon uses.
  const tracker = new RotationTracker();
  tracker.queued({
    rotationId: "rot-1",
    path: PROD,
    mode: "standard",
    trigger: "schedule",
    actor: "scheduler",
    requestedAt: ago(3),
  });
  const waiting: RotationOutcome = {
    kind: "waiting",
    path: PROD,
    rotationId: "rot-1",
    mode: "standard",
    sinkFailures: 0,
    step: "published",
    waiting: "readers",
    until: new Date(NOW.getTime() + 60_000),
    detail: DETAIL,
  };
  tracker.onOutcome(waiting, "rot-1", NOW);
  view.rotations = tracker.recent(10);
  const api = await startTestApi({
    view,
    apiTokens: async () => [],
    version: "9.9.9",
    kvMount: "secret",
    now: () => NOW,
  });
  running = api;
  return api;
}

describe("readers on the HTTP API", () => {
  it("lists each credential's readers in /v1/credentials and /v1/credentials/{path}", async () => {
    const api = await setup();
    const list = await api.request("/v1/credentials");
    expect(list.statusCode).toBe(200);
    const body = list.json() as { credentials: { path: string; readers: unknown }[] };
    const prod = body.credentials.find((c) => c.path === PROD)?.readers as {
      total: number;
      on_current: number;
      listed: { label: string; version: number; current: boolean; declared: boolean; last_read_at: string }[];
      unseen_consumers: string[];
    };
    expect(prod.total).toBe(3);
    expect(prod.on_current).toBe(1);
    expect(prod.listed.map((r) => [r.label, r.version, r.current, r.declared])).toEqual([
      ["token-billing-sync", 7, false, false],
      [HOSTILE, 6, false, false],
      ["approle (billing)", 8, true, true],
    ]);
    expect(prod.listed[0]?.last_read_at).toBe(ago(2).toISOString());
    expect(prod.unseen_consumers).toEqual(["crm"]);
    expect(body.credentials.find((c) => c.path === "api-credentials/acme/idle")?.readers).toMatchObject({
      total: 0,
    });
    const one = await api.request(`/v1/credentials/${PROD}`);
    expect(one.statusCode).toBe(200);
    expect((one.json() as { readers: { total: number } }).readers.total).toBe(3);
  });

  it("shows readers per credential and the soak's wait on the status page, escaped, under the CSP", async () => {
    const api = await setup();
    const res = await api.request("/");
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-security-policy"]).toBe(CONTENT_SECURITY_POLICY);
    const html = res.body;
    expect(html).toContain("<th>Readers</th>");
    expect(html).toContain("1 of 3 on v8");
    expect(html).toContain("token-billing-sync: v7, 2h ago");
    expect(html).toContain("none in the window");
    // The waiting rotation's words, on the credential and in the rotations table.
    expect(html.split(DETAIL).length - 1).toBe(2);
    expect(html).not.toContain("<script>");
    expect(html).toContain("&lt;script&gt;alert(1)&lt;/script&gt;&quot;");
    expect(html).not.toContain("\u202E");
  });
});
