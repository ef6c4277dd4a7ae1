// Slack incoming webhook: Block Kit with a plain `text` fallback (notifications and clients without blocks
// show it; Slack rejects a message with neither, see Infisical #7881). Text in mrkdwn gets Slack's three escapes
// (& < >) so a path can never become a link or an @channel mention; sizes stay inside Block Kit's limits
// (header 150, section text 3000, field 2000, 10 fields) because Slack answers 400 invalid_blocks otherwise.
// https://docs.slack.dev/messaging/formatting-message-text#escaping
import type { ChatMessage } from "../../core/notify/chat-message.ts";
import { ChatPoster } from "./chat-post.ts";
import type { ChatTarget, ChatTargetOptions } from "./chat-target.ts";

export const SLACK_LIMITS = { header: 150, sectionText: 3000, fieldText: 2000, fields: 10 } as const;

const SEVERITY_MARK = { info: "ℹ️", warning: "⚠️", critical: "🚨" } as const;

/** Escapes &, < and > for mrkdwn, cutting at `max` characters without splitting an escape. */
export function slackEscape(text: string, max: number = Number.POSITIVE_INFINITY): string {
  let out = "";
  for (const ch of text) {
    const piece = ch === "&" ? "&amp;" : ch === "<" ? "&lt;" : ch === ">" ? "&gt;" : ch;
    if (out.length + piece.length > max - 1) return `${out}…`;
    out += piece;
  }
  return out;
}

function plain(text: string, max: number): { type: "plain_text"; text: string; emoji: boolean } {
  const chars = Array.from(text);
  const cut = chars.length <= max ? text : `${chars.slice(0, max - 1).join("")}…`;
  return { type: "plain_text", text: cut, emoji: true };
}

/** A mrkdwn text object from raw text: escaped, then bounded. */
function mrkdwn(raw: string, max: number): { type: "mrkdwn"; text: string } {
  return { type: "mrkdwn", text: slackEscape(raw, max) };
}

/** The webhook body: `text` fallback plus header, summary, facts and next-step blocks. */
export function slackPayload(m: ChatMessage): Record<string, unknown> {
  const title = `${SEVERITY_MARK[m.severity]} ${m.title}`;
  const blocks: Record<string, unknown>[] = [
    { type: "header", text: plain(title, SLACK_LIMITS.header) },
    { type: "section", text: mrkdwn(m.summary, SLACK_LIMITS.sectionText) },
  ];
  const fields = m.facts
    .slice(0, SLACK_LIMITS.fields)
    .map((f) => mrkdwn(`*${f.label}*\n${f.value}`, SLACK_LIMITS.fieldText));
  if (fields.length > 0) blocks.push({ type: "section", fields });
  if (m.nextStep !== undefined) {
    blocks.push({
      type: "context",
      elements: [mrkdwn(`*Next step:* ${m.nextStep}`, SLACK_LIMITS.sectionText)],
    });
  }
  const fallback = `${m.title}: ${m.summary}${m.nextStep === undefined ? "" : ` Next step: ${m.nextStep}`}`;
  return { text: slackEscape(fallback, SLACK_LIMITS.sectionText), blocks };
}

export class SlackWebhookTarget implements ChatTarget {
  readonly kind = "slack" as const;
  readonly name: string;
  readonly #poster: ChatPoster;

  constructor(opts: ChatTargetOptions) {
    this.name = opts.name;
    this.#poster = new ChatPoster("slack", opts);
  }

  async send(message: ChatMessage): Promise<void> {
    const body = JSON.stringify(slackPayload(message));
    await this.#poster.post(() => ({ body, headers: {} }));
  }

  async close(): Promise<void> {
    await this.#poster.close();
  }
}
