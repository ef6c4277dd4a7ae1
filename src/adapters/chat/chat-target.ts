// A chat destination: Slack incoming webhook, Teams Workflows webhook or a generic signed JSON webhook. Each lays
// out the same ChatMessage in its service's format and POSTs it. Webhook URLs are secrets (anyone holding one can
// post to the channel), so they are SecretValues here and never appear in errors or logs; errors name the
// target's configured name instead.
import type { ChatMessage } from "../../core/notify/chat-message.ts";
import type { SecretValue } from "../../core/secret-value.ts";
import type { Clock } from "../../core/time.ts";
import type { HttpTransport } from "../http/http-client.ts";

export type ChatTargetKind = "slack" | "teams" | "webhook";

export interface ChatTarget {
  readonly name: string;
  readonly kind: ChatTargetKind;
  /** Retries 429, 5xx and transport failures; throws RotatorError NOTIFY_FAILED naming the target, never its URL. */
  send(message: ChatMessage): Promise<void>;
  /** Releases the connection pool the target made for itself (an injected transport is the caller's). */
  close?(): Promise<void>;
}

export type Sleep = (ms: number) => Promise<void>;

export interface ChatTargetOptions {
  /** The configured name, used in errors and metrics. */
  readonly name: string;
  readonly url: SecretValue;
  /** The HMAC key; required by the signed webhook, ignored by the others. */
  readonly secret?: SecretValue | undefined;
  /** Per attempt. Default 10 s. */
  readonly timeoutMs?: number | undefined;
  /** Retries after the first attempt. Default 3. */
  readonly maxRetries?: number | undefined;
  readonly transport?: HttpTransport | undefined;
  readonly clock?: Clock | undefined;
  /** Test seams: how to wait between attempts and the jitter source. */
  readonly sleep?: Sleep | undefined;
  readonly random?: (() => number) | undefined;
}
