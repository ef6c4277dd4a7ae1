// Starts (or finds) the real Vault-compatible server the test run uses. Chosen by ECA_TEST_VAULT:
//   bao      (default) spawn `bao server -dev` (or `vault server -dev`) on a free loopback port
//   docker   testcontainers with the hashicorp/vault image, for machines that have a Docker engine
//   external use VAULT_ADDR / VAULT_TOKEN as given (a root-capable token: tests create mounts and policies)
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createServer } from "node:net";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

export type VaultBackendName = "bao" | "docker" | "external";

export interface VaultTarget {
  readonly addr: string;
  readonly token: string;
  readonly backend: VaultBackendName;
  /** The server binary, when the backend runs one locally (tests that start their own servers use it). */
  readonly binary: string | undefined;
}

export interface RunningVault {
  readonly target: VaultTarget;
  stop(): Promise<void>;
}

export const HOW_TO_GET_VAULT =
  "run the tests with ./test.sh (it installs the bao binary), put `bao` or `vault` on PATH, " +
  "set ECA_TEST_VAULT=docker with a Docker engine, or ECA_TEST_VAULT=external with VAULT_ADDR and VAULT_TOKEN";

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

/** `bao` wins over `vault`; the project's own venv is searched after PATH. */
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

export async function startDevServer(binary: string, token: string): Promise<RunningVault> {
  const port = await freePort();
  const addr = `http://127.0.0.1:${port}`;
  const proc = spawn(
    binary,
    [
      "server",
      "-dev",
      `-dev-root-token-id=${token}`,
      `-dev-listen-address=127.0.0.1:${port}`,
      "-dev-no-store-token",
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
  return {
    target: { addr, token, backend: "bao", binary },
    stop: () => stopProcess(proc),
  };
}

export async function stopProcess(proc: ChildProcess, graceMs = 5_000): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
  proc.kill("SIGTERM");
  const timer = setTimeout(() => proc.kill("SIGKILL"), graceMs);
  await exited;
  clearTimeout(timer);
}

async function startDocker(token: string): Promise<RunningVault> {
  // Loaded lazily so machines without Docker never touch dockerode.
  const { VaultContainer } = await import("@testcontainers/vault");
  const image = process.env["ECA_TEST_VAULT_IMAGE"] ?? "hashicorp/vault:1.20";
  const container = await new VaultContainer(image).withVaultToken(token).start();
  return {
    target: { addr: container.getAddress(), token, backend: "docker", binary: undefined },
    stop: async () => {
      await container.stop();
    },
  };
}

export async function startVaultBackend(env: NodeJS.ProcessEnv = process.env): Promise<RunningVault> {
  const backend = (env["ECA_TEST_VAULT"] ?? "bao") as VaultBackendName;
  const token = "eca-test-root-token";
  switch (backend) {
    case "external": {
      const addr = env["VAULT_ADDR"] ?? env["BAO_ADDR"];
      const extToken = env["VAULT_TOKEN"] ?? env["BAO_TOKEN"];
      if (!addr || !extToken) throw new Error("ECA_TEST_VAULT=external needs VAULT_ADDR and VAULT_TOKEN");
      await waitForHealthy(addr, 10_000);
      return {
        target: { addr, token: extToken, backend, binary: findServerBinary(env) },
        stop: async () => {},
      };
    }
    case "docker":
      return startDocker(token);
    case "bao": {
      const binary = findServerBinary(env);
      if (!binary) throw new Error(`no bao or vault binary found; ${HOW_TO_GET_VAULT}`);
      return startDevServer(binary, token);
    }
    default:
      throw new Error(`ECA_TEST_VAULT=${String(backend)} is not one of bao, docker, external`);
  }
}
