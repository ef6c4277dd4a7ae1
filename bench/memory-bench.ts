// Benchmark 3: memory of one long-running `serve` process over many scan cycles of the same inventory. At every
// `every`-th cycle: RSS and heap used from the daemon's own /metrics (what an operator sees), then a full GC in
// the daemon (SIGUSR2, serve-fast.ts) and the live heap after it (garbage not yet collected hides a leak in the
// plain heap figure; the heap after a full GC shows it).
import path from "node:path";
import { request } from "undici";
import { freePort } from "../src/demo/dev-vault-server.ts";
import { writeConfig } from "./bench-config.ts";
import type { BenchVault } from "./bench-vault.ts";
import { metricValue, spawnServe } from "./serve-process.ts";

export interface MemorySample {
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
}

export interface MemoryContext {
  readonly vault: BenchVault;
  readonly dir: string;
  readonly prefix: string;
  readonly entries: number;
  readonly cycles: number;
  readonly every: number;
  readonly listing: "auto" | "per-key";
}

export async function benchMemory(ctx: MemoryContext): Promise<MemoryResult> {
  const port = await freePort();
  const file = writeConfig({
    dir: ctx.dir,
    name: "memory",
    prefix: ctx.prefix,
    statePrefix: "bench/state-memory",
    listing: ctx.listing,
    extraYaml: [`server: { listen: "127.0.0.1:${port}" }`, "log: { level: debug }"],
  });
  const url = `http://127.0.0.1:${port}`;
  const serve = spawnServe(["--expose-gc", path.join(import.meta.dirname, "serve-fast.ts"), file], {
    PATH: process.env["PATH"] ?? "",
    HOME: process.env["HOME"] ?? "/tmp",
    VAULT_ADDR: ctx.vault.addr,
    VAULT_TOKEN: ctx.vault.token,
    ECA_BENCH_SCAN_INTERVAL_MS: "0",
  });
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
  try {
    await Promise.race([
      finished,
      new Promise<void>((_, reject) =>
        serve.child.once("exit", (code) => reject(new Error(`serve exited (${code}): ${serve.stderr()}`))),
      ),
    ]);
    await sampling;
  } finally {
    await serve.stop();
  }
  if (failure !== undefined) throw failure;
  samples.sort((a, b) => a.cycle - b.cycle);
  return {
    entries: ctx.entries,
    cycles: ctx.cycles,
    every: ctx.every,
    listing: ctx.listing === "auto" ? "auto (detailed-metadata)" : ctx.listing,
    samples,
    seconds: (performance.now() - t0) / 1000,
  };
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
