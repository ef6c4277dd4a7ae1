// `serve`: the daemon. Logs are JSON lines on stdout; the process runs until SIGTERM or SIGINT, then stops
// taking work, lets running rotations reach their next step boundary (bounded by server.shutdown_timeout),
// flushes the audit sinks and exits 0. A second signal exits at once (the journals make that safe too).

import { startDaemon, tuneHeapForDaemon } from "../daemon/daemon.ts";
import { createLogger, STDOUT } from "../daemon/logger.ts";
import { exposedSecretFiles } from "../daemon/secret-refs.ts";
import type { CommandSpec } from "./cli-io.ts";
import { EXIT, loadCliConfig } from "./cli-io.ts";
import { packageVersion } from "./package-version.ts";

export const serveCommand: CommandSpec = {
  name: "serve",
  help: `Usage: eca-rotator serve [--config FILE]

Runs until SIGTERM or SIGINT:
  - every rotation.scan_interval: resume unfinished rotations, scan the prefixes, act on rotate flags, rotate
    what is due (at most rotation.concurrency at once; paced by rotation.api_budget per Salesforce connection);
  - the weekly expiry report on report.schedule (cron, UTC), sent once per period across replicas;
  - the HTTP API on server.listen: /healthz, /readyz, /metrics, /v1/credentials, /v1/rotations/{id}, and a
    status page at /.
Logs are JSON lines on stdout; a file holding a secret that its group or others may read is logged as a warning
at start (key, path, mode). On SIGTERM running rotations pause at their next step (the journal keeps them)
within server.shutdown_timeout, the audit sinks are flushed, and the process exits 0.
Exit 2 on a configuration error (named by key), 1 when start-up fails (Vault unreachable, port in use).`,
  options: {},
  async run(ctx) {
    tuneHeapForDaemon();
    const cfg = loadCliConfig(ctx);
    const log = createLogger(cfg.log.level, STDOUT);
    for (const f of await exposedSecretFiles(cfg)) {
      log.warn({ key: f.key, file: f.path, mode: f.mode }, "secret file readable by its group or others");
    }
    const daemon = await startDaemon(cfg, {
      env: ctx.io.env,
      version: await packageVersion(),
      log,
      writeStderr: (line) => ctx.io.stderr.write(`${line}\n`),
    });
    const signal = await new Promise<NodeJS.Signals>((resolve) => {
      process.once("SIGTERM", () => resolve("SIGTERM"));
      process.once("SIGINT", () => resolve("SIGINT"));
    });
    const again = () => {
      log.warn({}, "second signal: exiting now; unfinished rotations resume from their journals");
      process.exit(EXIT.failed);
    };
    process.once("SIGTERM", again);
    process.once("SIGINT", again);
    await daemon.stop(signal);
    return EXIT.ok;
  },
};
