// `run --once`: one full cycle (resume unfinished rotations, scan, act on flags, rotate what is due), a table of
// what happened, then exit. `serve` runs the same decisions continuously (src/daemon/rotation-loop.ts).
import { followUpScan } from "../app/manual-tracker.ts";
import { runRotationCycle } from "../app/rotation-cycle.ts";
import { classifyDefaultsOf } from "../config/load-config.ts";
import { classifyError } from "../core/errors.ts";
import { systemClock } from "../core/time.ts";
import { buildCliChat } from "./cli-chat.ts";
import type { CommandSpec } from "./cli-io.ts";
import { EXIT, loadCliConfig, UsageError } from "./cli-io.ts";
import { terminalProgress } from "./inventory-run.ts";
import { describeCycle } from "./outcome-text.ts";
import { openRotationSession } from "./rotation-session.ts";

export const runCommand: CommandSpec = {
  name: "run",
  help: `Usage: eca-rotator run --once [--config FILE]

One full cycle, then exit:
  1. resume every unfinished rotation (after a crash, a soak that has run out, or --no-wait);
  2. scan the prefixes (metadata only);
  3. act on rotate=now / rotate=emergency flags, and rotate what the schedule says is due (inside
     rotate_window, unless auto_rotate=false);
  4. record manual rotations (provider=manual: a new KV version written since the last one recorded) and send
     due-soon and overdue reminders to the chat targets (deduplicated with serve's, in Vault).
At most rotation.concurrency rotations run at once. Only provider salesforce-eca is rotated. Prints one row
per credential (PATH, ACTION, RESULT) and a summary line.
Exit 0 when nothing failed, 1 when a rotation failed or was rolled back, 2 on a usage or config error.`,
  options: { once: { type: "boolean" } },
  async run(ctx) {
    if (ctx.values["once"] !== true) {
      throw new UsageError(
        "run needs --once (for cycles every rotation.scan_interval, run the daemon: eca-rotator serve)",
      );
    }
    const session = await openRotationSession(ctx, loadCliConfig(ctx));
    const progress = terminalProgress(ctx.io);
    try {
      const { cfg } = session;
      const result = await runRotationCycle({
        engine: session.stack.engine,
        state: session.stack.state,
        store: session.stack.store,
        source: session.vault.source,
        prefixes: cfg.vault.prefixes,
        defaults: classifyDefaultsOf(cfg),
        clock: systemClock,
        concurrency: cfg.rotation.concurrency,
        onProgress: progress.onProgress,
        readers: session.readers,
        readersWindowMs: cfg.readers?.windowMs,
        onReadersFailure: (err) =>
          ctx.io.stderr.write(
            `warning: the shared reader entries could not be read (${classifyError(err)})\n`,
          ),
      });
      progress.done();
      // As serve does after each scan: record manual rotations, send due-soon and overdue reminders (deduplicated
      // in Vault with serve's, so cron and daemon never repeat each other).
      const chat =
        cfg.notifications.targets.length > 0 ? await buildCliChat(cfg, session.vault, ctx.io) : undefined;
      const recorded: string[] = [];
      try {
        await followUpScan(result.items, result.scannedAt, {
          store: session.stack.store,
          chat,
          audit: session.stack.audit,
          overdueRepeatMs: cfg.notifications.overdueRepeatMs,
          onStamped: (a) => {
            if (a.kind === "record")
              recorded.push(`recorded: ${a.path}: manual rotation (KV version ${a.version})`);
          },
          onFailure: (path, code) =>
            ctx.io.stderr.write(`warning: ${path}: manual tracking failed (${code})\n`),
        });
      } finally {
        await chat?.close();
      }
      const count = (k: string) => result.rows.filter((r) => r.outcome?.kind === k).length;
      const leftAlone = result.rows.filter((r) => r.outcome === undefined).length;
      const lines = [
        `run --once at ${result.scannedAt.toISOString()}: ${result.rows.length} credential(s)`,
        ...(result.rows.length === 0 ? [] : describeCycle(result.rows, new Date())),
        ...recorded,
        `summary: ${count("completed")} completed, ${count("waiting")} waiting, ${count("failed")} failed, ` +
          `${count("rolled_back")} rolled back, ${count("skipped")} skipped, ${leftAlone} left alone; ` +
          `${result.unmanaged} unmanaged not listed`,
      ];
      ctx.io.stdout.write(`${lines.join("\n")}\n`);
      return count("failed") + count("rolled_back") > 0 ? EXIT.failed : EXIT.ok;
    } finally {
      progress.done();
      await session.close();
    }
  },
};
