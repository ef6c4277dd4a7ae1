// `rotate PATH`: one credential through the whole protocol now, waiting out the soak with a countdown unless
// --no-wait leaves promotion to `run --once` (or the daemon). --dry-run prints the plan and changes nothing.

import { setTimeout as sleep } from "node:timers/promises";
import type { RotationOutcome } from "../core/rotation/rotation-outcome.ts";
import type { RotationMode } from "../core/rotation/rotation-state.ts";
import { formatDuration } from "../core/time.ts";
import {
  type CliIo,
  type CommandContext,
  type CommandSpec,
  EXIT,
  type ExitCode,
  loadCliConfig,
} from "./cli-io.ts";
import { describeOutcome, describePlan } from "./outcome-text.ts";
import { credentialPathArg, openRotationSession, reasonArg } from "./rotation-session.ts";

export const rotateCommand: CommandSpec = {
  name: "rotate",
  help: `Usage: eca-rotator rotate PATH [--emergency] [--reason TEXT] [--dry-run] [--no-wait] [--config FILE]

Rotates the credential at PATH (relative to the KV mount, e.g. api-credentials/team-a/crm) through the whole
protocol: claim, stage a new pair at Salesforce, verify it, publish it to KV (the old pair stays in
previous_*), wait out the soak, promote, verify, retire the old pair and prove it dead, stamp the metadata.
An unfinished rotation of PATH is resumed instead of starting a second one.
  --emergency     revoke first: promote at once so the old pair dies now, then publish (an outage until
                  the new pair is in KV, measured and reported); no soak
  --reason TEXT   why (an incident reference); copied into the journal, audit and notifications
  --dry-run       print the steps and the preflight checks; change nothing anywhere
  --no-wait       return once the new pair is published; run --once (or the daemon) promotes after the soak
A provider=generated credential gets a new random secret: published as current_secret with the old one as
previous_secret (rotation_phase=dual-accept); after the soak (or, with confirm_by=flag, once an operator sets
rotate=now or runs rotate PATH again) previous_secret is cleared. --emergency drops the old secret at once.
Progress and audit lines go to stderr (audit lines only without audit.file); stdout has one line per outcome.
Exit 0 when the rotation completed (or, with --no-wait, is waiting for the soak; with --dry-run, would
run); 1 when it failed, was rolled back or skipped; 2 on a usage or config error.`,
  options: {
    emergency: { type: "boolean" },
    reason: { type: "string" },
    "dry-run": { type: "boolean" },
    "no-wait": { type: "boolean" },
  },
  positionals: "PATH",
  async run(ctx) {
    const mode: RotationMode = ctx.values["emergency"] === true ? "emergency" : "standard";
    const reason = reasonArg(ctx);
    const dryRun = ctx.values["dry-run"] === true;
    const cfg = loadCliConfig(ctx);
    const path = credentialPathArg(ctx, cfg, "rotate");
    const session = await openRotationSession(ctx, cfg, { readOnly: dryRun });
    try {
      const { engine } = session.stack;
      if (dryRun) {
        const plan = await engine.plan(path, { mode });
        ctx.io.stdout.write(`${describePlan(plan)}\n`);
        return plan.wouldRotate ? EXIT.ok : EXIT.failed;
      }
      let outcome = await engine.start(path, { mode, trigger: "cli", actor: "cli", reason });
      ctx.io.stdout.write(`${describeOutcome(outcome)}\n`);
      if (ctx.values["no-wait"] === true) return exitFor(outcome);
      while (outcome.kind === "waiting") {
        // A generated secret waiting for the operator's confirmation: nothing to count down to.
        if (outcome.waiting === "confirm") return EXIT.ok;
        // A failed attempt backs off: run --once (or the daemon) tries again after it; so does rotate PATH.
        if (outcome.waiting === "retry") return EXIT.failed;
        if (!(await waitFor(ctx, outcome.path, outcome.until, outcome.waiting))) {
          ctx.io.stderr.write(
            `stopped waiting: the rotation of ${path} stays ${outcome.waiting === "retire" ? "promoted" : "published (both pairs work)"}; ` +
              `"eca-rotator run --once" after ${outcome.until.toISOString()} finishes it\n`,
          );
          return EXIT.failed;
        }
        outcome = await engine.resume(path);
        ctx.io.stdout.write(`${describeOutcome(outcome)}\n`);
      }
      return exitFor(outcome);
    } finally {
      await session.close();
    }
  },
};

/** completed, and waiting (only reached with --no-wait), are success; everything else needs a look. */
function exitFor(o: RotationOutcome): ExitCode {
  return o.kind === "completed" || o.kind === "waiting" ? EXIT.ok : EXIT.failed;
}

/** The countdown, with Ctrl-C stopping the wait (not the rotation: it stays resumable). */
async function waitFor(
  ctx: CommandContext,
  path: string,
  until: Date,
  what: "soak" | "retire" | "readers",
): Promise<boolean> {
  const stop = new AbortController();
  const onInt = () => stop.abort();
  process.once("SIGINT", onInt);
  try {
    const label =
      what === "soak"
        ? `soak of ${path}: promotion`
        : what === "readers"
          ? `soak of ${path} (soak_until=readers): the next look at its readers`
          : `retire_after of ${path}: retiring the old pair`;
    return await countdown(ctx.io, until, label, stop.signal);
  } finally {
    process.off("SIGINT", onInt);
  }
}

// The visible wait of `rotate` while the soak runs: on a terminal one stderr line redrawn every second; in a
// pipe or a CI log one line every 30 s, so logs stay short. stdout is never touched.
const TTY_TICK_MS = 1_000;
const LOG_EVERY_MS = 30_000;
/** Resume a little after `until`: the engine compares with its own clock reading, which must be past it. */
const AFTER_MS = 50;

/**
 * Waits until `until` (plus a margin), showing `<label> in <time left>`. Resolves true when the time came,
 * false when `signal` aborted the wait (Ctrl-C).
 */
export async function countdown(
  io: CliIo,
  until: Date,
  label: string,
  signal: AbortSignal,
  now: () => number = Date.now,
): Promise<boolean> {
  const end = until.getTime() + AFTER_MS;
  const tty = io.stderr.isTTY;
  let lastLogged = Number.NEGATIVE_INFINITY;
  try {
    for (;;) {
      const left = end - now();
      if (left <= 0) break;
      const text = `${label} in ${formatDuration(Math.max(left, 1_000))} (Ctrl-C stops waiting; run --once finishes later)`;
      if (tty) io.stderr.write(`\r${text}\x1b[K`);
      else if (now() - lastLogged >= LOG_EVERY_MS) {
        io.stderr.write(`${text}\n`);
        lastLogged = now();
      }
      await sleep(Math.min(left, tty ? TTY_TICK_MS : Math.min(LOG_EVERY_MS, left)), undefined, { signal });
    }
    return true;
  } catch (err) {
    if (signal.aborted) return false;
    throw err;
  } finally {
    if (tty) io.stderr.write("\r\x1b[K");
  }
}
