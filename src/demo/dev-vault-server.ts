// Starting a local Vault-compatible dev server: used by the demo (./run.sh) and by the test harness, so both
// run the server the same way. `bao` wins over `vault`; the project's own .tools/venv is searched after PATH.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createServer } from "node:net";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

export interface DevServer {
  readonly addr: string;
  readonly token: string;
  readonly binary: string;
  readonly process: ChildProcess;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export function findServerBinary(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const dirs = (env["PATH"] ?? "").split(path.delimiter).filter(Boolean);
  dirs.push(path.resolve(import.meta.dirname, "../../.tools/venv/bin"));
  for (const name of ["bao", "vault"]) {
    for (const dir of dirs) {
      const candidate = path.join(dir, name);
      if (existsSync(candidate)) return candidate;
    }
  }
  return undefined;
}

export async function waitForHealthy(addr: string, timeoutMs = 30_000, proc?: ChildProcess): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = "no answer";
  while (Date.now() < deadline) {
    if (proc && proc.exitCode !== null) throw new Error(`the server exited with code ${proc.exitCode}`);
    try {
      const res = await fetch(`${addr}/v1/sys/health`);
      if (res.status === 200) return;
      last = `HTTP ${res.status}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await sleep(100);
  }
  throw new Error(`Vault at ${addr} did not become healthy within ${timeoutMs} ms (${last})`);
}

/**
 * `extraArgs`: more server flags, such as -config=FILE with audit devices; `port`: a port chosen beforehand
 * (tests of the reader feed, whose daemon must know the address before the server starts).
 */
export async function startDevServer(
  binary: string,
  token: string,
  opts: { readonly extraArgs?: readonly string[]; readonly port?: number } = {},
): Promise<DevServer> {
  const port = opts.port ?? (await freePort());
  const addr = `http://127.0.0.1:${port}`;
  const proc = spawn(
    binary,
    [
      "server",
      "-dev",
      `-dev-root-token-id=${token}`,
      `-dev-listen-address=127.0.0.1:${port}`,
      "-dev-no-store-token",
      ...(opts.extraArgs ?? []),
    ],
    {
      stdio: ["ignore", "ignore", "pipe"],
      env: { ...process.env, BAO_LOG_LEVEL: "warn", VAULT_LOG_LEVEL: "warn" },
    },
  );
  let stderr = "";
  proc.stderr?.on("data", (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  try {
    await waitForHealthy(addr, 30_000, proc);
  } catch (err) {
    proc.kill("SIGKILL");
    throw new Error(`${(err as Error).message}; server said: ${stderr.trim() || "(nothing)"}`);
  }
  return { addr, token, binary, process: proc, stop: () => stopProcess(proc) };
}

export async function stopProcess(proc: ChildProcess, graceMs = 5_000): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
  proc.kill("SIGTERM");
  const timer = setTimeout(() => proc.kill("SIGKILL"), graceMs);
  await exited;
  clearTimeout(timer);
}
