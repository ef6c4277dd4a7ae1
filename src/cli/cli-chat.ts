// The chat notifier for one-shot commands (`check --notify-test`, `report --send`): the daemon's own builder, so
// targets, message formats and dedup are exactly what `serve` sends. The command prints one human line per
// target itself; the notifier's JSON log would repeat those on a terminal, so only its warnings (a dedup store
// that failed, the message sent anyway) come through, as plain lines on stderr.
import type { ChatNotifier, DedupStore } from "../app/chat-notifier.ts";
import type { VaultStack } from "../app/compose.ts";
import { buildChatNotifier } from "../app/compose.ts";
import { CHAT_EVENTS } from "../config/config-schema.ts";
import type { ChatTargetConfig, Config } from "../config/config-types.ts";
import { systemClock } from "../core/time.ts";
import { createLogger } from "../daemon/logger.ts";
import type { CliIo } from "./cli-io.ts";

/**
 * The notifier of `targets` (default: every configured target), its claims in `dedup` (default: Vault, as the
 * daemon's). Throws CONFIG_INVALID for a missing secret.
 */
export async function buildCliChat(
  cfg: Config,
  vault: VaultStack,
  io: CliIo,
  targets: readonly ChatTargetConfig[] = cfg.notifications.targets,
  dedup?: DedupStore,
): Promise<ChatNotifier> {
  const log = createLogger("warn", {
    write: (line: string) => {
      const entry = parseLogLine(line);
      if (entry?.level !== "warn") return;
      io.stderr.write(`warning: ${entry.msg}${entry.code === undefined ? "" : ` (${entry.code})`}\n`);
    },
  });
  const { chat } = await buildChatNotifier(
    { ...cfg, notifications: { ...cfg.notifications, targets } },
    { vault, env: io.env, log, clock: systemClock, lookup: () => undefined, ...(dedup ? { dedup } : {}) },
  );
  return chat;
}

function parseLogLine(line: string): { level: string; msg: string; code?: string } | undefined {
  try {
    const o = JSON.parse(line) as Record<string, unknown>;
    const level = o["level"];
    const msg = o["msg"];
    const code = o["code"];
    if (typeof level !== "string" || typeof msg !== "string") return undefined;
    return typeof code === "string" ? { level, msg, code } : { level, msg };
  } catch {
    return undefined;
  }
}

/** "all events" or the target's event list, for the lines naming a target. */
export function eventsText(t: ChatTargetConfig): string {
  return CHAT_EVENTS.every((e) => t.events.includes(e)) ? "all events" : `events: ${t.events.join(", ")}`;
}
