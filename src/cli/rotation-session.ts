// Shared by `rotate`, `rollback`, `resolve` and `run`: config, Vault, the rotation stack, and the credential path check.

import type { AuditFanout } from "../app/audit-fanout.ts";
import type { ChatNotifier } from "../app/chat-notifier.ts";
import {
  buildAuditFanout,
  buildRotationStack,
  connectVault,
  type RotationStack,
  sharedReaderFeed,
  type VaultStack,
} from "../app/compose.ts";
import type { ReaderFeed } from "../app/reader-feed.ts";
import type { Config } from "../config/config-types.ts";
import type { Notification } from "../core/rotation/rotation-ports.ts";
import { systemClock } from "../core/time.ts";
import { buildCliChat } from "./cli-chat.ts";
import type { CommandContext } from "./cli-io.ts";
import { UsageError } from "./cli-io.ts";

export interface RotationSession {
  readonly cfg: Config;
  readonly vault: VaultStack;
  readonly stack: RotationStack;
  /** The shared reader evidence (undefined without `readers:`). */
  readonly readers: ReaderFeed | undefined;
  close(): Promise<void>;
}

/** Connects with `cfg` (from loadCliConfig, so arguments can be checked against it before anything connects). */
export async function openRotationSession(
  ctx: CommandContext,
  cfg: Config,
  opts: { readonly readOnly?: boolean; readonly chat?: boolean } = {},
): Promise<RotationSession> {
  const vault = await connectVault(cfg);
  // The evidence serve's replicas share, so a soak_until=readers rotation from here promotes on it too.
  const readers = sharedReaderFeed(cfg, vault);
  const stderr = (line: string) => ctx.io.stderr.write(`${line}\n`);
  let audit: AuditFanout | undefined;
  let chat: ChatNotifier | undefined;
  try {
    // `chat`: notices also go to the configured chat targets, as serve sends them (deduplicated in Vault).
    if (opts.chat === true && cfg.notifications.targets.length > 0)
      chat = await buildCliChat(cfg, vault, ctx.io);
    // The same audit trail as the daemon: file, syslog and HTTP sinks as configured (stderr when none).
    ({ audit } = await buildAuditFanout(cfg, {
      vault,
      env: ctx.io.env,
      clock: systemClock,
      writeStderr: stderr,
      onFailure: (sink, code) =>
        stderr(`warning: the ${sink} audit sink failed (${code}); the rotation goes on`),
    }));
    const stack = await buildRotationStack(cfg, vault, {
      stderr,
      env: ctx.io.env,
      readOnly: opts.readOnly === true,
      audit,
      readers,
      ...(chat === undefined ? {} : { notifier: alsoToChat(chat, stderr) }),
    });
    const fanout = audit;
    const chatNotifier = chat;
    return {
      cfg,
      vault,
      stack,
      readers,
      async close() {
        await readers?.stop();
        await stack.close();
        await chatNotifier?.close();
        await fanout.close();
        await vault.close();
      },
    };
  } catch (err) {
    await readers?.stop();
    await chat?.close();
    await audit?.close();
    await vault.close();
    throw err;
  }
}

/** One human line on stderr, as without chat, and the same notice to chat (which never throws). */
function alsoToChat(chat: ChatNotifier, stderr: (line: string) => void) {
  return {
    async notify(n: Notification): Promise<void> {
      stderr(`notice: ${n.text}`);
      await chat.notify(n);
    },
  };
}

/**
 * The one PATH argument, relative to the KV mount and under a configured prefix. `secret/api-credentials/x`
 * and `secret/data/api-credentials/x` (as `vault kv` users type them) are accepted for `api-credentials/x`.
 */
export function credentialPathArg(ctx: CommandContext, cfg: Config, command: string): string {
  if (ctx.positionals.length !== 1) {
    throw new UsageError(`${command} needs exactly one credential PATH, e.g. api-credentials/team-a/crm`);
  }
  const given = (ctx.positionals[0] ?? "").replace(/^\/+|\/+$/g, "");
  if (given.split("/").some((s) => s === "" || s === "." || s === "..")) {
    throw new UsageError("PATH must be a KV path without empty, . or .. segments");
  }
  const under = (p: string) => cfg.vault.prefixes.some((pre) => p.startsWith(`${pre}/`));
  const mount = cfg.vault.kvMount;
  for (const candidate of [given, strip(given, `${mount}/data/`), strip(given, `${mount}/`)]) {
    if (candidate !== undefined && under(candidate)) return candidate;
  }
  throw new UsageError(
    `PATH must lie under one of the configured prefixes (${cfg.vault.prefixes.join(", ")}), relative to the mount ${mount}`,
  );
}

function strip(p: string, head: string): string | undefined {
  return p.startsWith(head) ? p.slice(head.length) : undefined;
}

const MAX_REASON = 300;

/** --reason TEXT: free text copied into the journal, audit and chat (and rotate_reason semantics). */
export function reasonArg(ctx: CommandContext): string | undefined {
  const r = ctx.values["reason"];
  if (r === undefined) return undefined;
  if (typeof r !== "string" || r.trim() === "") throw new UsageError("--reason needs a text");
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
  if (/[\x00-\x1f\x7f]/.test(r)) throw new UsageError("--reason must be one line of printable text");
  if (r.length > MAX_REASON) throw new UsageError(`--reason must be at most ${MAX_REASON} characters`);
  return r.trim();
}
