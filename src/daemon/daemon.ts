// The composition root of `serve`: Vault, the sinks, the rotation engine, the loop, the weekly report and the
// HTTP face, wired once; stop() takes them down in the reverse order within server.shutdown_timeout.
import { randomUUID } from "node:crypto";
import { setFlagsFromString } from "node:v8";
import {
  attachReaderFeed,
  buildDaemonSinks,
  buildRotationStack,
  connectVault,
  connectVaultPatiently,
  type DaemonSinks,
  type RotationStack,
  startReaderFeed,
  type VaultStack,
} from "../app/compose.ts";
import { followUpScan } from "../app/manual-tracker.ts";
import type { Config, SecretRef } from "../config/config-types.ts";
import { classifyDefaultsOf } from "../config/load-config.ts";
import { transportWarnings } from "../config/summarize-config.ts";
import { classifyError } from "../core/errors.ts";
import { collectInventory, withReaders } from "../core/inventory/collect-inventory.ts";
import type { ChatCredential } from "../core/notify/chat-event.ts";
import { chatCredentialOf } from "../core/notify/deadline-reminders.ts";
import { budgetLevel } from "../core/rotation/rotation-decision.ts";
import { UNTAGGED_PROVIDER } from "../core/rotation/rotation-run.ts";
import { type Clock, systemClock } from "../core/time.ts";
import type { InventorySnapshot } from "../http/daemon-view.ts";
import { startHttpServer } from "../http/http-server.ts";
import { createDaemonView } from "./daemon-view-impl.ts";
import { createTokenSource, UnauthorizedSummary } from "./http-auth.ts";
import type { Logger } from "./logger.ts";
import { createDaemonMetrics } from "./metrics.ts";
import { RotationLoop } from "./rotation-loop.ts";
import { RotationTracker } from "./rotation-tracker.ts";
import { resolveSecretRef } from "./secret-refs.ts";
import { WeeklyReportJob } from "./weekly-report.ts";

export interface DaemonOptions {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly version: string;
  readonly log: Logger;
  readonly clock?: Clock;
  /** Where audit lines go when no audit sink is configured, and the engine's own warnings. */
  readonly writeStderr: (line: string) => void;
}

export interface RunningDaemon {
  /** http://host:port of the HTTP API. */
  readonly url: string;
  /** Stops within server.shutdown_timeout (plus a few seconds for the sinks); idempotent. */
  stop(reason: string): Promise<void>;
}

/**
 * Sizes V8's heap for a long-running daemon rather than for throughput; `serve` calls it first thing.
 *
 * A scan makes a burst of short-lived objects once per interval and keeps one compact inventory between
 * bursts (about 25 MB live at 100 credentials, 29 MB at 10,000). V8's defaults size the heap for throughput:
 * the young generation grows to 64 MB per semi-space and the old generation to up to four times the live
 * size, and the process keeps those pages, so `serve` sat at 370 MB resident at 10,000 credentials with under
 * 30 MB live. --optimize-for-size caps how far the heap grows past the live size; the scan's own garbage was
 * cut first (see kvMetadataFast and the policy's plain parsers), so the tighter heap costs little CPU. A 1 MB
 * semi-space keeps the young generation small too: the scan's garbage dies young, and scavenging a small space
 * is cheap (the bench's peak RSS at 2,000 credentials went from about 200 MB to about 140 MB).
 * --optimize-for-size is not accepted in NODE_OPTIONS, hence here, for every way of running `serve`. The
 * semi-space size set here takes only partly: V8 has sized the young generation before any script runs, and
 * with the flag on node's command line a scan of 10,000 credentials scavenges three times as often and the peak
 * RSS is about 8 MB lower (the bench's memory run). So the image's ENTRYPOINT and the systemd unit pass
 * --max-semi-space-size=1 too, with --no-opt --no-maglev --no-sparkplug, and this stays for other ways of starting `serve`.
 */
export function tuneHeapForDaemon(): void {
  setFlagsFromString("--optimize-for-size");
  setFlagsFromString("--max-semi-space-size=1");
  // The optimising compilers off from here on: what they would emit stays out of the heap. The image and the
  // systemd unit also pass these on node's command line, which saves more (V8 maps their code before ours runs).
  setFlagsFromString("--no-opt");
  setFlagsFromString("--no-maglev");
  setFlagsFromString("--no-sparkplug");
}

export async function startDaemon(cfg: Config, opts: DaemonOptions): Promise<RunningDaemon> {
  const clock = opts.clock ?? systemClock;
  const log = opts.log;
  // Before anything connects, so the warning is there even when start-up fails.
  for (const w of transportWarnings(cfg)) log.warn({ key: w.key, insecure: true }, w.text);
  const closers: Array<() => Promise<void>> = [];
  const closeAll = async () => {
    for (const close of closers.splice(0).reverse()) {
      try {
        await close();
      } catch (err) {
        log.warn({ code: classifyError(err) }, "a component did not close cleanly");
      }
    }
  };

  try {
    // Who reads each credential, from Vault's audit device (readers: section); nothing without it. Listening
    // before Vault is reached: Vault does not start while its socket audit device cannot connect.
    const readerFeed = await startReaderFeed(cfg, clock);
    if (readerFeed !== undefined) closers.push(() => readerFeed.stop());
    const vault: VaultStack =
      readerFeed?.listens === true
        ? await connectVaultPatiently(cfg, clock, (code) =>
            log.warn({ code }, "waiting for Vault (its socket audit device connects to the reader feed)"),
          )
        : await connectVault(cfg, clock);
    closers.push(() => vault.close());
    const metrics = createDaemonMetrics({
      version: opts.version,
      connections: cfg.salesforce.connections.map((c) => c.name),
    });

    let snapshot: InventorySnapshot | undefined;
    const lookup = (path: string): ChatCredential | undefined => {
      const item = snapshot?.items.find((i) => i.path === path);
      return item === undefined ? undefined : chatCredentialOf(item);
    };
    const sinks: DaemonSinks = await buildDaemonSinks(cfg, {
      vault,
      env: opts.env,
      log,
      metrics,
      clock,
      lookup,
      writeStderr: opts.writeStderr,
    });
    closers.push(() => sinks.close());

    // A read the feed keeps wakes a soak waiting for that credential's readers (set once the loop exists).
    let readerSeen: (path: string) => void = () => {};
    if (readerFeed !== undefined) {
      await attachReaderFeed(readerFeed, vault, { log, metrics, onRead: (path) => readerSeen(path) });
      // Again here, so it stops (and shares what is left) while the Vault client is still open.
      closers.push(() => readerFeed.stop());
    }

    const tracker = new RotationTracker();
    const stepStarts = new Map<string, number>();
    let stopping = false;
    const stack: RotationStack = await buildRotationStack(cfg, vault, {
      stderr: opts.writeStderr,
      env: opts.env,
      clock,
      audit: {
        // The tracker and the step timings see every event first; then the fan-out delivers it.
        emit: async (event) => {
          tracker.onEvent(event);
          const t = Date.parse(event.time);
          const prev = stepStarts.get(event.rotationId);
          if (prev !== undefined) metrics.recordStep(event.type, Math.max(0, t - prev) / 1000);
          if (
            event.type === "rotation.completed" ||
            event.type === "rotation.failed" ||
            event.type === "rotation.rolled_back"
          ) {
            stepStarts.delete(event.rotationId);
          } else {
            stepStarts.set(event.rotationId, t);
            // Parked or abandoned rotations never send a final event: keep the map bounded.
            if (stepStarts.size > 1_000) stepStarts.delete(stepStarts.keys().next().value ?? "");
          }
          await sinks.audit.emit(event);
        },
      },
      notifier: sinks.chat,
      shouldPause: () => stopping,
      readers: readerFeed,
      onSinkFailure: (sink, err) =>
        log.warn({ sink, code: classifyError(err) }, "a sink failed; the rotation goes on"),
    });
    closers.push(() => stack.close());

    const defaults = classifyDefaultsOf(cfg);
    const only = cfg.salesforce.connections.length === 1 ? cfg.salesforce.connections[0]?.name : undefined;
    const loop = new RotationLoop({
      engine: stack.engine,
      state: stack.state,
      store: stack.store,
      source: vault.source,
      prefixes: cfg.vault.prefixes,
      defaults,
      clock,
      concurrency: cfg.rotation.concurrency,
      intervalMs: cfg.rotation.scanIntervalMs,
      budgetLevel: (connection) => {
        const name = connection ?? only;
        return name === undefined ? "normal" : budgetLevel(stack.apiUsage(name), cfg.rotation.apiBudget);
      },
      tracker,
      ids: randomUUID,
      readers: readerFeed,
      readersWindowMs: cfg.readers?.windowMs,
      onReadersFailure: (err) =>
        log.warn(
          { code: classifyError(err) },
          "the shared reader entries could not be read; readers not shown",
        ),
      onScan: async (items, scannedAt, durationMs) => {
        snapshot = { scannedAt, items };
        metrics.recordScan(items, scannedAt, durationMs);
        for (const conn of cfg.salesforce.connections) {
          const usage = stack.apiUsage(conn.name);
          if (usage !== undefined) metrics.recordApiUsage(conn.name, usage.used, usage.max);
        }
        log.debug({ credentials: items.length, ms: Math.round(durationMs) }, "scan finished");
        // Manual credentials whose new value was written get recorded; then due-soon and overdue reminders.
        await followUpScan(items, scannedAt, {
          store: stack.store,
          chat: sinks.chat,
          audit: sinks.audit,
          overdueRepeatMs: cfg.notifications.overdueRepeatMs,
          onStamped: (a) =>
            log.info(
              { path: a.path, kvVersion: a.version, action: a.kind },
              a.kind === "record" ? "recorded a manual rotation" : "manual credential adopted",
            ),
          onFailure: (path, code) =>
            log.warn({ path, code }, "manual tracking: stamp or chat failed; next scan retries"),
        });
      },
      onHeld: (rows) => {
        for (const r of rows)
          log.info({ path: r.path, reason: r.reason }, "rotation held by the Salesforce API budget");
      },
      onPendingUnread: (rows) => {
        for (const r of rows) log.warn({ path: r.path, reason: r.reason }, "pending_api_key not read");
      },
      onScanFailure: (err) => {
        metrics.recordScanFailure();
        log.error({ code: classifyError(err) }, "scan failed; retrying at the next interval");
      },
      onOutcome: (outcome, task) => {
        // A skip did nothing (a parked failure resumed every tick, a flag already handled): not a rotation.
        if (outcome.kind !== "skipped") metrics.recordOutcome(outcome, outcome.provider ?? UNTAGGED_PROVIDER);
        const rlog = log.child({ rotationId: outcome.rotationId, path: outcome.path });
        const fields = {
          task: task.kind,
          outcome: outcome.kind,
          ...(outcome.kind === "failed" || outcome.kind === "rolled_back" ? { code: outcome.code } : {}),
          ...(outcome.kind === "waiting"
            ? {
                until: outcome.until.toISOString(),
                step: outcome.step,
                waiting: outcome.waiting,
                ...(outcome.detail === undefined ? {} : { detail: outcome.detail }),
              }
            : {}),
          ...(outcome.kind === "skipped" ? { reason: outcome.reason } : {}),
        };
        if (outcome.kind === "failed" || outcome.kind === "rolled_back")
          rlog.error(fields, "rotation did not complete");
        else if (outcome.kind === "skipped" && outcome.rotationId === undefined)
          rlog.debug(fields, "nothing to do");
        else rlog.info(fields, `rotation ${outcome.kind}`);
      },
      onTaskError: (err, path) =>
        log.error({ path, code: classifyError(err) }, "rotation task threw (a bug)"),
    });
    readerSeen = (path) => loop.readerSeen(path);

    const schedule = cfg.report.schedule;
    const weekly =
      schedule === undefined
        ? undefined
        : new WeeklyReportJob({
            schedule,
            kv: vault.kv,
            entryPath: `${cfg.vault.statePrefix}/reports/weekly`,
            owner: stack.owner,
            clock,
            log: log.child({ job: "weekly-report" }),
            scan: async () => {
              const now = clock.now();
              const { items } = await collectInventory(vault.source, cfg.vault.prefixes, now, defaults);
              return withReaders(items, readerFeed, now, cfg.readers?.windowMs ?? 0);
            },
            send: async (event) => {
              await sinks.chat.send(event);
            },
            onSent: () => metrics.recordReportSent(),
          });

    const view = createDaemonView({
      vault,
      prefixes: cfg.vault.prefixes,
      defaults,
      state: stack.state,
      loop,
      tracker,
      audit: sinks.audit,
      httpAudit: sinks.httpAudit,
      metrics,
      clock,
      scanIntervalMs: cfg.rotation.scanIntervalMs,
      ids: randomUUID,
      snapshot: () => snapshot,
      readers: readerFeed,
      readersWindowMs: cfg.readers?.windowMs ?? 0,
    });

    // Re-read every few seconds so a rotated token file takes effect without a restart. A missing or short
    // token stops start-up, naming the key (exit 2).
    const tokenOptions = {
      resolve: (ref: SecretRef) => resolveSecretRef(ref, { env: opts.env, kv: vault.kv }),
      log,
    };
    const apiTokens = createTokenSource(cfg.server.apiTokens, tokenOptions);
    await apiTokens.start();
    // Without read tokens the GET routes stay open (the default listen address is loopback for that reason).
    const readTokens =
      cfg.server.readTokens.length === 0 ? undefined : createTokenSource(cfg.server.readTokens, tokenOptions);
    await readTokens?.start();
    const refused = new UnauthorizedSummary({ log });
    closers.push(async () => refused.close());

    const [host, port] = splitListen(cfg.server.listen);
    const http = await startHttpServer(
      {
        view,
        apiTokens: () => apiTokens.get(),
        readTokens: readTokens === undefined ? undefined : () => readTokens.get(),
        allowedHosts: cfg.server.allowedHosts,
        onUnauthorized: (event) => {
          metrics.recordUnauthorized(event.access, event.reason);
          refused.record(event);
        },
        version: opts.version,
        kvMount: cfg.vault.kvMount,
        refreshSeconds: Math.max(1, Math.round(cfg.server.statusRefreshMs / 1000)),
        log: (line) => log.info(line),
        now: () => clock.now(),
      },
      { host, port },
    );
    closers.push(() => http.close());

    loop.start();
    void weekly?.start().then((late) => {
      if (late !== undefined) log.info({ result: late }, "weekly report: caught up a missed period");
    });
    closers.push(async () => weekly?.stop());
    log.info(
      {
        listen: http.url,
        scanIntervalMs: cfg.rotation.scanIntervalMs,
        prefixes: cfg.vault.prefixes,
        owner: stack.owner,
        nextReport: weekly?.nextRun()?.toISOString() ?? "off (report.schedule)",
      },
      "eca-rotator serving",
    );

    let stopped: Promise<void> | undefined;
    return {
      url: http.url,
      stop(reason: string) {
        stopped ??= (async () => {
          log.info({ reason }, "stopping: no new work; running rotations pause at their next step");
          stopping = true;
          const weeklyDone = weekly?.stop();
          const still = await loop.stop(cfg.server.shutdownTimeoutMs);
          if (still > 0) {
            log.warn(
              { running: still },
              "rotations still running at the shutdown deadline; their journals resume them",
            );
          }
          await weeklyDone;
          await closeAll();
          log.info({}, "stopped");
        })();
        return stopped;
      },
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}

function splitListen(listen: string): [string, number] {
  const i = listen.lastIndexOf(":");
  const host = listen.slice(0, i).replace(/^\[|\]$/g, "");
  return [host, Number(listen.slice(i + 1))];
}
