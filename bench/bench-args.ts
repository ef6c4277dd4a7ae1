// Command-line options of `npm run bench` and the three presets (full, --quick, --tiny).
import { parseArgs } from "node:util";

export interface BenchPlan {
  readonly preset: "full" | "quick" | "tiny";
  readonly out: string;
  /** Inventory sizes for the scan benchmark, ascending. */
  readonly sizes: readonly number[];
  readonly repeats: number;
  readonly scanConcurrency: number;
  readonly shellSample: number;
  readonly rotations: number;
  readonly rotationConcurrency: readonly number[];
  /** Must be one of `sizes`: the memory and latency benchmarks run when the inventory has this many entries. */
  readonly memoryEntries: number;
  readonly memoryCycles: number;
  readonly memoryEvery: number;
  readonly memoryListing: "auto" | "per-key";
  /** The second memory run's inventory (its own prefix): the daemon's floor, and RSS per 1,000 credentials. */
  readonly memorySmallEntries: number;
  /** Scans of the shipped CLI's own `serve` over the small inventory, 1 s apart (a cross-check of the bundle). */
  readonly memoryShippedScans: number;
  readonly latencyIntervalS: number;
  readonly latencySamples: number;
  /** Minutes to wait for other vitest / serve processes to finish before measuring (0: do not wait). */
  readonly waitMinutes: number;
}

export const USAGE = `Usage: npm run bench -- [--quick | --tiny] [options]

  (default)            the full run; writes BENCHMARKS.md (about 25 minutes on 2 cores)
  --quick              a short run with smaller sizes (about 2 minutes)
  --tiny               a smoke run (seconds), for the harness test
  --out FILE           where the Markdown goes (default BENCHMARKS.md)
  --sizes A,B,C        scan sizes (default 1000,5000,10000)
  --repeats N          timed scans per variant and size (median reported)
  --rotations N        rotations per concurrency level (default 200)
  --memory-cycles N    serve scan cycles for the memory benchmark (default 1000)
  --memory-entries N   inventory size of the memory and latency benchmarks (one of --sizes; default 10000)
  --memory-small N     inventory size of the second, small memory run (default 100)
  --memory-listing L   auto (detailed-metadata, default) or per-key
  --latency-samples N  flags timed in the latency benchmark (default 5)
  --shell-sample N     keys the shell loop reads (default 100)
  --wait-minutes N     wait up to N minutes for other test runs to end (default 15 full, 0 otherwise)`;

export function parsePlan(argv: readonly string[]): BenchPlan | "help" {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      quick: { type: "boolean" },
      tiny: { type: "boolean" },
      help: { type: "boolean", short: "h" },
      out: { type: "string" },
      sizes: { type: "string" },
      repeats: { type: "string" },
      rotations: { type: "string" },
      "memory-cycles": { type: "string" },
      "memory-entries": { type: "string" },
      "memory-listing": { type: "string" },
      "memory-small": { type: "string" },
      "latency-samples": { type: "string" },
      "shell-sample": { type: "string" },
      "wait-minutes": { type: "string" },
    },
    strict: true,
  });
  if (values.help) return "help";
  const preset = values.tiny ? "tiny" : values.quick ? "quick" : "full";
  const base = PRESETS[preset];
  const int = (v: string | undefined, fallback: number, name: string): number => {
    if (v === undefined) return fallback;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} must be a whole number`);
    return n;
  };
  const sizes =
    values.sizes === undefined ? base.sizes : values.sizes.split(",").map((s) => int(s.trim(), 0, "sizes"));
  const plan: BenchPlan = {
    ...base,
    preset,
    out: values.out ?? "BENCHMARKS.md",
    sizes: [...sizes].sort((a, b) => a - b),
    repeats: Math.max(1, int(values.repeats, base.repeats, "repeats")),
    rotations: Math.max(1, int(values.rotations, base.rotations, "rotations")),
    memoryCycles: Math.max(1, int(values["memory-cycles"], base.memoryCycles, "memory-cycles")),
    memoryEntries: int(values["memory-entries"], base.memoryEntries, "memory-entries"),
    memoryListing: values["memory-listing"] === "per-key" ? "per-key" : "auto",
    memorySmallEntries: Math.max(1, int(values["memory-small"], base.memorySmallEntries, "memory-small")),
    latencySamples: Math.max(1, int(values["latency-samples"], base.latencySamples, "latency-samples")),
    shellSample: Math.max(1, int(values["shell-sample"], base.shellSample, "shell-sample")),
    waitMinutes: int(values["wait-minutes"], base.waitMinutes, "wait-minutes"),
  };
  if (!plan.sizes.includes(plan.memoryEntries)) {
    throw new Error(`--memory-entries ${plan.memoryEntries} must be one of --sizes ${plan.sizes.join(",")}`);
  }
  if (plan.sizes.some((n) => n < 1)) throw new Error("--sizes must be positive");
  // Samples every 100 cycles as the issue asks; shorter runs take ten samples.
  const memoryEvery = plan.memoryCycles >= 200 ? 100 : Math.max(1, Math.floor(plan.memoryCycles / 10));
  return { ...plan, memoryEvery };
}

const PRESETS: Record<BenchPlan["preset"], Omit<BenchPlan, "preset" | "out">> = {
  full: {
    sizes: [1000, 5000, 10000],
    repeats: 3,
    scanConcurrency: 16,
    shellSample: 100,
    rotations: 200,
    rotationConcurrency: [1, 8],
    // The memory targets' size: 1,000 cycles over 10,000 entries take about 15 minutes here.
    memoryEntries: 10000,
    memoryCycles: 1000,
    memoryEvery: 100,
    memoryListing: "auto",
    memorySmallEntries: 100,
    memoryShippedScans: 30,
    latencyIntervalS: 5,
    latencySamples: 5,
    waitMinutes: 15,
  },
  quick: {
    sizes: [500, 1000, 2000],
    repeats: 2,
    scanConcurrency: 16,
    shellSample: 20,
    rotations: 40,
    rotationConcurrency: [1, 8],
    memoryEntries: 2000,
    memoryCycles: 300,
    memoryEvery: 100,
    memoryListing: "auto",
    memorySmallEntries: 100,
    memoryShippedScans: 10,
    latencyIntervalS: 2,
    latencySamples: 2,
    waitMinutes: 0,
  },
  tiny: {
    sizes: [25, 50],
    repeats: 1,
    scanConcurrency: 16,
    shellSample: 5,
    rotations: 4,
    rotationConcurrency: [1, 2],
    memoryEntries: 50,
    memoryCycles: 20,
    memoryEvery: 2,
    memoryListing: "auto",
    memorySmallEntries: 10,
    memoryShippedScans: 2,
    latencyIntervalS: 1,
    latencySamples: 1,
    waitMinutes: 0,
  },
};
