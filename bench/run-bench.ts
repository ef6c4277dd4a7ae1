// `npm run bench [-- --quick | --tiny | --help]`: the benchmarks against a bao dev server and the
// Salesforce simulator on loopback, written as Markdown (BENCHMARKS.md by default). Order: seed and scan each
// size; at the memory size also run the memory and flag-latency benchmarks (they need that inventory); then the
// rotations. Progress goes to stderr; exit 0 when the file is written (targets not met are reported, not fatal).
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { parsePlan, USAGE } from "./bench-args.ts";
import { LoadMonitor, loadAverage, machineInfo, otherLoad, waitForQuiet } from "./bench-machine.ts";
import { type BenchResults, evaluateTargets, renderMarkdown } from "./bench-report.ts";
import { startBenchSim } from "./bench-sim.ts";
import { fmt } from "./bench-stats.ts";
import { managedEntries, seed, startBenchVault } from "./bench-vault.ts";
import { benchFlagLatency, type LatencyResult } from "./latency-bench.ts";
import { benchMemory, type MemoryResult } from "./memory-bench.ts";
import { benchReaderFeed } from "./reader-feed-bench.ts";
import { RequestMeter } from "./request-meter.ts";
import { benchRotations, type RotationRow } from "./rotation-bench.ts";
import { benchScan, benchShellLoop, type ScanRow } from "./scan-bench.ts";
import { ownServePids } from "./serve-process.ts";
import { benchStartup } from "./startup-bench.ts";

const SCAN_PREFIX = "bench/scan";

async function main(argv: readonly string[]): Promise<number> {
  const plan = parsePlan(argv);
  if (plan === "help") {
    console.log(USAGE);
    return 0;
  }
  const say = (line: string) => console.error(`[bench] ${line}`);
  const quiet = plan.waitMinutes > 0 ? await waitForQuiet(plan.waitMinutes, say) : { waitedS: 0, still: [] };
  const otherAtStart = quiet.waitedS > 0 ? quiet.still : otherLoad();
  const loadAtStart = loadAverage();
  const startedAt = new Date();
  const t0 = performance.now();
  const dir = mkdtempSync(path.join(tmpdir(), "eca-bench-"));
  const meter = new RequestMeter();
  const monitor = new LoadMonitor(() => ownServePids);
  const vault = await startBenchVault();
  const sim = await startBenchSim().catch(async (err: unknown) => {
    await vault.close();
    throw err;
  });
  try {
    const machine = machineInfo(vault.binary);
    say(`${machine.cores} cores, ${machine.bao}, Node ${machine.node}; ${plan.preset} run, temp ${dir}`);
    const scans: ScanRow[] = [];
    let memory: MemoryResult | undefined;
    let latency: LatencyResult | undefined;
    let seeded = 0;
    for (const n of plan.sizes) {
      monitor.phase(`scan ${fmt(n)}`);
      const ts = performance.now();
      await seed(vault, managedEntries(SCAN_PREFIX, seeded, n));
      seeded = n;
      say(`seeded ${fmt(n)} entries (${fmt((performance.now() - ts) / 1000, 1)} s)`);
      const scan = await benchScan(
        { vault, meter, dir, prefix: SCAN_PREFIX, concurrency: plan.scanConcurrency, repeats: plan.repeats },
        n,
      );
      scans.push(scan);
      say(
        `scan ${fmt(n)}: ours per-key ${fmt(scan.oursPerKey.ms)} ms, bare ${fmt(scan.barePerKey.ms)} ms, ` +
          `ours detailed ${fmt(scan.oursDetailed.ms)} ms, bare detailed ${fmt(scan.bareDetailed.ms)} ms`,
      );
      if (n === plan.memoryEntries) {
        monitor.phase("memory");
        memory = await benchMemory({
          vault,
          dir,
          prefix: SCAN_PREFIX,
          entries: n,
          cycles: plan.memoryCycles,
          every: plan.memoryEvery,
          listing: plan.memoryListing,
          smallEntries: plan.memorySmallEntries,
          shippedScans: plan.memoryShippedScans,
        });
        const last = memory.samples[memory.samples.length - 1];
        say(
          `memory: ${fmt(memory.cycles)} cycles in ${fmt(memory.seconds)} s, RSS ${fmt(last?.rssMb ?? 0, 1)} MB`,
        );
        monitor.phase("flag latency");
        latency = await benchFlagLatency({
          vault,
          sim,
          dir,
          prefix: SCAN_PREFIX,
          entries: n,
          intervalS: plan.latencyIntervalS,
          samples: plan.latencySamples,
        });
        say(`flag latency: started after ${fmt(latency.startMedianMs)} ms median`);
      }
    }
    monitor.phase("shell loop");
    const firstFolder = `${SCAN_PREFIX}/team-000`;
    const shell = await benchShellLoop(
      vault,
      firstFolder,
      Math.min(plan.shellSample, plan.sizes[0] ?? 1, 100),
    );
    say(`shell loop: ${shell.sample} keys in ${fmt(shell.ms)} ms`);
    const rotations: RotationRow[] = [];
    for (const c of plan.rotationConcurrency) {
      monitor.phase(`rotations, concurrency ${c}`);
      const row = await benchRotations({ vault, sim, meter, dir }, plan.rotations, c);
      rotations.push(row);
      say(
        `rotations at concurrency ${c}: own p50 ${fmt(row.ownP50, 1)} ms, wall p50 ${fmt(row.wallP50, 1)} ms`,
      );
    }
    monitor.phase("start-up");
    const startup = await benchStartup({ vault, dir }, plan.preset === "tiny" ? 2 : plan.repeats * 5);
    say(
      `start-up: --help ${fmt(startup.helpMs)} ms, scan ${fmt(startup.scanMs)} ms, serve ready ` +
        `${fmt(startup.serveReadyMs)} ms (node -e 0: ${fmt(startup.nodeMs)} ms)`,
    );
    monitor.phase("reader feed");
    const feedSize = { tiny: [2_500, 1, 10_000], quick: [10_000, 3, 50_000], full: [50_000, 20, 100_000] }[
      plan.preset
    ];
    const readerFeed = await benchReaderFeed({
      vault,
      dir,
      reads: feedSize[0] ?? 2_000,
      pacedSeconds: feedSize[1] ?? 1,
      bookReaders: feedSize[2] ?? 10_000,
    });
    say(
      `reader feed: ${fmt(readerFeed.oursPerSec)} lines/s (bare ${fmt(readerFeed.barePerSec)}), paced ` +
        `${fmt(readerFeed.pacedReceived)} lines ${fmt(readerFeed.pacedLagMs)} ms behind, ` +
        `${fmt(readerFeed.heapPerThousandKb)} KB per 1,000 readers`,
    );
    if (memory === undefined || latency === undefined) throw new Error("the memory size was never reached");
    const results: BenchResults = {
      plan,
      machine,
      startedAt,
      seconds: (performance.now() - t0) / 1000,
      conditions: {
        waitedS: quiet.waitedS,
        otherAtStart,
        otherAtEnd: otherLoad(),
        loadAtStart,
        loadAtEnd: loadAverage(),
        phases: monitor.stop(),
      },
      scans,
      shell,
      rotations,
      memory,
      latency,
      startup,
      readerFeed,
    };
    writeFileSync(plan.out, renderMarkdown(results));
    for (const t of evaluateTargets(results))
      say(`${t.met ? "met    " : "NOT MET"} ${t.name}: ${t.measured}`);
    say(`wrote ${plan.out} (${fmt(results.seconds)} s)`);
    return 0;
  } finally {
    monitor.stop();
    meter.close();
    await sim.close();
    await vault.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

process.exitCode = await main(process.argv.slice(2)).catch((err: unknown) => {
  console.error(`[bench] failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  return 1;
});
