// `report --send`: the report, as the daemon's weekly chat message, to the targets subscribed to report.weekly.
// Its period is "manual-<time to the second>", never the cron's period, and its claim lives in the process's
// memory (report-command.ts): nothing dedups one invocation against another, each sends once.
import type { ChatNotifier } from "../app/chat-notifier.ts";
import type { Config } from "../config/config-types.ts";
import { RotatorError } from "../core/errors.ts";
import type { Inventory } from "../core/inventory/collect-inventory.ts";
import { weeklyEvent } from "../daemon/weekly-report.ts";
import { type CliIo, EXIT, type ExitCode } from "./cli-io.ts";

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
