// `eca-rotator serve` for the memory benchmark: the same startDaemon and JSON logger that serve-command.ts
// wires, from the same config file, with one change made after validation: rotation.scan_interval is replaced
// by ECA_BENCH_SCAN_INTERVAL_MS (the config refuses less than 1 s, and 1,000 cycles at 1 s + scan time would not
// fit the bench's time budget). Runs until SIGTERM. Usage: node bench/serve-fast.ts CONFIG_FILE

import { loadConfig } from "../src/config/load-config.ts";
import { startDaemon, tuneHeapForDaemon } from "../src/daemon/daemon.ts";
import { createLogger, STDOUT } from "../src/daemon/logger.ts";

tuneHeapForDaemon(); // as serve-command.ts does
const file = process.argv[2];
if (file === undefined) throw new Error("usage: node bench/serve-fast.ts CONFIG_FILE");
const loaded = loadConfig({ file, env: process.env });
const intervalMs = Number(process.env["ECA_BENCH_SCAN_INTERVAL_MS"] ?? "0");
const cfg = { ...loaded, rotation: { ...loaded.rotation, scanIntervalMs: intervalMs } };
const log = createLogger(cfg.log.level, STDOUT);
const daemon = await startDaemon(cfg, {
  env: process.env,
  version: "bench",
  log,
  writeStderr: (line) => process.stderr.write(`${line}\n`),
});
// SIGUSR2 (from the bench, at each sample): a full GC, then the live heap and RSS as one log line. Needs
// --expose-gc; the heap after a full collection is what a leak raises, unlike the heap at a random moment.
const gc = (globalThis as { gc?: () => void }).gc;
process.on("SIGUSR2", () => {
  gc?.();
  const m = process.memoryUsage();
  log.info({ heapUsed: m.heapUsed, rss: m.rss, gc: gc !== undefined }, "bench memory");
});
process.once("SIGTERM", () => {
  void daemon.stop("SIGTERM").then(() => process.exit(0));
});
