// Benchmark 3: memory of one long-running `serve` process over many scan cycles of the same inventory. At every
// `every`-th cycle: RSS and heap used from the daemon's own /metrics (what an operator sees), then a full GC in
// the daemon (SIGUSR2, serve-fast.ts) and the live heap after it (garbage not yet collected hides a leak in the
// plain heap figure; the heap after a full GC shows it). The peak RSS is the kernel's high-water mark of the
// process (VmHWM), read just before it stops. A second, small run (its own prefix of `smallEntries`) gives the
// floor, and the two give the RSS each 1,000 credentials add.
import { execFile } from "node:child_process";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { request } from "undici";
import { bundle } from "../scripts/build.ts";
import { freePort } from "../src/demo/dev-vault-server.ts";
import { writeConfig } from "./bench-config.ts";
import { median } from "./bench-stats.ts";
import { type BenchVault, managedEntries, seed } from "./bench-vault.ts";
import { metricValue, spawnServe } from "./serve-process.ts";
import { buildDist } from "./startup-bench.ts";

const run = promisify(execFile);

/** The node flags the image's ENTRYPOINT runs the CLI with (test/deploy/dockerfile.test.ts keeps the two equal). */
export const IMAGE_NODE_FLAGS = [
  "--enable-source-maps",
  "--no-opt",
  "--no-maglev",
  "--no-sparkplug",
  "--max-semi-space-size=1",
] as const;

interface MemorySample {
  readonly cycle: number;
  readonly rssMb: number;
  readonly heapUsedMb: number;
  /** Live heap after a forced full GC. */
  readonly heapAfterGcMb: number;
  readonly scanMs: number;
}

export interface MemoryResult {
  readonly entries: number;
  readonly cycles: number;
  readonly every: number;
  readonly listing: string;
  readonly samples: readonly MemorySample[];
  readonly seconds: number;
  /** The process's highest RSS over the whole run (VmHWM); NaN where /proc is not there. */
  readonly peakRssMb: number;
  /** Median RSS of the samples from the baseline cycle on (memoryBaseline in bench-report.ts). */
  readonly steadyRssMb: number;
  /** The same daemon over `smallEntries` credentials, when asked for. */
  readonly small?: MemoryResult | undefined;
  /** RSS of an empty Node process on this machine (`node -e` doing nothing): the floor under any daemon. */
  readonly bareNodeRssMb?: number | undefined;
  /** The shipped CLI's own `serve` over the small inventory, when asked for (a cross-check of the bundle). */
  readonly shipped?: ShippedServeResult | undefined;
}

/** `dist/cli.js serve` as the image runs it, over a few scans at the config's shortest interval. */
interface ShippedServeResult {
  readonly entries: number;
  readonly scans: number;
  readonly intervalS: number;
  readonly peakRssMb: number;
  /** Median RSS from /metrics after each scan of the second half. */
  readonly steadyRssMb: number;
}

export interface MemoryContext {
  readonly vault: BenchVault;
  readonly dir: string;
  readonly prefix: string;
  readonly entries: number;
  readonly cycles: number;
  readonly every: number;
  readonly listing: "auto" | "per-key";
  /** Also run the same cycles over this many credentials under a prefix of their own (seeded here). */
  readonly smallEntries?: number | undefined;
  /** Then run the shipped CLI's `serve` over the small inventory for this many scans, 1 s apart. */
  readonly shippedScans?: number | undefined;
}

export async function benchMemory(ctx: MemoryContext): Promise<MemoryResult> {
  const entry = await buildServeFast(ctx.dir);
  const big = await benchMemoryOnce(ctx, entry);
  if (ctx.smallEntries === undefined) return big;
  const prefix = "bench/memory-small";
  await seed(ctx.vault, managedEntries(prefix, 0, ctx.smallEntries));
  const small = await benchMemoryOnce({ ...ctx, prefix, entries: ctx.smallEntries }, entry);
  const shipped =
    ctx.shippedScans === undefined || ctx.shippedScans < 1
      ? undefined
      : await benchShippedServe({ ...ctx, prefix, entries: ctx.smallEntries }, ctx.shippedScans);
  return { ...big, small, bareNodeRssMb: await bareNodeRss(), shipped };
}

/**
 * The real `eca-rotator serve` (`npm run build`'s dist/cli.js, with the image's node flags) over `ctx.entries`
 * for `scans` scans at `rotation.scan_interval: 1s`, the shortest the config takes: what a user runs, against
 * the bundled serve-fast the long runs use. RSS from /metrics after each scan; peak = VmHWM at the end.
 */
async function benchShippedServe(ctx: MemoryContext, scans: number): Promise<ShippedServeResult> {
  const dist = buildDist();
  try {
    const { serve, url } = await startServe(ctx, "memory-shipped", ["scan_interval: 1s"], (file) => [
      ...IMAGE_NODE_FLAGS,
      path.join(dist, "cli.js"),
      "serve",
      "--config",
      file,
    ]);
    const rss: number[] = [];
    let peakRssMb = Number.NaN;
    try {
      for (let i = 0; i < scans; i++) {
        const { rec } = await serve.waitFor((r) => r.msg === "scan finished", 60_000);
        if (rec["credentials"] !== ctx.entries) {
          throw new Error(`serve scanned ${String(rec["credentials"])} entries, expected ${ctx.entries}`);
        }
        rss.push((await scrape(url)).rss / 2 ** 20);
      }
      peakRssMb = highWaterMarkMb(serve.child.pid);
    } finally {
      await serve.stop();
    }
    return {
      entries: ctx.entries,
      scans,
      intervalS: 1,
      peakRssMb,
      steadyRssMb: median(rss.slice(Math.floor(rss.length / 2))),
    };
  } finally {
    rmSync(dist, { recursive: true, force: true });
  }
}

const ROOT = path.resolve(import.meta.dirname, "..");

/**
 * Bundles serve-fast.ts into the run's temp folder with the package's own bundler settings (scripts/build.ts:
 * rolldown, the vendor chunk, ASCII chunks, source maps), so the process measured loads its code as the shipped
 * `dist/cli.js serve` does: a .ts entry point would make Node load its TypeScript stripper (about 30 MB
 * resident) into the very process, and a file-by-file build loads about 150 modules where the bundle loads a
 * few chunks (about 7 MB more at 100 credentials). Returns the bundled serve-fast.js.
 */
async function buildServeFast(dir: string): Promise<string> {
  const out = path.join(dir, "serve-bundle");
  await bundle({ "serve-fast": path.join(ROOT, "bench/serve-fast.ts") }, out);
  writeFileSync(path.join(out, "package.json"), JSON.stringify({ type: "module" }));
  return path.join(out, "serve-fast.js");
}

async function bareNodeRss(): Promise<number> {
  const { stdout } = await run(process.execPath, [
    "-e",
    "setTimeout(() => console.log(process.memoryUsage().rss), 200)",
  ]);
  return Number(stdout.trim()) / 2 ** 20;
}

/** A serve process over `ctx.prefix` with its own config file (`name`), state prefix and HTTP port. */
async function startServe(
  ctx: MemoryContext,
  name: string,
  rotation: readonly string[],
  args: (configFile: string) => string[],
  env: NodeJS.ProcessEnv = {},
) {
  const port = await freePort();
  const file = writeConfig({
    dir: ctx.dir,
    name,
    prefix: ctx.prefix,
    statePrefix: `bench/state-${name}`,
    listing: ctx.listing,
    rotation,
    extraYaml: [`server: { listen: "127.0.0.1:${port}" }`, "log: { level: debug }"],
  });
  const serve = spawnServe(args(file), {
    PATH: process.env["PATH"] ?? "",
    HOME: process.env["HOME"] ?? "/tmp",
    VAULT_ADDR: ctx.vault.addr,
    VAULT_TOKEN: ctx.vault.token,
    ...env,
  });
  return { serve, url: `http://127.0.0.1:${port}` };
}

async function benchMemoryOnce(ctx: MemoryContext, serveFast: string): Promise<MemoryResult> {
  // The V8 flags of the image's ENTRYPOINT (and the systemd unit's ExecStart).
  const { serve, url } = await startServe(
    ctx,
    "memory",
    [],
    (file) => ["--expose-gc", ...IMAGE_NODE_FLAGS, serveFast, file],
    { ECA_BENCH_SCAN_INTERVAL_MS: "0" },
  );
  const samples: MemorySample[] = [];
  let cycles = 0;
  let lastScanMs = Number.NaN;
  let failure: Error | undefined;
  let sampling = Promise.resolve();
  let finish: () => void = () => {};
  const finished = new Promise<void>((resolve) => {
    finish = resolve;
  });
  const t0 = performance.now();
  serve.onLog((rec) => {
    if (rec.msg === "scan failed; retrying at the next interval") {
      failure = new Error(`scan failed: ${String(rec["code"])}`);
    }
    if (rec.msg !== "scan finished") return;
    if (rec["credentials"] !== ctx.entries) {
      failure = new Error(
        `the daemon scanned ${String(rec["credentials"])} entries, expected ${ctx.entries}`,
      );
    }
    cycles += 1;
    lastScanMs = Number(rec["ms"]);
    const cycle = cycles;
    if (cycle > ctx.cycles) return;
    if (cycle % ctx.every === 0) {
      const scanMs = lastScanMs;
      sampling = sampling
        .then(async () => {
          const m = await scrape(url);
          const after = serve.waitFor((r) => r.msg === "bench memory", 30_000);
          serve.child.kill("SIGUSR2");
          const { rec: gc } = await after;
          samples.push({
            cycle,
            rssMb: m.rss / 2 ** 20,
            heapUsedMb: m.heap / 2 ** 20,
            heapAfterGcMb: Number(gc["heapUsed"]) / 2 ** 20,
            scanMs,
          });
        })
        .catch((err: unknown) => {
          failure = err as Error;
        });
    }
    if (cycle === ctx.cycles || failure !== undefined) finish();
  });
  let peakRssMb = Number.NaN;
  try {
    await Promise.race([
      finished,
      new Promise<void>((_, reject) =>
        serve.child.once("exit", (code) => reject(new Error(`serve exited (${code}): ${serve.stderr()}`))),
      ),
    ]);
    await sampling;
    peakRssMb = highWaterMarkMb(serve.child.pid);
  } finally {
    await serve.stop();
  }
  if (failure !== undefined) throw failure;
  samples.sort((a, b) => a.cycle - b.cycle);
  // From cycle 100 on (the first 100 are warm-up), or the second half of a shorter run.
  const from = samples.some((x) => x.cycle >= 100)
    ? 100
    : (samples[Math.floor(samples.length / 2)]?.cycle ?? 0);
  return {
    entries: ctx.entries,
    cycles: ctx.cycles,
    every: ctx.every,
    listing: ctx.listing === "auto" ? "auto (detailed-metadata)" : ctx.listing,
    samples,
    seconds: (performance.now() - t0) / 1000,
    peakRssMb,
    steadyRssMb: median(samples.filter((x) => x.cycle >= from).map((x) => x.rssMb)),
  };
}

/** VmHWM of a live process in MB (Linux); NaN elsewhere. */
function highWaterMarkMb(pid: number | undefined): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = /^VmHWM:\s+(\d+) kB/m.exec(status)?.[1];
    return kb === undefined ? Number.NaN : Number(kb) / 1024;
  } catch {
    return Number.NaN;
  }
}

async function scrape(url: string): Promise<{ rss: number; heap: number }> {
  const res = await request(`${url}/metrics`);
  const text = await res.body.text();
  const rss = metricValue(text, "eca_rotator_process_resident_memory_bytes");
  const heap = metricValue(text, "eca_rotator_nodejs_heap_size_used_bytes");
  if (Number.isNaN(rss) || Number.isNaN(heap))
    throw new Error("the daemon's /metrics has no RSS or heap gauge");
  return { rss, heap };
}
