// Microsoft Teams through a Workflows (Power Automate) webhook, the replacement for the retired Office 365
// connectors: a "message" envelope holding one Adaptive Card. Version 1.4 on purpose: the "post to a channel when
// a webhook request is received" flow shows "this card couldn't be displayed" for 1.5 cards
// (microsoft/AdaptiveCards#8965), and 1.4 has everything used here (TextBlock, FactSet).
import type { ChatMessage } from "../../core/notify/chat-message.ts";
import { ChatPoster } from "./chat-post.ts";
import type { ChatTarget, ChatTargetOptions } from "./chat-target.ts";

export const ADAPTIVE_CARD_VERSION = "1.4";

const TITLE_COLOR = { info: "Default", warning: "Warning", critical: "Attention" } as const;

/** The Workflows webhook body: the message envelope with the card as its only attachment. */
export function teamsPayload(m: ChatMessage): Record<string, unknown> {
  const body: Record<string, unknown>[] = [
    {
      type: "TextBlock",
      text: m.title,
      size: "Medium",
      weight: "Bolder",
      color: TITLE_COLOR[m.severity],
      wrap: true,
    },
    { type: "TextBlock", text: m.summary, wrap: true },
  ];
  if (m.facts.length > 0) {
    body.push({ type: "FactSet", facts: m.facts.map((f) => ({ title: f.label, value: f.value })) });
  }
  if (m.nextStep !== undefined) {
    body.push({ type: "TextBlock", text: `Next step: ${m.nextStep}`, wrap: true, isSubtle: true });
  }
  return {
    type: "message",
    attachments: [
      {
        contentType: "application/vnd.microsoft.card.adaptive",
        contentUrl: null,
        content: {
          $schema: "http://adaptivecards.io/schemas/adaptive-card.json",
          type: "AdaptiveCard",
          version: ADAPTIVE_CARD_VERSION,
          // Teams and the flow's own preview show the fallback text where the card cannot render.
          fallbackText: `${m.title}: ${m.summary}`,
          body,
          msteams: { width: "Full" },
        },
      },
    ],
  };
}

export class TeamsWorkflowTarget implements ChatTarget {
  readonly kind = "teams" as const;
  readonly name: string;
  readonly #poster: ChatPoster;

  constructor(opts: ChatTargetOptions) {
    this.name = opts.name;
    this.#poster = new ChatPoster("teams", opts);
  }

  async send(message: ChatMessage): Promise<void> {
    const body = JSON.stringify(teamsPayload(message));
    await this.#poster.post(() => ({ body, headers: {} }));
  }

  async close(): Promise<void> {
    await this.#poster.close();
  }
}
