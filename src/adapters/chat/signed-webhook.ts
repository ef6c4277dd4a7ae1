// A generic JSON webhook, signed so the receiver can tell our messages from forged ones and reject replays:
//   X-Eca-Rotator-Timestamp: <unix seconds>
//   X-Eca-Rotator-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>
// (the scheme Stripe and Slack use for their own webhooks). Every attempt is signed afresh, so a retry after a
// Retry-After pause still passes the receiver's time tolerance. verifyWebhookSignature is the receiver's half.
import { createHmac, timingSafeEqual } from "node:crypto";
import { RotatorError } from "../../core/errors.ts";
import type { ChatMessage } from "../../core/notify/chat-message.ts";
import type { SecretValue } from "../../core/secret-value.ts";
import { type Clock, systemClock } from "../../core/time.ts";
import { ChatPoster } from "./chat-post.ts";
import type { ChatTarget, ChatTargetOptions } from "./chat-target.ts";

export const TIMESTAMP_HEADER = "X-Eca-Rotator-Timestamp";
export const SIGNATURE_HEADER = "X-Eca-Rotator-Signature";
const SIGNATURE_PREFIX = "sha256=";
const DEFAULT_TOLERANCE_S = 300;

function reveal(secret: SecretValue | string): string {
  return typeof secret === "string" ? secret : secret.reveal();
}

/** `sha256=<hex>` over `${timestamp}.${body}`. */
export function signWebhookBody(secret: SecretValue | string, timestamp: string, body: string): string {
  const mac = createHmac("sha256", reveal(secret)).update(`${timestamp}.${body}`, "utf8").digest("hex");
  return `${SIGNATURE_PREFIX}${mac}`;
}

export interface VerifyOptions {
  /** How far the timestamp may be from now, either way. Default 300 s. */
  readonly toleranceS?: number;
  readonly now?: Date | Clock;
}

/**
 * True when `signature` is the HMAC of `timestamp.body` under `secret` and the timestamp is within the tolerance
 * of now. `body` must be the raw bytes as received (re-serialised JSON will not match). Constant-time compare.
 */
export function verifyWebhookSignature(
  secret: SecretValue | string,
  timestamp: string,
  body: string,
  signature: string,
  opts: VerifyOptions = {},
): boolean {
  if (!/^\d{1,12}$/.test(timestamp)) return false;
  const now =
    opts.now === undefined ? systemClock.now() : opts.now instanceof Date ? opts.now : opts.now.now();
  const toleranceS = opts.toleranceS ?? DEFAULT_TOLERANCE_S;
  if (Math.abs(now.getTime() / 1000 - Number(timestamp)) > toleranceS) return false;
  const expected = Buffer.from(signWebhookBody(secret, timestamp, body), "utf8");
  const given = Buffer.from(signature.trim(), "utf8");
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** The JSON body: snake_case, stable field names receivers can rely on. */
function webhookPayload(m: ChatMessage, sentAt: Date): Record<string, unknown> {
  return {
    kind: m.kind,
    severity: m.severity,
    title: m.title,
    summary: m.summary,
    facts: m.facts.map((f) => ({ label: f.label, value: f.value })),
    next_step: m.nextStep ?? null,
    dedup_key: m.dedupKey,
    sent_at: sentAt.toISOString(),
  };
}

export class SignedWebhookTarget implements ChatTarget {
  readonly kind = "webhook" as const;
  readonly name: string;
  readonly #poster: ChatPoster;
  readonly #secret: SecretValue;

  constructor(opts: ChatTargetOptions) {
    this.name = opts.name;
    if (opts.secret === undefined || opts.secret.reveal() === "") {
      throw new RotatorError(
        "CONFIG_INVALID",
        `chat target "${opts.name}" (webhook) needs a signing secret`,
        {
          context: { target: opts.name, kind: "webhook" },
        },
      );
    }
    this.#secret = opts.secret;
    this.#poster = new ChatPoster("webhook", opts);
  }

  async send(message: ChatMessage): Promise<void> {
    const clock = this.#poster.clock;
    await this.#poster.post(() => {
      const now = clock.now();
      const timestamp = String(Math.floor(now.getTime() / 1000));
      const body = JSON.stringify(webhookPayload(message, now));
      return {
        body,
        headers: {
          [TIMESTAMP_HEADER]: timestamp,
          [SIGNATURE_HEADER]: signWebhookBody(this.#secret, timestamp, body),
        },
      };
    });
  }

  async close(): Promise<void> {
    await this.#poster.close();
  }
}
