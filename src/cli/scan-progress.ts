import type { ScanProgress } from "../core/inventory/collect-inventory.ts";
import type { CliIo } from "./cli-io.ts";

/**
 * A single self-overwriting progress line on stderr, only when stderr is a terminal (never in pipes, CI logs
 * or tests), redrawn at most every 100 ms so a fast scan is not slowed by terminal writes.
 */
export function terminalProgress(
  io: CliIo,
  now: () => number = Date.now,
): { onProgress?: ScanProgress; done(): void } {
  if (!io.stderr.isTTY) return { done: () => {} };
  let last = 0;
  let drawn = false;
  return {
    onProgress: (seen, prefix) => {
      const t = now();
      if (t - last < 100) return;
      last = t;
      drawn = true;
      io.stderr.write(`\rscanning ${prefix}/ … ${seen} entries`);
    },
    done: () => {
      if (drawn) io.stderr.write("\r\x1b[K");
    },
  };
}
