// ChatNotifier with real Slack, Teams and signed-webhook targets posting to loopback receivers: one message per
// dedup key, per-target event filters, a failing target that never affects the others or the caller, the
// engine's notices filled in from the last scan, and test messages in each target's own format.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { ChatTarget } from "../../src/adapters/chat/chat-target.ts";
import { SignedWebhookTarget } from "../../src/adapters/chat/signed-webhook.ts";
import { SlackWebhookTarget } from "../../src/adapters/chat/slack-webhook.ts";
import { TeamsWorkflowTarget } from "../../src/adapters/chat/teams-webhook.ts";
import {
  ChatNotifier,
  type ChatNotifierOptions,
  type DedupStore,
  MemoryDedupStore,
} from "../../src/app/chat-notifier.ts";
import { CHAT_EVENT_KINDS, type ChatEvent, type ChatEventKind } from "../../src/core/notify/chat-event.ts";
import { SecretValue } from "../../src/core/secret-value.ts";
import { DAY_MS, FixedClock } from "../../src/core/time.ts";
import { startWebhookReceiver, type WebhookReceiver } from "../support/webhook-receiver.ts";

const URL_CANARY = "test-secret-canary-notifier-url-55e1";
const clock = new FixedClock("2026-03-02T09:00:00.000Z");
const noSleep = async () => {};

let slackRx: WebhookReceiver;
let teamsRx: WebhookReceiver;
let hookRx: WebhookReceiver;
let targets: ChatTarget[];

beforeEach(async () => {
  [slackRx, teamsRx, hookRx] = await Promise.all([
    startWebhookReceiver(),
    startWebhookReceiver(),
    startWebhookReceiver(),
  ]);
  const common = { timeoutMs: 2_000, maxRetries: 1, sleep: noSleep, clock };
  targets = [
    new SlackWebhookTarget({
      name: "slack-ops",
      url: SecretValue.of(`${slackRx.url}/s/${URL_CANARY}`),
      ...common,
    }),
    new TeamsWorkflowTarget({
      name: "teams-ops",
      url: SecretValue.of(`${teamsRx.url}/t/${URL_CANARY}`),
      ...common,
    }),
    new SignedWebhookTarget({
      name: "hook",
      url: SecretValue.of(`${hookRx.url}/w/${URL_CANARY}`),
      secret: SecretValue.of("test-secret-hmac"),
      ...common,
    }),
  ];
});
afterEach(async () => {
  await Promise.all(targets.map((t) => t.close?.()));
  await Promise.all([slackRx.close(), teamsRx.close(), hookRx.close()]);
});

const all = new Set<ChatEventKind>(CHAT_EVENT_KINDS);

interface Recorded {
  sent: Array<[string, ChatEventKind]>;
  failures: Array<[string, unknown]>;
}

function notifier(
  events: [ReadonlySet<ChatEventKind>, ReadonlySet<ChatEventKind>, ReadonlySet<ChatEventKind>] = [
    all,
    all,
    all,
  ],
  over: Partial<ChatNotifierOptions> = {},
): { n: ChatNotifier; rec: Recorded } {
  const rec: Recorded = { sent: [], failures: [] };
  const n = new ChatNotifier({
    targets: targets.map((target, i) => ({ target, events: events[i] ?? all })),
    dedup: new MemoryDedupStore(clock),
    lookup: (path) =>
      path === "api-credentials/team-a/crm"
        ? { path, provider: "salesforce-eca", consumers: ["billing-api"], contact: "#team-a" }
        : undefined,
    clock,
    onSent: (t, k) => rec.sent.push([t, k]),
    onFailure: (t, e) => rec.failures.push([t, e]),
    ...over,
  });
  return { n, rec };
}

const overdue: ChatEvent = {
  kind: "credential.overdue",
  credential: { path: "api-credentials/team-a/crm", consumers: ["billing-api"], contact: "#team-a" },
  deadline: new Date("2026-03-01T00:00:00.000Z"),
  at: clock.now(),
};

describe("ChatNotifier", () => {
  it("sends the same event only once, to every subscribed target", async () => {
    const { n, rec } = notifier();
    expect(await n.send(overdue)).toEqual({
      sent: ["slack-ops", "teams-ops", "hook"],
      deduplicated: false,
      failed: [],
    });
    expect(await n.send({ ...overdue, at: new Date(clock.now().getTime() + DAY_MS) })).toEqual({
      sent: [],
      deduplicated: true,
      failed: [],
    });
    expect([slackRx.requests.length, teamsRx.requests.length, hookRx.requests.length]).toEqual([1, 1, 1]);
    expect(rec.sent).toEqual([
      ["slack-ops", "credential.overdue"],
      ["teams-ops", "credential.overdue"],
      ["hook", "credential.overdue"],
    ]);
  });

  it("sends a new message when the deadline changes", async () => {
    const { n } = notifier();
    await n.send(overdue);
    const next = await n.send({ ...overdue, deadline: new Date("2026-06-01T00:00:00.000Z") });
    expect(next.deduplicated).toBe(false);
    expect(slackRx.requests).toHaveLength(2);
  });

  it("sends each kind only to the targets subscribed to it", async () => {
    const { n } = notifier([
      new Set(["credential.overdue"]),
      new Set(["report.weekly"]),
      new Set(["credential.overdue", "report.weekly"]),
    ]);
    expect((await n.send(overdue)).sent).toEqual(["slack-ops", "hook"]);
    const weekly: ChatEvent = {
      kind: "report.weekly",
      at: clock.now(),
      period: "2026-W10",
      totals: { all: 1, managed: 1, needingAttention: 1, overdue: 1, dueSoon: 0, failed: 0 },
      topItems: [{ path: "api-credentials/team-a/crm", state: "overdue" }],
    };
    expect((await n.send(weekly)).sent).toEqual(["teams-ops", "hook"]);
    expect(await n.send({ ...overdue, kind: "credential.due_soon" })).toEqual({
      sent: [],
      deduplicated: false,
      failed: [],
    });
    expect([slackRx.requests.length, teamsRx.requests.length, hookRx.requests.length]).toEqual([1, 1, 2]);
  });

  it("keeps delivering to the other targets when one fails, and reports the failure without the URL", async () => {
    teamsRx.respondByDefault({ status: 500 });
    const { n, rec } = notifier();
    const result = await n.send(overdue);
    expect(result).toEqual({ sent: ["slack-ops", "hook"], deduplicated: false, failed: ["teams-ops"] });
    expect(rec.failures.map(([t]) => t)).toEqual(["teams-ops"]);
    const err = rec.failures[0]?.[1] as Error;
    expect(err.message).toBe('chat target "teams-ops" (teams): HTTP 500 after 2 attempts');
    expect(JSON.stringify(rec)).not.toContain(URL_CANARY);
    // One target got it, so the claim holds: no duplicate for the others next time.
    expect((await n.send(overdue)).deduplicated).toBe(true);
  });

  it("gives the claim back when no target got the message, so the next scan tries again", async () => {
    for (const rx of [slackRx, teamsRx, hookRx]) rx.respondWith({ status: 503 }, { status: 503 });
    const { n } = notifier();
    expect((await n.send(overdue)).failed).toEqual(["slack-ops", "teams-ops", "hook"]);
    expect(await n.send(overdue)).toEqual({
      sent: ["slack-ops", "teams-ops", "hook"],
      deduplicated: false,
      failed: [],
    });
  });

  it("sends anyway when the dedup store fails (a duplicate is better than silence)", async () => {
    const broken: DedupStore = {
      claim: async () => {
        throw new Error("vault down");
      },
    };
    const dedupErrors: unknown[] = [];
    const { n } = notifier(undefined, { dedup: broken, onDedupFailure: (e) => dedupErrors.push(e) });
    expect((await n.send(overdue)).sent).toHaveLength(3);
    expect(dedupErrors).toHaveLength(1);
  });

  it("turns the engine's notice into a message naming consumers and contact from the last scan", async () => {
    const { n } = notifier();
    await n.notify({
      kind: "rotation.failed",
      path: "api-credentials/team-a/crm",
      rotationId: "rot-9",
      mode: "standard",
      provider: "salesforce-eca",
      step: "staged",
      errorCode: "VAULT_CAS_CONFLICT",
      text: "Rotation of api-credentials/team-a/crm (standard) failed at publish: VAULT_CAS_CONFLICT: lost a race.",
    });
    const body = (await hookRx.waitFor(1))[0]?.body as Record<string, unknown>;
    expect(body["dedup_key"]).toBe("rotation.failed:api-credentials/team-a/crm:rot-9");
    expect(body["facts"]).toEqual(
      expect.arrayContaining([
        { label: "Consumers", value: "billing-api" },
        { label: "Contact", value: "#team-a" },
        { label: "Provider", value: "salesforce-eca" },
        { label: "Mode", value: "standard" },
        { label: "Error", value: "VAULT_CAS_CONFLICT" },
      ]),
    );
  });

  it("reports the error code and mode the engine gave, never words it finds in the text", async () => {
    const { n } = notifier();
    const path = "api-credentials/PAYMENTS_EU/stripe";
    await n.notify({
      kind: "rotation.failed",
      path,
      rotationId: "rot-11",
      mode: "emergency",
      provider: "salesforce-eca",
      step: "promoted",
      errorCode: "ROTATION_VERIFY_FAILED",
      text: `Rotation of ${path} (standard) failed at promoted: the new main pair was refused (SALESFORCE_AUTH_FAILED).`,
    });
    const body = (await hookRx.waitFor(1))[0]?.body as { facts: Array<{ label: string; value: string }> };
    const fact = (label: string) => body.facts.find((f) => f.label === label)?.value;
    expect(fact("Error")).toBe("ROTATION_VERIFY_FAILED");
    expect(fact("Mode")).toBe("emergency");
    expect(fact("Provider")).toBe("salesforce-eca");
  });

  it("delivers an action-needed notice as a warning with the provider's next step, only to subscribed targets", async () => {
    const actions = new Set<ChatEventKind>(["rotation.action_needed"]);
    const failures = new Set<ChatEventKind>(["rotation.failed"]);
    const { n, rec } = notifier([failures, all, actions], {
      lookup: (path) => ({ path, provider: "generated", consumers: ["billing-api"], contact: "#team-a" }),
    });
    await n.notify({
      kind: "rotation.action_needed",
      path: "api-credentials/webhooks/events",
      rotationId: "rot-7",
      mode: "standard",
      provider: "generated",
      step: "published",
      text: "Overlap started for api-credentials/webhooks/events (KV version 2): receivers now accept both current_secret and previous_secret.",
    });
    expect(rec.sent).toEqual([
      ["teams-ops", "rotation.action_needed"],
      ["hook", "rotation.action_needed"],
    ]);
    expect(slackRx.requests).toHaveLength(0);
    const body = (await hookRx.waitFor(1))[0]?.body as Record<string, unknown>;
    expect(body["kind"]).toBe("rotation.action_needed");
    expect(body["severity"]).toBe("warning");
    expect(body["title"]).toBe("Action needed: api-credentials/webhooks/events");
    expect(body["dedup_key"]).toBe("rotation.action_needed:api-credentials/webhooks/events:rot-7");
    expect(String(body["next_step"])).toContain("Update the sender to sign with current_secret");
    expect(String(body["next_step"])).toContain(
      "-custom-metadata=rotate=now secret/api-credentials/webhooks/events",
    );
    expect(JSON.stringify(teamsRx.requests[0]?.body)).toContain("Action needed");
  });

  it("sends a notice about an unknown credential with no consumers, and never throws from notify", async () => {
    for (const rx of [slackRx, teamsRx, hookRx])
      rx.respondByDefault({ status: 400, body: "invalid_payload" });
    const { n, rec } = notifier(undefined, {
      lookup: () => {
        throw new Error("no scan yet");
      },
    });
    await expect(
      n.notify({
        kind: "rotation.emergency",
        path: "api-credentials/x",
        rotationId: "rot-1",
        mode: "emergency",
        provider: "salesforce-eca",
        step: "verified_main",
        text: "done",
      }),
    ).resolves.toBeUndefined();
    expect(rec.failures).toHaveLength(3);
    const body = hookRx.requests[0]?.body as { facts: Array<{ label: string; value: string }> };
    expect(body.facts.find((f) => f.label === "Consumers")?.value).toContain("none recorded");
  });

  it("deduplicates the engine's notice per rotation", async () => {
    const { n } = notifier();
    const notice = {
      kind: "rotation.completed",
      path: "api-credentials/team-a/crm",
      rotationId: "rot-5",
      mode: "standard",
      provider: "salesforce-eca",
      step: "verified_main",
      text: "ok",
    } as const;
    await n.notify(notice);
    await n.notify(notice);
    await n.notify({ ...notice, rotationId: "rot-6" });
    expect(slackRx.requests).toHaveLength(2);
  });

  it("sends each target a test message in its own format, ignoring filters and dedup", async () => {
    const none = new Set<ChatEventKind>();
    const { n } = notifier([none, none, none]);
    expect(await n.sendTest()).toEqual([
      { target: "slack-ops", ok: true },
      { target: "teams-ops", ok: true },
      { target: "hook", ok: true },
    ]);
    expect(await n.sendTest("teams-ops")).toEqual([{ target: "teams-ops", ok: true }]);
    const slack = slackRx.requests[0]?.body as { text: string; blocks: unknown[] };
    expect(slack.text).toContain("Test message from eca-rotator");
    expect(slack.blocks.length).toBeGreaterThan(0);
    expect((teamsRx.requests[1]!.body as { type: string }).type).toBe("message");
    expect((hookRx.requests[0]!.body as { kind: string }).kind).toBe("test");
  });

  it("reports a failing test target with its code and status only", async () => {
    slackRx.respondWith({ status: 403, body: "invalid_token" });
    const { n } = notifier();
    const results = await n.sendTest();
    expect(results[0]).toEqual({
      target: "slack-ops",
      ok: false,
      error: 'NOTIFY_FAILED: chat target "slack-ops" (slack): HTTP 403 invalid_token',
    });
    expect(JSON.stringify(results)).not.toContain(URL_CANARY);
  });

  it("refuses a test for a target name that does not exist", async () => {
    const { n } = notifier();
    await expect(n.sendTest("nope")).rejects.toMatchObject({ code: "USAGE" });
  });
});

describe("MemoryDedupStore", () => {
  it("grants a key once until its ttl has passed", async () => {
    const c = new FixedClock("2026-03-02T09:00:00.000Z");
    const store = new MemoryDedupStore(c);
    expect(await store.claim("k", 1_000)).toBe(true);
    expect(await store.claim("k", 1_000)).toBe(false);
    c.advance(999);
    expect(await store.claim("k", 1_000)).toBe(false);
    c.advance(1);
    expect(await store.claim("k", 1_000)).toBe(true);
    await store.release("k");
    expect(await store.claim("k", 1_000)).toBe(true);
  });
});
