// Delivery behaviour shared by the Slack, Teams and signed-webhook targets, against a loopback receiver: retries
// after 5xx, 429 (honouring Retry-After, bounded) and transport failures; none after other 4xx; errors that name
// the target and status but never the webhook URL (a credential) or the signing secret.
import { inspect } from "node:util";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { ChatTarget, ChatTargetOptions } from "../../../src/adapters/chat/chat-target.ts";
import { SignedWebhookTarget } from "../../../src/adapters/chat/signed-webhook.ts";
import { SlackWebhookTarget } from "../../../src/adapters/chat/slack-webhook.ts";
import { TeamsWorkflowTarget } from "../../../src/adapters/chat/teams-webhook.ts";
import { isRotatorError, type RotatorError } from "../../../src/core/errors.ts";
import { SecretValue } from "../../../src/core/secret-value.ts";
import { startFloodServer } from "../../support/flood-server.ts";
import { freePort } from "../../support/vault-backend.ts";
import { startWebhookReceiver, type WebhookReceiver } from "../../support/webhook-receiver.ts";
import {
  failedMessage,
  SIGNING_CANARY,
  type SleepLog,
  sleepLog,
  targetOptions,
  URL_CANARY,
} from "./chat-test-kit.ts";

let receiver: WebhookReceiver;
beforeEach(async () => {
  receiver = await startWebhookReceiver();
});
afterEach(async () => {
  await receiver.close();
});

const kinds: Array<[string, (o: ChatTargetOptions) => ChatTarget]> = [
  ["slack", (o) => new SlackWebhookTarget(o)],
  ["teams", (o) => new TeamsWorkflowTarget(o)],
  ["webhook", (o) => new SignedWebhookTarget(o)],
];

async function sendCatching(target: ChatTarget): Promise<RotatorError | undefined> {
  try {
    await target.send(failedMessage());
    return undefined;
  } catch (err) {
    if (!isRotatorError(err)) throw err;
    return err;
  } finally {
    await target.close?.();
  }
}

function expectNoSecrets(err: unknown): void {
  const e = err as RotatorError;
  const outputs = [
    e.message,
    e.toLine(),
    JSON.stringify(e.context),
    inspect(e, { depth: 5 }),
    String(e.stack),
  ];
  for (const out of outputs) {
    expect(out).not.toContain(URL_CANARY);
    expect(out).not.toContain(SIGNING_CANARY);
    expect(out).not.toContain("/hooks/");
  }
}

describe.each(kinds)("%s target delivery", (kind, make) => {
  let log: SleepLog;
  beforeEach(() => {
    log = sleepLog();
  });

  it("retries 503 answers with backoff and succeeds when the receiver recovers", async () => {
    receiver.respondWith({ status: 503 }, { status: 503 });
    expect(await sendCatching(make(targetOptions(receiver.url, log)))).toBeUndefined();
    expect(receiver.requests).toHaveLength(3);
    // Equal jitter with random 0.5: 3/4 of 500 ms, then of 1000 ms.
    expect(log.delays).toEqual([375, 750]);
  });

  it("honours Retry-After on 429, bounded to 30 seconds", async () => {
    receiver.respondWith(
      { status: 429, headers: { "retry-after": "7" } },
      { status: 429, headers: { "retry-after": "3600" } },
    );
    expect(await sendCatching(make(targetOptions(receiver.url, log)))).toBeUndefined();
    expect(log.delays).toEqual([7_000, 30_000]);
  });

  it("gives up after maxRetries and reports the target, the status and the attempts", async () => {
    receiver.respondByDefault({ status: 500, body: "internal boom at /hooks/" });
    const err = await sendCatching(make(targetOptions(receiver.url, log, { maxRetries: 2 })));
    expect(receiver.requests).toHaveLength(3);
    expect(err?.code).toBe("NOTIFY_FAILED");
    expect(err?.retryable).toBe(true);
    expect(err?.message).toBe(`chat target "ops-alerts" (${kind}): HTTP 500 after 3 attempts`);
    expect(err?.context).toMatchObject({ target: "ops-alerts", kind, status: 500, attempts: 3 });
    expectNoSecrets(err);
  });

  it("does not retry a 400 and repeats a short error token from the answer", async () => {
    receiver.respondWith({ status: 400, body: "invalid_payload" });
    const err = await sendCatching(make(targetOptions(receiver.url, log)));
    expect(receiver.requests).toHaveLength(1);
    expect(err?.message).toBe(`chat target "ops-alerts" (${kind}): HTTP 400 invalid_payload`);
    expect(err?.retryable).toBe(false);
    expectNoSecrets(err);
  });

  it.each([401, 403, 404, 410])("does not retry a %i", async (status) => {
    receiver.respondWith({ status, body: `<html>${URL_CANARY}</html>` });
    const err = await sendCatching(make(targetOptions(receiver.url, log)));
    expect(receiver.requests).toHaveLength(1);
    expect(err?.context["status"]).toBe(status);
    expectNoSecrets(err);
  });

  it("retries a dropped connection", async () => {
    receiver.respondWith("drop");
    expect(await sendCatching(make(targetOptions(receiver.url, log)))).toBeUndefined();
    expect(receiver.requests).toHaveLength(2);
  });

  it("retries an answer that takes longer than the timeout", async () => {
    receiver.respondWith({ status: 200, delayMs: 1_500 });
    expect(await sendCatching(make(targetOptions(receiver.url, log, { timeoutMs: 300 })))).toBeUndefined();
    expect(receiver.requests).toHaveLength(2);
  });

  it("names a refused connection without the URL", async () => {
    const port = await freePort();
    const url = SecretValue.of(`http://127.0.0.1:${port}/hooks/${URL_CANARY}?token=${URL_CANARY}`);
    const err = await sendCatching(make(targetOptions(receiver.url, log, { url, maxRetries: 1 })));
    expect(err?.message).toBe(
      `chat target "ops-alerts" (${kind}): no answer (ECONNREFUSED) after 2 attempts`,
    );
    expect(err?.retryable).toBe(true);
    expectNoSecrets(err);
  });

  it.each(["stream", "declared"] as const)(
    "aborts a 200 MiB answer (%s) near 1 MiB: NOTIFY_FAILED, not retried",
    async (mode) => {
      const flood = await startFloodServer({ mode });
      try {
        const err = await sendCatching(make(targetOptions(flood.url, log)));
        expect(err?.code).toBe("NOTIFY_FAILED");
        expect(err?.retryable).toBe(false);
        expect(err?.message).toBe(
          `chat target "ops-alerts" (${kind}): HTTP 200, but the answer is larger than 1 MiB`,
        );
        expectNoSecrets(err);
        expect(flood.requests).toHaveLength(1);
        const [sent = Number.POSITIVE_INFINITY] = await flood.settled();
        expect(sent).toBeLessThan(mode === "declared" ? 1 : 17 * 1024 * 1024);
      } finally {
        await flood.close();
      }
    },
  );

  it("refuses a URL that is not http(s) without repeating it", () => {
    let caught: unknown;
    try {
      make(targetOptions(receiver.url, log, { url: SecretValue.of(`ftp://x/${URL_CANARY}`) }));
    } catch (err) {
      caught = err;
    }
    expect(isRotatorError(caught, "CONFIG_INVALID")).toBe(true);
    expectNoSecrets(caught);
  });
});
