// Benchmark: start-up. The built CLI (`npm run build`: dist/cli.js, the package's bin and the container's
// entrypoint) as a user runs it, each figure next to `node -e 0` timed in the same rounds (a round runs every
// variant once, so load from elsewhere hits them alike):
// - `eca-rotator --help` (and `node src/cli.ts --help`, the source run with Node's type stripping);
// - `eca-rotator scan` over 10 credentials, with a config file and VAULT_ADDR/VAULT_TOKEN, to its exit;
// - `eca-rotator serve` until its /readyz answers 200.
// Wall time from spawn to exit (or to the first 200). Every variant runs once untimed first, so Node's compile
// cache (kept in this run's temp folder) is warm as it is for a user from the second run on.
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { request } from "undici";
import { freePort, stopProcess } from "../src/demo/dev-vault-server.ts";
import { writeConfig } from "./bench-config.ts";
import { percentile } from "./bench-stats.ts";
import { type BenchVault, managedEntries, seed } from "./bench-vault.ts";

const ROOT = path.resolve(import.meta.dirname, "..");
const SCAN_PREFIX = "bench/startup";
export const STARTUP_SCAN_ENTRIES = 10;

export interface StartupResult {
  readonly rounds: number;
  /** Medians in ms. */
  readonly nodeMs: number;
  readonly helpMs: number;
  readonly helpSrcMs: number;
  readonly scanMs: number;
  readonly serveReadyMs: number;
  readonly serveReadyP95Ms: number;
}

export interface StartupContext {
  readonly vault: BenchVault;
  readonly dir: string;
}

export async function benchStartup(ctx: StartupContext, rounds: number): Promise<StartupResult> {
  const dist = buildDist();
  try {
    await seed(ctx.vault, managedEntries(SCAN_PREFIX, 0, STARTUP_SCAN_ENTRIES));
    const scanConfig = writeConfig({
      dir: ctx.dir,
      name: "startup-scan",
      prefix: SCAN_PREFIX,
      statePrefix: "bench/state-startup",
    });
    const env = {
      PATH: process.env["PATH"] ?? "",
      HOME: process.env["HOME"] ?? "/tmp",
      VAULT_ADDR: ctx.vault.addr,
      VAULT_TOKEN: ctx.vault.token,
      NODE_COMPILE_CACHE: path.join(ctx.dir, "compile-cache"),
    };
    const cli = path.join(dist, "cli.js");
    const variants = {
      node: () => timeExit(["-e", "0"], env),
      help: () => timeExit([cli, "--help"], env),
      helpSrc: () => timeExit([path.join(ROOT, "src/cli.ts"), "--help"], env),
      scan: () => timeExit([cli, "scan", "--config", scanConfig], env),
      serve: () => timeServeReady(cli, ctx, env),
    };
    const times: Record<keyof typeof variants, number[]> = {
      node: [],
      help: [],
      helpSrc: [],
      scan: [],
      serve: [],
    };
    for (const run of Object.values(variants)) await run(); // warm-up: the compile cache, the disk cache
    for (let r = 0; r < rounds; r++) {
      for (const [name, run] of Object.entries(variants))
        times[name as keyof typeof variants].push(await run());
    }
    return {
      rounds,
      nodeMs: percentile(times.node, 50),
      helpMs: percentile(times.help, 50),
      helpSrcMs: percentile(times.helpSrc, 50),
      scanMs: percentile(times.scan, 50),
      serveReadyMs: percentile(times.serve, 50),
      serveReadyP95Ms: percentile(times.serve, 95),
    };
  } finally {
    rmSync(dist, { recursive: true, force: true });
  }
}

/** `npm run build` (scripts/build.ts) into a folder of its own beside dist/, so package.json and node_modules
 * resolve as they do for dist/; the name is one the repository's ignore files already leave out. */
export function buildDist(): string {
  const out = mkdtempSync(path.join(ROOT, ".build-test-startup-"));
  const build = spawnSync(process.execPath, [path.join(ROOT, "scripts/build.ts"), "--out-dir", out], {
    cwd: ROOT,
    encoding: "utf8",
  });
  if (build.status !== 0) {
    rmSync(out, { recursive: true, force: true });
    throw new Error(`building the CLI failed: ${build.stdout}${build.stderr}`.trim());
  }
  return out;
}

/** Spawn to exit, in ms; the exit code must be 0. */
function timeExit(args: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, [...args], { env, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (c: Buffer) => {
      stderr += c.toString();
    });
    child.on("error", reject);
    child.on("exit", (code) => {
      const ms = performance.now() - t0;
      if (code === 0) resolve(ms);
      else reject(new Error(`${args.slice(-2).join(" ")} exited ${code}: ${stderr.trim().slice(0, 500)}`));
    });
  });
}

/** Spawn of `serve` to the first 200 from /readyz, in ms (polled every 2 ms); then the daemon is stopped. */
async function timeServeReady(cli: string, ctx: StartupContext, env: NodeJS.ProcessEnv): Promise<number> {
  const port = await freePort();
  const config = writeConfig({
    dir: ctx.dir,
    name: `startup-serve-${port}`,
    prefix: SCAN_PREFIX,
    statePrefix: "bench/state-startup",
    rotation: ["scan_interval: 1h"],
    extraYaml: [`server: { listen: "127.0.0.1:${port}" }`, "log: { level: warn }"],
  });
  const t0 = performance.now();
  const child = spawn(process.execPath, [cli, "serve", "--config", config], {
    env,
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr?.on("data", (c: Buffer) => {
    stderr += c.toString();
  });
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`serve exited ${child.exitCode}: ${stderr.trim()}`);
      if (performance.now() - t0 > 30_000) throw new Error("serve was not ready within 30 s");
      const status = await request(`http://127.0.0.1:${port}/readyz`, { reset: true })
        .then(async (res) => {
          await res.body.dump();
          return res.statusCode;
        })
        .catch(() => 0);
      if (status === 200) return performance.now() - t0;
      await sleep(2);
    }
  } finally {
    await stopProcess(child, 30_000);
  }
}
