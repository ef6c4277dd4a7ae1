// SlackWebhookTarget against a loopback receiver: Block Kit with a text fallback, Slack's escaping, Block Kit's
// size limits.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  SLACK_LIMITS,
  SlackWebhookTarget,
  slackEscape,
  slackPayload,
} from "../../../src/adapters/chat/slack-webhook.ts";
import type { ChatMessage } from "../../../src/core/notify/chat-message.ts";
import { startWebhookReceiver, type WebhookReceiver } from "../../support/webhook-receiver.ts";
import { failedMessage, sleepLog, targetOptions, URL_CANARY } from "./chat-test-kit.ts";

interface SlackBody {
  text: string;
  blocks: Array<{
    type: string;
    text?: { type: string; text: string };
    fields?: Array<{ text: string }>;
    elements?: Array<{ text: string }>;
  }>;
}

let receiver: WebhookReceiver;
beforeEach(async () => {
  receiver = await startWebhookReceiver();
});
afterEach(async () => {
  await receiver.close();
});

describe("SlackWebhookTarget", () => {
  it("posts a text fallback and header, summary, fields and next-step blocks to the webhook URL", async () => {
    const target = new SlackWebhookTarget(targetOptions(receiver.url, sleepLog()));
    await target.send(failedMessage());
    await target.close();
    const [req] = await receiver.waitFor(1);
    expect(req?.method).toBe("POST");
    expect(req?.path).toBe(`/hooks/${URL_CANARY}?token=${URL_CANARY}`);
    expect(req?.headers["content-type"]).toMatch(/^application\/json/);
    const body = req?.body as SlackBody;
    expect(body.text).toContain("Rotation failed: api-credentials/team-a/crm");
    expect(body.blocks.map((b) => b.type)).toEqual(["header", "section", "section", "context"]);
    expect(body.blocks[0]?.text).toMatchObject({ type: "plain_text" });
    expect(body.blocks[0]?.text?.text).toContain("Rotation failed: api-credentials/team-a/crm");
    expect(body.blocks[1]?.text?.type).toBe("mrkdwn");
    expect(body.blocks[2]?.fields?.map((f) => f.text)).toContain("*Consumers*\nbilling-api, crm-sync");
    expect(body.blocks[3]?.elements?.[0]?.text).toContain("*Next step:* Check last_rotation_error");
  });

  it("escapes &, < and > so text cannot become links or mentions", () => {
    const m: ChatMessage = {
      ...failedMessage(),
      summary: "<!channel> & <https://evil.example|click>",
      facts: [{ label: "Contact", value: "<@U123>" }],
    };
    const body = slackPayload(m) as unknown as SlackBody;
    expect(body.blocks[1]?.text?.text).toBe("&lt;!channel&gt; &amp; &lt;https://evil.example|click&gt;");
    expect(body.blocks[2]?.fields?.[0]?.text).toBe("*Contact*\n&lt;@U123&gt;");
    expect(body.text).not.toContain("<");
  });

  it("stays inside Block Kit's limits even when escaping makes text longer", () => {
    const m: ChatMessage = {
      ...failedMessage(),
      title: "T".repeat(400),
      summary: "<".repeat(2000),
      facts: Array.from({ length: 14 }, (_, i) => ({ label: `L${i}`, value: "&".repeat(900) })),
      nextStep: ">".repeat(2000),
    };
    const body = slackPayload(m) as unknown as SlackBody;
    expect(Array.from(body.blocks[0]?.text?.text ?? "").length).toBeLessThanOrEqual(SLACK_LIMITS.header);
    expect(body.blocks[1]?.text?.text.length).toBeLessThanOrEqual(SLACK_LIMITS.sectionText);
    expect(body.blocks[2]?.fields).toHaveLength(SLACK_LIMITS.fields);
    for (const f of body.blocks[2]?.fields ?? [])
      expect(f.text.length).toBeLessThanOrEqual(SLACK_LIMITS.fieldText);
    expect(body.blocks[3]?.elements?.[0]?.text.length).toBeLessThanOrEqual(SLACK_LIMITS.sectionText);
    expect(body.text.length).toBeLessThanOrEqual(SLACK_LIMITS.sectionText);
    // A cut never leaves half an escape behind.
    expect(body.blocks[1]?.text?.text).toMatch(/^(&lt;)+…$/);
  });

  it("cuts escaped text at the limit without splitting an entity", () => {
    expect(slackEscape("a<b", 5)).toBe("a…");
    expect(slackEscape("a<b", 6)).toBe("a&lt;…");
    expect(slackEscape("a<b")).toBe("a&lt;b");
  });
});
