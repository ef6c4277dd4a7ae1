// `check`'s notification targets. Without --notify-test every target is built as `serve` builds it (its secret
// references resolve: file readable, variable set, KV field present; its URL is an http(s) URL) and nothing is
// sent: a preflight must not post to a channel unasked. With --notify-test each target (or the one named) also
// gets a test message in its own format. Lines name the target and the error code and status, never the URL.
import type { ChatNotifier } from "../app/chat-notifier.ts";
import { connectVault, type VaultStack } from "../app/compose.ts";
import type { ChatTargetConfig, Config } from "../config/config-types.ts";
import { isRotatorError } from "../core/errors.ts";
import { buildCliChat, eventsText } from "./cli-chat.ts";
import type { CheckLine, CliIo } from "./cli-io.ts";
import { UsageError } from "./cli-io.ts";

export interface NotifyCheckOptions {
  /** Send a test message (--notify-test). */
  readonly send: boolean;
  /** Only this target (--notify-target NAME). */
  readonly only?: string | undefined;
}

export interface NotifyCheck {
  readonly lines: CheckLine[];
  /** A target's secret reference does not resolve or its URL is unusable: a configuration error (exit 2). */
  readonly configError: boolean;
}

const TOPIC = "chat";

/** Usage mistakes in the notify flags, found before any check runs. */
export function validateNotifyOptions(cfg: Config, opts: NotifyCheckOptions): void {
  if (opts.only === undefined) return;
  if (!opts.send) throw new UsageError("--notify-target needs --notify-test");
  const names = cfg.notifications.targets.map((t) => t.name);
  if (!names.includes(opts.only)) {
    const known = names.length === 0 ? "none is configured" : `configured: ${names.join(", ")}`;
    throw new UsageError(`--notify-target: no chat target is named "${opts.only}" (${known})`);
  }
}

export async function checkNotifications(
  cfg: Config,
  io: CliIo,
  opts: NotifyCheckOptions,
): Promise<NotifyCheck> {
  const targets = cfg.notifications.targets.filter((t) => opts.only === undefined || t.name === opts.only);
  if (targets.length === 0) {
    const text = "no chat targets configured (notifications.targets): messages go to the log";
    return {
      lines: [
        opts.send
          ? { mark: "warn", topic: TOPIC, text: `${text}; nothing to test` }
          : { mark: "ok", topic: TOPIC, text },
      ],
      configError: false,
    };
  }
  let vault: VaultStack;
  try {
    vault = await connectVault(cfg);
  } catch (err) {
    const why = isRotatorError(err) ? err.code : "UNCLASSIFIED";
    return {
      lines: targets.map((t) => ({
        mark: "FAIL",
        topic: topicOf(t),
        text: `not checked: no Vault connection to resolve its secrets (${why})`,
      })),
      configError: false,
    };
  }
  const built = await Promise.all(targets.map((t) => buildOne(cfg, vault, io, t)));
  try {
    const lines = await Promise.all(
      built.map((b) => (b.chat === undefined ? b.line : lineFor(b.target, b.chat, opts.send))),
    );
    return { lines, configError: built.some((b) => b.configError) };
  } finally {
    await Promise.all(built.map((b) => b.chat?.close()));
    await vault.close();
  }
}

type Built =
  | { readonly target: ChatTargetConfig; readonly chat: ChatNotifier; readonly configError: false }
  | {
      readonly target: ChatTargetConfig;
      readonly chat?: undefined;
      readonly line: CheckLine;
      readonly configError: boolean;
    };

/** One notifier per target, so one broken target's secret does not hide the state of the others. */
async function buildOne(cfg: Config, vault: VaultStack, io: CliIo, target: ChatTargetConfig): Promise<Built> {
  try {
    return { target, chat: await buildCliChat(cfg, vault, io, [target]), configError: false };
  } catch (err) {
    const text = isRotatorError(err) ? err.toLine() : "UNCLASSIFIED: the target could not be set up";
    return {
      target,
      line: { mark: "FAIL", topic: topicOf(target), text },
      configError: isRotatorError(err, "CONFIG_INVALID"),
    };
  }
}

async function lineFor(target: ChatTargetConfig, chat: ChatNotifier, send: boolean): Promise<CheckLine> {
  const topic = topicOf(target);
  if (!send) {
    return {
      mark: "ok",
      topic,
      text: `${target.type}, ${eventsText(target)}: configured (not contacted; use --notify-test)`,
    };
  }
  const [result] = await chat.sendTest(target.name);
  if (result?.ok === true) return { mark: "ok", topic, text: `${target.type}: test message sent` };
  return { mark: "FAIL", topic, text: `${target.type}: ${result?.error ?? "UNCLASSIFIED"}` };
}

function topicOf(t: ChatTargetConfig): string {
  return `${TOPIC}:${t.name}`;
}
