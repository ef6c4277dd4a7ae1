// Runs the real `eca-rotator` executable (src/cli.ts under the same Node) as a child process, as a user would.
import { spawn } from "node:child_process";
import path from "node:path";
import { cliArgs } from "./crash-at.ts";

const CLI = path.resolve(import.meta.dirname, "../../src/cli.ts");

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Vault variables of the developer's shell never leak into a test: only `env` is passed (plus PATH/HOME). */
export async function runCliProcess(
  args: readonly string[],
  env: Record<string, string> = {},
  opts: { cwd?: string; timeoutMs?: number } = {},
): Promise<CliResult> {
  const child = spawn(process.execPath, cliArgs(CLI, args, env), {
    cwd: opts.cwd ?? process.cwd(),
    env: { PATH: process.env["PATH"] ?? "", HOME: process.env["HOME"] ?? "/tmp", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (c: Buffer) => {
    stdout += c.toString();
  });
  child.stderr.on("data", (c: Buffer) => {
    stderr += c.toString();
  });
  const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 60_000);
  const code = await new Promise<number | null>((resolve) => child.on("close", (c) => resolve(c)));
  clearTimeout(timer);
  return { code, stdout, stderr };
}
