// TeamsWorkflowTarget against a loopback receiver: the Workflows "message" envelope around an Adaptive Card 1.4.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { TeamsWorkflowTarget } from "../../../src/adapters/chat/teams-webhook.ts";
import { startWebhookReceiver, type WebhookReceiver } from "../../support/webhook-receiver.ts";
import { failedMessage, sleepLog, targetOptions } from "./chat-test-kit.ts";

let receiver: WebhookReceiver;
beforeEach(async () => {
  receiver = await startWebhookReceiver();
});
afterEach(async () => {
  await receiver.close();
});

describe("TeamsWorkflowTarget", () => {
  it("posts an Adaptive Card 1.4 with title, summary, facts and next step inside a message envelope", async () => {
    // Workflows answers 202 Accepted.
    receiver.respondWith({ status: 202 });
    const target = new TeamsWorkflowTarget(targetOptions(receiver.url, sleepLog()));
    await target.send(failedMessage());
    await target.close();
    const [req] = await receiver.waitFor(1);
    const body = req?.body as {
      type: string;
      attachments: Array<{ contentType: string; contentUrl: null; content: Record<string, unknown> }>;
    };
    expect(body.type).toBe("message");
    expect(body.attachments).toHaveLength(1);
    const att = body.attachments[0];
    expect(att?.contentType).toBe("application/vnd.microsoft.card.adaptive");
    expect(att?.contentUrl).toBeNull();
    const card = att?.content as { body: Array<Record<string, unknown>> } & Record<string, unknown>;
    expect(card).toMatchObject({
      $schema: "http://adaptivecards.io/schemas/adaptive-card.json",
      type: "AdaptiveCard",
      version: "1.4",
    });
    expect(card.body.map((b) => b["type"])).toEqual(["TextBlock", "TextBlock", "FactSet", "TextBlock"]);
    expect(card.body[0]).toMatchObject({
      text: "Rotation failed: api-credentials/team-a/crm",
      color: "Attention",
    });
    expect(card.body[1]?.["text"]).toContain("VAULT_CAS_CONFLICT");
    expect(card.body[2]?.["facts"]).toContainEqual({ title: "Contact", value: "#team-a-oncall" });
    expect(String(card.body[3]?.["text"])).toMatch(/^Next step: Check last_rotation_error/);
    for (const b of card.body.filter((x) => x["type"] === "TextBlock")) expect(b["wrap"]).toBe(true);
  });
});
