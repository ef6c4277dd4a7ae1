// A second, non-dev server for tests that need a sealed, restarted or specially configured Vault: single-node
// raft storage in a temp folder (OpenBao 2.7 dropped the "file" backend), plain HTTP on a free loopback port.
// It starts uninitialised and sealed; initialise() and unseal() drive it through the API.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { freePort, stopProcess } from "./vault-backend.ts";

export interface StandaloneServer {
  readonly addr: string;
  readonly dir: string;
  /** PUT sys/init with one key share; returns the root token and the unseal key. */
  initialise(): Promise<{ rootToken: string; unsealKey: string }>;
  unseal(key: string): Promise<void>;
  /**
   * Stops the server (SIGKILL with `hard`, like a crash; SIGTERM otherwise) and starts it again on the same data
   * folder and port. It comes back sealed: unseal it again.
   */
  restart(opts?: { hard?: boolean }): Promise<void>;
  /**
   * Stops the server like restart() does and leaves it down until start(). The port stays free for start() while
   * the killed server's closed connections linger (about a minute): the kernel hands out no port that has them.
   */
  halt(opts?: { hard?: boolean }): Promise<void>;
  /** Starts a halted server on the same data folder and port; it comes back sealed. */
  start(): Promise<void>;
  stop(): Promise<void>;
}

export async function startStandaloneServer(binary: string, extraHcl = ""): Promise<StandaloneServer> {
  const dir = await mkdtemp(path.join(tmpdir(), "eca-standalone-"));
  const [port, clusterPort] = [await freePort(), await freePort()];
  const addr = `http://127.0.0.1:${port}`;
  await mkdir(path.join(dir, "data"));
  await writeFile(
    path.join(dir, "server.hcl"),
    `disable_mlock = true
api_addr = "${addr}"
cluster_addr = "http://127.0.0.1:${clusterPort}"
storage "raft" {
  path    = "${path.join(dir, "data")}"
  node_id = "standalone"
}
listener "tcp" {
  address         = "127.0.0.1:${port}"
  cluster_address = "127.0.0.1:${clusterPort}"
  tls_disable     = true
}
${extraHcl}
`,
  );
  const config = path.join(dir, "server.hcl");
  let proc = await launch(binary, config, addr);
  const put = async (apiPath: string, body: unknown) => {
    const res = await fetch(`${addr}/v1/${apiPath}`, { method: "PUT", body: JSON.stringify(body) });
    if (!res.ok) throw new Error(`PUT ${apiPath} → HTTP ${res.status}`);
    return res.json() as Promise<Record<string, unknown>>;
  };
  const running = () => proc.exitCode === null && proc.signalCode === null;
  const halt = async (opts: { hard?: boolean } = {}) => {
    if (!running()) return;
    if (opts.hard === true) {
      const exited = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
      proc.kill("SIGKILL");
      await exited;
    } else {
      await stopProcess(proc);
    }
  };
  const start = async () => {
    if (running()) throw new Error("the standalone server is already running");
    proc = await launch(binary, config, addr);
  };
  return {
    addr,
    dir,
    async initialise() {
      const init = (await put("sys/init", { secret_shares: 1, secret_threshold: 1 })) as {
        keys_base64: string[];
        root_token: string;
      };
      return { rootToken: init.root_token, unsealKey: init.keys_base64[0] ?? "" };
    },
    async unseal(key) {
      await put("sys/unseal", { key });
    },
    async restart(opts = {}) {
      await halt(opts);
      await start();
    },
    halt,
    start,
    async stop() {
      await stopProcess(proc);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Starts `bao server` on the config and waits until its listener answers. */
async function launch(binary: string, config: string, addr: string): Promise<ChildProcess> {
  const proc: ChildProcess = spawn(binary, ["server", `-config=${config}`], {
    stdio: ["ignore", "ignore", "pipe"],
    env: { ...process.env, BAO_LOG_LEVEL: "warn", VAULT_LOG_LEVEL: "warn" },
  });
  let stderr = "";
  proc.stderr?.on("data", (c: Buffer) => {
    stderr = (stderr + c.toString()).slice(-4000);
  });
  // Any HTTP answer (501 uninitialised, 503 sealed) means the listener is up.
  const deadline = Date.now() + 30_000;
  while (
    (await fetch(`${addr}/v1/sys/health`).then(
      (r) => r.status,
      () => 0,
    )) === 0
  ) {
    if (proc.exitCode !== null || Date.now() > deadline) {
      proc.kill("SIGKILL");
      throw new Error(`the standalone server did not start: ${stderr.trim() || "(no output)"}`);
    }
    await sleep(100);
  }
  return proc;
}
