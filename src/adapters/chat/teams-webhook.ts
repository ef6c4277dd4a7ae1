// Microsoft Teams through a Workflows (Power Automate) webhook, the replacement for the retired Office 365
// connectors: a "message" envelope holding one Adaptive Card. Version 1.4 on purpose: the "post to a channel when
// a webhook request is received" flow shows "this card couldn't be displayed" for 1.5 cards
// (microsoft/AdaptiveCards#8965), and 1.4 has everything used here (RichTextBlock, TextRun).
//
// Every piece of text is a TextRun inside a RichTextBlock, never a TextBlock or a FactSet: Teams renders
// markdown in TextBlock.text, Fact.title and Fact.value, so a rotate_reason, contact, consumer or path such as
// `[click here](https://evil.example)` would become a disguised link, while a TextRun shows its text as written.
// A bare URL stays visible as itself. The card's fallbackText may be rendered as markdown too, so it is
// backslash-escaped.
import type { ChatMessage } from "../../core/notify/chat-message.ts";
import { ChatPoster } from "./chat-post.ts";
import type { ChatTarget, ChatTargetOptions } from "./chat-target.ts";

const ADAPTIVE_CARD_VERSION = "1.4";

const TITLE_COLOR = { info: "Default", warning: "Warning", critical: "Attention" } as const;

/** Escapes every character CommonMark lets a backslash escape (all ASCII punctuation), so no run of it is markup. */
export function teamsMarkdownEscape(text: string): string {
  return text.replace(/[!-/:-@[-`{-~]/g, (ch) => `\\${ch}`);
}

/**
 * A TextRun: shown as written, no markdown. `{{` is split with a zero-width space because TextRuns still
 * expand `{{DATE(...)}}` and `{{TIME(...)}}`.
 */
function run(text: string, style: Record<string, unknown> = {}): Record<string, unknown> {
  return { type: "TextRun", text: text.replaceAll("{{", "{\u200B{"), ...style };
}

function richText(...inlines: Record<string, unknown>[]): Record<string, unknown> {
  return { type: "RichTextBlock", inlines };
}

/** The Workflows webhook body: the message envelope with the card as its only attachment. */
function teamsPayload(m: ChatMessage): Record<string, unknown> {
  const body: Record<string, unknown>[] = [
    richText(run(m.title, { size: "Medium", weight: "Bolder", color: TITLE_COLOR[m.severity] })),
    richText(run(m.summary)),
  ];
  // One line per fact, label in bold: a FactSet would render markdown in both columns.
  for (const f of m.facts) body.push(richText(run(`${f.label}: `, { weight: "Bolder" }), run(f.value)));
  if (m.nextStep !== undefined) {
    body.push(richText(run(`Next step: ${m.nextStep}`, { isSubtle: true })));
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
          fallbackText: teamsMarkdownEscape(`${m.title}: ${m.summary}`),
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
