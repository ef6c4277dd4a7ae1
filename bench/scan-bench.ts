// Benchmark 1 and 4 (scaling): one scan of N managed entries, three ways at the same concurrency:
//   ours      collectInventory over VaultMetadataSource (per-key GETs, and OpenBao's detailed-metadata LIST),
//             exactly as `scan`, `run --once` and each `serve` tick do it (client built by connectVault);
//   bare      the limit: a bare undici loop sending the very same LISTs and GETs, bodies read and dropped;
//   shell     the shell loop an operator would write (`bao kv list`, then `bao kv metadata get` per key, through jq), on a sample.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { Agent, request } from "undici";
import { connectVault } from "../src/app/compose.ts";
import { DEFAULT_CLASSIFY_DEFAULTS } from "../src/core/inventory/classify.ts";
import { collectInventory } from "../src/core/inventory/collect-inventory.ts";
import { readConfig, writeConfig } from "./bench-config.ts";
import { median } from "./bench-stats.ts";
import { type BenchVault, MOUNT } from "./bench-vault.ts";
import type { RequestMeter } from "./request-meter.ts";

const run = promisify(execFile);

interface ScanMeasure {
  /** Median wall time of one scan. */
  readonly ms: number;
  readonly runs: readonly number[];
  readonly credsPerSec: number;
  readonly requestsPerCred: number;
  /** CPU time (user + system) of this process per credential: the client's own cost, median of the runs. */
  readonly cpuUsPerCred: number;
}

export interface ScanRow {
  readonly n: number;
  readonly concurrency: number;
  readonly oursPerKey: ScanMeasure;
  readonly oursDetailed: ScanMeasure;
  readonly barePerKey: ScanMeasure;
  readonly bareDetailed: ScanMeasure;
}

export interface ScanContext {
  readonly vault: BenchVault;
  readonly meter: RequestMeter;
  readonly dir: string;
  readonly prefix: string;
  readonly concurrency: number;
  readonly repeats: number;
}

/** Runs every variant `repeats` times, interleaved (so drift from other load hits all alike), after a warm-up. */
export async function benchScan(ctx: ScanContext, n: number): Promise<ScanRow> {
  const variants: Record<string, () => Promise<number>> = {};
  const closers: Array<() => Promise<void>> = [];
  for (const listing of ["per-key", "detailed"] as const) {
    const file = writeConfig({
      dir: ctx.dir,
      name: `scan-${listing}`,
      prefix: ctx.prefix,
      statePrefix: "bench/state-scan",
      listing,
      scanConcurrency: ctx.concurrency,
    });
    const cfg = readConfig(file, ctx.vault.addr, ctx.vault.token);
    const stack = await connectVault(cfg);
    closers.push(() => stack.close());
    variants[`ours-${listing}`] = async () => {
      const inv = await collectInventory(
        stack.source,
        cfg.vault.prefixes,
        new Date(),
        DEFAULT_CLASSIFY_DEFAULTS,
      );
      if (inv.items.length !== n) throw new Error(`scan saw ${inv.items.length} entries, expected ${n}`);
      if (stack.source.listingUsed !== listing)
        throw new Error(`scan used ${stack.source.listingUsed} listing`);
      return inv.items.length;
    };
  }
  const agent = new Agent({ headersTimeout: 10_000, bodyTimeout: 10_000 });
  closers.push(() => agent.close());
  variants["bare-per-key"] = () => barePerKey(ctx, agent);
  variants["bare-detailed"] = () => bareDetailed(ctx, agent);

  const results = new Map<string, { runs: number[]; cpu: number[]; requests: number }>();
  try {
    for (const fn of Object.values(variants)) await fn(); // warm-up: connections, JIT, mount check
    for (let r = 0; r < ctx.repeats; r++) {
      for (const [name, fn] of Object.entries(variants)) {
        const before = ctx.meter.count(ctx.vault.addr);
        const cpu0 = process.cpuUsage();
        const t0 = performance.now();
        const seen = await fn();
        const ms = performance.now() - t0;
        const cpu = process.cpuUsage(cpu0);
        if (seen !== n) throw new Error(`${name} saw ${seen} entries, expected ${n}`);
        const entry = results.get(name) ?? { runs: [], cpu: [], requests: 0 };
        entry.runs.push(ms);
        entry.cpu.push((cpu.user + cpu.system) / n);
        entry.requests = ctx.meter.count(ctx.vault.addr) - before;
        results.set(name, entry);
      }
    }
  } finally {
    for (const close of closers) await close();
  }
  const measure = (name: string): ScanMeasure => {
    const r = results.get(name);
    if (r === undefined) throw new Error(`no result for ${name}`);
    const ms = median(r.runs);
    return {
      ms,
      runs: r.runs,
      credsPerSec: (n / ms) * 1000,
      requestsPerCred: r.requests / n,
      cpuUsPerCred: median(r.cpu),
    };
  };
  return {
    n,
    concurrency: ctx.concurrency,
    oursPerKey: measure("ours-per-key"),
    oursDetailed: measure("ours-detailed"),
    barePerKey: measure("bare-per-key"),
    bareDetailed: measure("bare-detailed"),
  };
}

async function send(ctx: ScanContext, agent: Agent, method: "GET" | "LIST", apiPath: string) {
  return request(`${ctx.vault.addr}/v1/${apiPath}`, {
    method: method as "GET",
    headers: { "x-vault-token": ctx.vault.token, "x-vault-request": "true" },
    dispatcher: agent,
  });
}

/** The folder walk, then every key's metadata GET with `concurrency` in flight; bodies are not parsed. */
async function barePerKey(ctx: ScanContext, agent: Agent): Promise<number> {
  let read = 0;
  const inFlight = new Set<Promise<void>>();
  const walk = async (folder: string): Promise<void> => {
    const res = await send(ctx, agent, "LIST", `${MOUNT}/metadata/${folder}/`);
    const keys = ((await res.body.json()) as { data: { keys: string[] } }).data.keys;
    for (const key of keys) {
      if (key.endsWith("/")) {
        await walk(`${folder}/${key.slice(0, -1)}`);
        continue;
      }
      const p: Promise<void> = send(ctx, agent, "GET", `${MOUNT}/metadata/${folder}/${key}`)
        .then((r) => r.body.dump())
        .then(() => {
          read += 1;
          inFlight.delete(p);
        });
      inFlight.add(p);
      if (inFlight.size >= ctx.concurrency) await Promise.race(inFlight);
    }
  };
  await walk(ctx.prefix);
  await Promise.all(inFlight);
  return read;
}

/** The same detailed-metadata LISTs as ours; the body is parsed only far enough to find sub-folders. */
async function bareDetailed(ctx: ScanContext, agent: Agent): Promise<number> {
  const walk = async (folder: string): Promise<number> => {
    const res = await send(ctx, agent, "LIST", `${MOUNT}/detailed-metadata/${folder}/`);
    const keys = ((await res.body.json()) as { data: { keys: string[] } }).data.keys;
    let count = 0;
    for (const key of keys) {
      count += key.endsWith("/") ? await walk(`${folder}/${key.slice(0, -1)}`) : 1;
    }
    return count;
  };
  return walk(ctx.prefix);
}

export interface ShellLoopResult {
  readonly sample: number;
  readonly ms: number;
  readonly msPerCred: number;
  readonly credsPerSec: number;
  readonly invocations: number;
  readonly outputLines: number;
}

/**
 * The operator's shell loop, verbatim apart from `vault`→`bao` and the folder: one `bao kv list` of a folder, then
 * `bao kv metadata get` + jq per key, sequential. Limited to the first `sample` keys of the folder.
 */
export async function benchShellLoop(
  vault: BenchVault,
  folder: string,
  sample: number,
): Promise<ShellLoopResult> {
  const script = [
    "set -euo pipefail",
    `bao kv list -format=json "${MOUNT}/${folder}/" | jq -r '.[]' | head -n "$SAMPLE" | while read key; do`,
    `bao kv metadata get -format=json "${MOUNT}/${folder}/$key" | \\`,
    `jq -r --arg key "$key" '[$key, .data.created_time, .data.current_version] | @tsv'`,
    "done",
  ].join("\n");
  const env = {
    PATH: process.env["PATH"] ?? "",
    HOME: process.env["HOME"] ?? "/tmp",
    BAO_ADDR: vault.addr,
    BAO_TOKEN: vault.token,
    VAULT_ADDR: vault.addr,
    VAULT_TOKEN: vault.token,
    SAMPLE: String(sample),
  };
  const t0 = performance.now();
  const { stdout } = await run("bash", ["-c", script], { env, maxBuffer: 16 * 1024 * 1024 });
  const ms = performance.now() - t0;
  const outputLines = stdout.split("\n").filter((l) => l.trim() !== "").length;
  if (outputLines !== sample)
    throw new Error(`the shell loop printed ${outputLines} lines, expected ${sample}`);
  return {
    sample,
    ms,
    msPerCred: ms / sample,
    credsPerSec: (sample / ms) * 1000,
    invocations: 1 + sample,
    outputLines,
  };
}
