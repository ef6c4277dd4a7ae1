// Runs `eca-rotator simulate salesforce` as a long-lived child process, as a user would start it.
import { type ChildProcess, spawn } from "node:child_process";
import path from "node:path";

const CLI = path.resolve(import.meta.dirname, "../../src/cli.ts");

export interface SimulatorProcess {
  readonly child: ChildProcess;
  /** Everything printed so far. */
  stdout(): string;
  stderr(): string;
  /** SIGTERM (or the given signal), then the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Starts the CLI and resolves once the banner is complete ("Running;"), or rejects if it exits first. */
export async function startSimulatorProcess(
  args: readonly string[],
  timeoutMs = 20_000,
): Promise<SimulatorProcess> {
  const child = spawn(process.execPath, [CLI, "simulate", "salesforce", ...args], {
    env: { PATH: process.env["PATH"] ?? "", HOME: process.env["HOME"] ?? "/tmp" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
  child.stderr?.on("data", (c: Buffer) => {
    err += c.toString();
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`simulator did not start in time; stderr: ${err}`));
    }, timeoutMs);
    child.stdout?.on("data", (c: Buffer) => {
      out += c.toString();
      if (out.includes("Running;")) {
        clearTimeout(timer);
        resolve();
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`simulator exited early with ${code}; stderr: ${err}`));
    });
  });
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    async stop(signal: NodeJS.Signals = "SIGTERM") {
      child.kill(signal);
      return exited;
    },
  };
}

/** The value printed after `label:` on its own line of the banner. */
export function bannerValue(stdout: string, label: string): string {
  const m = new RegExp(`^\\s*${label}:\\s+(\\S+)`, "m").exec(stdout);
  if (!m?.[1]) throw new Error(`no "${label}:" line in the simulator banner`);
  return m[1];
}
