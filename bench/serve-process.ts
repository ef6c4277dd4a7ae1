// A `serve` child process (the real CLI, or bench/serve-fast.ts) whose JSON log lines are handed to listeners.
import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { stopProcess } from "../src/demo/dev-vault-server.ts";

type LogRecord = Record<string, unknown> & { msg?: string };

export interface ServeProcess {
  readonly child: ChildProcess;
  /** Called for every JSON log line on stdout, with the time it arrived (performance.now()). */
  onLog(fn: (rec: LogRecord, at: number) => void): void;
  /** Resolves with the first record `pred` accepts; rejects when the process exits first or after timeoutMs. */
  waitFor(pred: (rec: LogRecord) => boolean, timeoutMs: number): Promise<{ rec: LogRecord; at: number }>;
  stderr(): string;
  stop(): Promise<void>;
}

/** Pids of the serve processes this bench started (the load monitor must not count them as other runs). */
export const ownServePids = new Set<string>();

export function spawnServe(args: readonly string[], env: NodeJS.ProcessEnv): ServeProcess {
  const child = spawn(process.execPath, [...args], { env, stdio: ["ignore", "pipe", "pipe"] });
  if (child.pid !== undefined) ownServePids.add(String(child.pid));
  const listeners: Array<(rec: LogRecord, at: number) => void> = [];
  let stderr = "";
  child.stderr?.on("data", (c: Buffer) => {
    stderr = (stderr + c.toString()).slice(-8000);
  });
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", (line) => {
    const at = performance.now();
    let rec: LogRecord;
    try {
      rec = JSON.parse(line) as LogRecord;
    } catch {
      return;
    }
    for (const fn of [...listeners]) fn(rec, at);
  });
  return {
    child,
    onLog: (fn) => listeners.push(fn),
    waitFor(pred, timeoutMs) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => done(new Error(`no matching log line within ${timeoutMs} ms`)),
          timeoutMs,
        );
        const onExit = () => done(new Error(`serve exited (code ${child.exitCode}): ${stderr.trim()}`));
        const fn = (rec: LogRecord, at: number) => {
          if (pred(rec)) done(undefined, { rec, at });
        };
        const done = (err: Error | undefined, value?: { rec: LogRecord; at: number }) => {
          clearTimeout(timer);
          child.off("exit", onExit);
          const i = listeners.indexOf(fn);
          if (i >= 0) listeners.splice(i, 1);
          if (err !== undefined) reject(err);
          else if (value !== undefined) resolve(value);
        };
        listeners.push(fn);
        child.once("exit", onExit);
      });
    },
    stderr: () => stderr,
    stop: () => stopProcess(child, 30_000),
  };
}

/** The value of one unlabelled sample in Prometheus text, or NaN. */
export function metricValue(text: string, name: string): number {
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+-]+)$`, "m").exec(text);
  return m?.[1] === undefined ? Number.NaN : Number(m[1]);
}
