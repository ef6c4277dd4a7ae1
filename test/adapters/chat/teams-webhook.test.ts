// TeamsWorkflowTarget against a loopback receiver: the Workflows "message" envelope around an Adaptive Card 1.4,
// with every piece of text in a TextRun, which Teams never renders as markdown.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { TeamsWorkflowTarget, teamsMarkdownEscape } from "../../../src/adapters/chat/teams-webhook.ts";
import { buildChatMessage } from "../../../src/core/notify/chat-message.ts";
import { startWebhookReceiver, type WebhookReceiver } from "../../support/webhook-receiver.ts";
import { failedMessage, sleepLog, targetOptions } from "./chat-test-kit.ts";

type Node = Record<string, unknown>;

interface TeamsBody {
  type: string;
  attachments: Array<{ contentType: string; contentUrl: null; content: Node & { body: Node[] } }>;
}

let receiver: WebhookReceiver;
beforeEach(async () => {
  receiver = await startWebhookReceiver();
});
afterEach(async () => {
  await receiver.close();
});

/** Every node of the card, depth first. */
function nodes(value: unknown): Node[] {
  if (Array.isArray(value)) return value.flatMap(nodes);
  if (value === null || typeof value !== "object") return [];
  const node = value as Node;
  return [node, ...Object.values(node).flatMap(nodes)];
}

/** The text of each RichTextBlock, its runs joined. */
function lines(card: { body: Node[] }): string[] {
  return card.body.map((b) => (b["inlines"] as Node[]).map((r) => String(r["text"])).join(""));
}

async function sendAndReceive(message: ReturnType<typeof failedMessage>): Promise<TeamsBody> {
  receiver.respondWith({ status: 202 });
  const target = new TeamsWorkflowTarget(targetOptions(receiver.url, sleepLog()));
  await target.send(message);
  await target.close();
  const [req] = await receiver.waitFor(1);
  return req?.body as TeamsBody;
}

describe("TeamsWorkflowTarget", () => {
  it("posts an Adaptive Card 1.4 with title, summary, facts and next step inside a message envelope", async () => {
    // Workflows answers 202 Accepted.
    const body = await sendAndReceive(failedMessage());
    expect(body.type).toBe("message");
    expect(body.attachments).toHaveLength(1);
    const att = body.attachments[0];
    expect(att?.contentType).toBe("application/vnd.microsoft.card.adaptive");
    expect(att?.contentUrl).toBeNull();
    const card = att?.content as { body: Node[] } & Node;
    expect(card).toMatchObject({
      $schema: "http://adaptivecards.io/schemas/adaptive-card.json",
      type: "AdaptiveCard",
      version: "1.4",
    });
    expect(new Set(card.body.map((b) => b["type"]))).toEqual(new Set(["RichTextBlock"]));
    expect(card.body[0]?.["inlines"]).toEqual([
      {
        type: "TextRun",
        text: "Rotation failed: api-credentials/team-a/crm",
        size: "Medium",
        weight: "Bolder",
        color: "Attention",
      },
    ]);
    const text = lines(card);
    expect(text[1]).toContain("VAULT_CAS_CONFLICT");
    expect(text).toContain("Contact: #team-a-oncall");
    expect(text).toContain("Consumers: billing-api, crm-sync");
    expect(text.at(-1)).toMatch(/^Next step: Check last_rotation_error/);
  });

  it("delivers a disguised link, emphasis or list marker in operator text as inert text", async () => {
    const link = "[click here](https://evil.example/login)";
    const message = buildChatMessage({
      kind: "rotation.failed",
      credential: {
        path: "api-credentials/**team**/_crm_",
        provider: "salesforce-eca",
        consumers: ["[billing](https://evil.example/b)", "~~crm~~"],
        contact: `1. ${link} > # call +1 !x`,
      },
      rotationId: "rot-43",
      mode: "standard",
      text: `Rotation failed: ${link} {{DATE(2017-02-14T06:00:00Z, SHORT)}}`,
      nextStep: `- see ${link}`,
      errorCode: "VAULT_CAS_CONFLICT",
      at: new Date("2026-03-02T09:00:00.000Z"),
    });
    const body = await sendAndReceive(message);
    const card = body.attachments[0]?.content as { body: Node[] } & Node;
    const all = nodes(card);
    // Teams renders markdown in TextBlock text and in both columns of a FactSet: none may carry text.
    expect(all.filter((n) => n["type"] === "TextBlock" || n["type"] === "FactSet")).toEqual([]);
    // Every piece of text sits in a TextRun, which shows it as written.
    for (const block of card.body) {
      expect(block["type"]).toBe("RichTextBlock");
      for (const r of block["inlines"] as Node[]) expect(r["type"]).toBe("TextRun");
    }
    const text = lines(card);
    expect(text).toContain(`Contact: 1. ${link} > # call +1 !x`);
    expect(text).toContain("Consumers: [billing](https://evil.example/b), ~~crm~~");
    expect(text.at(-1)).toBe(`Next step: - see ${link}`);
    // A date function is not expanded either.
    expect(text[1]).not.toContain("{{DATE(");
    expect(text[1]?.replaceAll("\u200B", "")).toContain("{{DATE(2017-02-14T06:00:00Z, SHORT)}}");
    // The fallback text may be rendered as markdown: no link survives unescaped there.
    const fallback = String(card["fallbackText"]);
    expect(fallback).not.toMatch(/(?<!\\)\]\(/);
    expect(fallback).toContain("\\[click here\\]\\(https\\:\\/\\/evil\\.example\\/login\\)");
  });

  it("backslash-escapes every ASCII punctuation character for the fallback text, and nothing else", () => {
    expect(teamsMarkdownEscape("a*b_c[d](e) 1. - + # > ! ` ~ \\ {x} <y> | é")).toBe(
      "a\\*b\\_c\\[d\\]\\(e\\) 1\\. \\- \\+ \\# \\> \\! \\` \\~ \\\\ \\{x\\} \\<y\\> \\| é",
    );
  });
});
