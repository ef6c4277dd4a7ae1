// SignedWebhookTarget against a loopback receiver: the generic JSON body, and a signature the receiver verifies
// with verifyWebhookSignature, which refuses an altered body, a wrong key and a stale timestamp.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  SignedWebhookTarget,
  signWebhookBody,
  verifyWebhookSignature,
} from "../../../src/adapters/chat/signed-webhook.ts";
import { isRotatorError } from "../../../src/core/errors.ts";
import { SecretValue } from "../../../src/core/secret-value.ts";
import { FixedClock } from "../../../src/core/time.ts";
import { startWebhookReceiver, type WebhookReceiver } from "../../support/webhook-receiver.ts";
import { failedMessage, SIGNING_CANARY, sleepLog, targetOptions } from "./chat-test-kit.ts";

let receiver: WebhookReceiver;
beforeEach(async () => {
  receiver = await startWebhookReceiver();
});
afterEach(async () => {
  await receiver.close();
});

const clock = new FixedClock("2026-03-02T09:00:05.250Z");

async function sendOne(): Promise<{ raw: string; ts: string; sig: string; body: Record<string, unknown> }> {
  const target = new SignedWebhookTarget(targetOptions(receiver.url, sleepLog(), { clock }));
  await target.send(failedMessage());
  await target.close();
  const [req] = await receiver.waitFor(1);
  return {
    raw: req?.rawBody ?? "",
    ts: req?.headers["x-eca-rotator-timestamp"] ?? "",
    sig: req?.headers["x-eca-rotator-signature"] ?? "",
    body: req?.body as Record<string, unknown>,
  };
}

describe("SignedWebhookTarget", () => {
  it("posts kind, severity, title, summary, facts, next_step, dedup_key and sent_at", async () => {
    const { body } = await sendOne();
    expect(Object.keys(body).sort()).toEqual(
      ["dedup_key", "facts", "kind", "next_step", "sent_at", "severity", "summary", "title"].sort(),
    );
    expect(body).toMatchObject({
      kind: "rotation.failed",
      severity: "critical",
      title: "Rotation failed: api-credentials/team-a/crm",
      dedup_key: "rotation.failed:api-credentials/team-a/crm:rot-42",
      sent_at: "2026-03-02T09:00:05.250Z",
    });
    expect(body["facts"]).toContainEqual({ label: "Consumers", value: "billing-api, crm-sync" });
    expect(String(body["next_step"])).toContain("eca-rotator rollback api-credentials/team-a/crm");
  });

  it("signs timestamp and body so the receiver can verify them", async () => {
    const { raw, ts, sig } = await sendOne();
    expect(ts).toBe("1772442005");
    expect(sig).toMatch(/^sha256=[0-9a-f]{64}$/);
    expect(verifyWebhookSignature(SIGNING_CANARY, ts, raw, sig, { now: clock })).toBe(true);
    expect(verifyWebhookSignature(SecretValue.of(SIGNING_CANARY), ts, raw, sig, { now: clock.now() })).toBe(
      true,
    );
  });

  it("refuses an altered body, another key, another timestamp and a malformed signature", async () => {
    const { raw, ts, sig } = await sendOne();
    const altered = raw.replace("rot-42", "rot-43");
    expect(altered).not.toBe(raw);
    expect(verifyWebhookSignature(SIGNING_CANARY, ts, altered, sig, { now: clock })).toBe(false);
    expect(verifyWebhookSignature("test-secret-other-key", ts, raw, sig, { now: clock })).toBe(false);
    expect(verifyWebhookSignature(SIGNING_CANARY, String(Number(ts) + 1), raw, sig, { now: clock })).toBe(
      false,
    );
    expect(verifyWebhookSignature(SIGNING_CANARY, ts, raw, sig.slice(0, -1), { now: clock })).toBe(false);
    expect(verifyWebhookSignature(SIGNING_CANARY, ts, raw, "", { now: clock })).toBe(false);
    expect(verifyWebhookSignature(SIGNING_CANARY, "12abc", raw, sig, { now: clock })).toBe(false);
  });

  it("refuses a timestamp outside the tolerance (a replayed message)", () => {
    const ts = "1772442005";
    const sig = signWebhookBody(SIGNING_CANARY, ts, "{}");
    const at = (s: number) => new Date((Number(ts) + s) * 1000);
    expect(verifyWebhookSignature(SIGNING_CANARY, ts, "{}", sig, { now: at(299) })).toBe(true);
    expect(verifyWebhookSignature(SIGNING_CANARY, ts, "{}", sig, { now: at(301) })).toBe(false);
    expect(verifyWebhookSignature(SIGNING_CANARY, ts, "{}", sig, { now: at(-301) })).toBe(false);
    expect(verifyWebhookSignature(SIGNING_CANARY, ts, "{}", sig, { now: at(50), toleranceS: 30 })).toBe(
      false,
    );
  });

  it("signs every retry afresh with the time of that attempt", async () => {
    receiver.respondWith({ status: 503 });
    const moving = new FixedClock("2026-03-02T09:00:00.000Z");
    const log = sleepLog();
    const target = new SignedWebhookTarget(
      targetOptions(receiver.url, { ...log, sleep: async () => moving.advance(60_000) }, { clock: moving }),
    );
    await target.send(failedMessage());
    await target.close();
    const [first, second] = await receiver.waitFor(2);
    expect(Number(second?.headers["x-eca-rotator-timestamp"])).toBe(
      Number(first?.headers["x-eca-rotator-timestamp"]) + 60,
    );
    const h = second?.headers ?? {};
    expect(
      verifyWebhookSignature(
        SIGNING_CANARY,
        h["x-eca-rotator-timestamp"] ?? "",
        second?.rawBody ?? "",
        h["x-eca-rotator-signature"] ?? "",
        {
          now: moving,
        },
      ),
    ).toBe(true);
  });

  it("refuses to be built without a signing secret", () => {
    const err = (() => {
      try {
        new SignedWebhookTarget(targetOptions(receiver.url, sleepLog(), { secret: undefined }));
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(isRotatorError(err, "CONFIG_INVALID")).toBe(true);
  });
});
