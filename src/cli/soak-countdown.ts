// The visible wait of `rotate` while the soak runs: on a terminal one stderr line redrawn every second; in a
// pipe or a CI log one line every 30 s, so logs stay short. stdout is never touched.
import { setTimeout as sleep } from "node:timers/promises";
import { formatDuration } from "../core/duration.ts";
import type { CliIo } from "./cli-io.ts";

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
