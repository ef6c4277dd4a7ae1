// `report`: the weekly expiry report (the daemon's cron sends the same model); with --send
// also as the chat message (report-send.ts).
import { rename, writeFile } from "node:fs/promises";
import path from "node:path";
import { type ChatNotifier, MemoryDedupStore } from "../app/chat-notifier.ts";
import { connectVault } from "../app/compose.ts";
import type { Config } from "../config/config-types.ts";
import { RotatorError } from "../core/errors.ts";
import type { Inventory } from "../core/inventory/collect-inventory.ts";
import {
  buildExpiryReport,
  type ExpiryReport,
  exitCodeFor,
  type FailOn,
} from "../core/report/expiry-report.ts";
import { weeklyEvent } from "../daemon/weekly-report.ts";
import { formatReportCsv } from "../report/format-csv.ts";
import { formatReportHtml } from "../report/format-html.ts";
import { formatReportJson } from "../report/format-json.ts";
import { formatReportMarkdown } from "../report/format-markdown.ts";
import { formatReportTable } from "../report/format-table.ts";
import { buildCliChat } from "./cli-chat.ts";
import { type CliIo, type CommandSpec, EXIT, type ExitCode, loadCliConfig, UsageError } from "./cli-io.ts";
import { runInventory } from "./inventory-run.ts";

const FORMATS = ["table", "markdown", "json", "csv", "html"] as const;
type Format = (typeof FORMATS)[number];
const FAIL_ON = ["overdue", "due", "never"] as const;

export const reportCommand: CommandSpec = {
  name: "report",
  help: `Usage: eca-rotator report [--format table|markdown|json|csv|html] [--output FILE] [--send]
                          [--fail-on overdue|due|never] [--config FILE]

Totals, then the credentials that need attention, section by section (overdue, due soon, failed, unverified,
stuck, invalid, flagged, in progress), each sorted by deadline, with consumers and contact.
  --format    table (default), markdown, json (schema eca-rotator/expiry-report@1), csv, html
  --output    write to FILE (atomically) instead of stdout
  --send      also send it, as the weekly report message, to the chat targets subscribed to report.weekly
              (notifications.targets); one line per target on stderr: sent or NOT sent. Every run sends
              (a manual report is not deduplicated against the scheduled one). Exit 1 when it reached no
              target, 2 when no target is configured for it.
  --fail-on   overdue: exit 1 when anything is overdue or failed
              due:     also when anything is due soon, flagged, unverified, invalid or stuck
              never:   always exit 0 (the default)
              With --send, the worse of this and the sending result.`,
  options: {
    format: { type: "string" },
    output: { type: "string", short: "o" },
    "fail-on": { type: "string" },
    send: { type: "boolean" },
  },
  async run(ctx) {
    const format = oneOf(ctx.values["format"], FORMATS, "table", "--format");
    const failOn: FailOn = oneOf(ctx.values["fail-on"], FAIL_ON, "never", "--fail-on");
    const send = ctx.values["send"] === true;
    const cfg = loadCliConfig(ctx);
    if (send) assertReportTargets(cfg);
    // With --send the targets are built first: a secret that does not resolve stops before any output.
    const vault = send ? await connectVault(cfg) : undefined;
    let chat: ChatNotifier | undefined;
    try {
      // Claims in memory, not in Vault: every invocation sends anyway (its period is its own), so a claim in
      // Vault would only make the weekly-report CronJob need write access there (policies/report-sender.hcl).
      chat =
        vault === undefined
          ? undefined
          : await buildCliChat(cfg, vault, ctx.io, cfg.notifications.targets, new MemoryDedupStore());
      const inventory = await runInventory(cfg, ctx.io, vault);
      const report = buildExpiryReport(inventory.items, inventory.scannedAt);
      const text = render(report, format, ctx.io);
      const output = ctx.values["output"];
      if (typeof output === "string") {
        await writeAtomically(path.resolve(ctx.io.cwd, output), text);
        ctx.io.stderr.write(`report written to ${output}\n`);
      } else {
        ctx.io.stdout.write(text.endsWith("\n") ? text : `${text}\n`);
      }
      const sent = chat === undefined ? EXIT.ok : await sendReport(chat, inventory, ctx.io);
      return sent === EXIT.failed ? EXIT.failed : exitCodeFor(report, failOn);
    } finally {
      await chat?.close();
      await vault?.close();
    }
  },
};

function render(report: ExpiryReport, format: Format, io: CliIo): string {
  switch (format) {
    case "table":
      return formatReportTable(report, { color: io.stdout.isTTY && !io.env["NO_COLOR"] });
    case "markdown":
      return formatReportMarkdown(report);
    case "json":
      return formatReportJson(report);
    case "csv":
      return formatReportCsv(report);
    case "html":
      return formatReportHtml(report);
  }
}

function oneOf<const T extends readonly string[]>(
  value: unknown,
  allowed: T,
  fallback: T[number],
  flag: string,
): T[number] {
  if (value === undefined) return fallback;
  if (typeof value === "string" && (allowed as readonly string[]).includes(value)) return value as T[number];
  throw new UsageError(`${flag} must be one of ${allowed.join(", ")}`);
}

/** A reader (a web server, a mail job) never sees a half-written report. */
async function writeAtomically(file: string, text: string): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}`;
  await writeFile(tmp, text);
  await rename(tmp, file);
}

// `report --send`: the report, as the daemon's weekly chat message, to the targets subscribed to report.weekly.
// Its period is "manual-<time to the second>", never the cron's period, and its claim lives in the process's
// memory (report-command.ts): nothing dedups one invocation against another, each sends once.
/** Before anything is scanned: the config has somewhere to send the report. A configuration error (exit 2). */
export function assertReportTargets(cfg: Config): void {
  const targets = cfg.notifications.targets;
  if (targets.length === 0) {
    throw new RotatorError(
      "CONFIG_INVALID",
      "report --send needs notifications.targets (no chat target is configured)",
    );
  }
  if (!targets.some((t) => t.events.includes("report.weekly"))) {
    throw new RotatorError(
      "CONFIG_INVALID",
      `report --send needs a chat target subscribed to report.weekly (notifications.targets.<name>.events; configured: ${targets.map((t) => t.name).join(", ")})`,
    );
  }
}

function manualPeriod(at: Date): string {
  return `manual-${at.toISOString().slice(0, 19)}Z`;
}

/** Sends, prints one stderr line per target, and returns 1 when every target failed. */
export async function sendReport(chat: ChatNotifier, inventory: Inventory, io: CliIo): Promise<ExitCode> {
  const at = inventory.scannedAt;
  const result = await chat.send(weeklyEvent(inventory.items, at, manualPeriod(at)));
  for (const name of result.sent) io.stderr.write(`report sent to chat target "${name}"\n`);
  for (const name of result.failed) {
    io.stderr.write(
      `report NOT sent to chat target "${name}" (run "eca-rotator check --notify-test --notify-target ${name}" to see why)\n`,
    );
  }
  return result.sent.length === 0 && result.failed.length > 0 ? EXIT.failed : EXIT.ok;
}
