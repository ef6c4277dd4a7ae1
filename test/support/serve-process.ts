// The real `eca-rotator serve` as a child process: its JSON log lines parsed as they arrive, waits on log
// records, and a signal-and-wait stop. Used by the daemon's end-to-end tests.
import { type ChildProcess, spawn } from "node:child_process";
import path from "node:path";

const CLI = path.resolve(import.meta.dirname, "../../src/cli.ts");

export type LogRecord = Record<string, unknown> & { msg?: string; level?: string };

export class ServeProcess {
  readonly child: ChildProcess;
  stdout = "";
  stderr = "";
  readonly records: LogRecord[] = [];
  readonly #exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  private constructor(args: readonly string[], env: Record<string, string>) {
    this.child = spawn(process.execPath, [CLI, "serve", ...args], {
      env: { PATH: process.env["PATH"] ?? "", HOME: process.env["HOME"] ?? "/tmp", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let partial = "";
    this.child.stdout?.on("data", (c: Buffer) => {
      const text = c.toString();
      this.stdout += text;
      partial += text;
      const lines = partial.split("\n");
      partial = lines.pop() ?? "";
      for (const line of lines) {
        if (line.trim() === "") continue;
        try {
          this.records.push(JSON.parse(line) as LogRecord);
        } catch {
          this.records.push({ msg: `(not JSON) ${line}` });
        }
      }
    });
    this.child.stderr?.on("data", (c: Buffer) => {
      this.stderr += c.toString();
    });
    this.#exit = new Promise((resolve) =>
      this.child.on("close", (code, signal) => resolve({ code, signal })),
    );
  }

  static async start(
    args: readonly string[],
    env: Record<string, string>,
    timeoutMs = 20_000,
  ): Promise<ServeProcess> {
    const p = new ServeProcess(args, env);
    await p.waitForLog((r) => r.msg === "eca-rotator serving", timeoutMs);
    return p;
  }

  get url(): string {
    const rec = this.records.find((r) => r.msg === "eca-rotator serving");
    return String(rec?.["listen"]);
  }

  async waitForLog(match: (r: LogRecord) => boolean, timeoutMs = 20_000): Promise<LogRecord> {
    const deadline = Date.now() + timeoutMs;
    let exited = false;
    void this.#exit.then(() => {
      exited = true;
    });
    for (;;) {
      const found = this.records.find(match);
      if (found !== undefined) return found;
      if (exited)
        throw new Error(
          `serve exited before the awaited log record\nstdout:\n${this.stdout}\nstderr:\n${this.stderr}`,
        );
      if (Date.now() > deadline) {
        throw new Error(
          `timed out waiting for a log record\nstdout:\n${this.stdout.slice(-4000)}\nstderr:\n${this.stderr}`,
        );
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Sends the signal and waits for the exit (SIGKILL after timeoutMs). */
  async stop(
    signal: NodeJS.Signals = "SIGTERM",
    timeoutMs = 30_000,
  ): Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }> {
    const t0 = Date.now();
    this.child.kill(signal);
    const timer = setTimeout(() => this.child.kill("SIGKILL"), timeoutMs);
    const r = await this.#exit;
    clearTimeout(timer);
    return { ...r, ms: Date.now() - t0 };
  }

  exited(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    return this.#exit;
  }
}
