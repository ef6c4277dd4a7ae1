// What the numbers were measured on, and what else was running: written at the top of BENCHMARKS.md.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

export interface MachineInfo {
  readonly cpu: string;
  readonly cores: number;
  readonly memoryGb: number;
  readonly os: string;
  readonly node: string;
  readonly bao: string;
  readonly undici: string;
  readonly rotator: string;
  readonly commit: string;
}

const ROOT = path.resolve(import.meta.dirname, "..");

export function machineInfo(baoBinary: string): MachineInfo {
  const pkg = (p: string) =>
    (JSON.parse(readFileSync(path.join(ROOT, p), "utf8")) as { version: string }).version;
  return {
    cpu: os.cpus()[0]?.model.trim() ?? "unknown",
    cores: os.availableParallelism(),
    memoryGb: Math.round(os.totalmem() / 2 ** 30),
    os: `${osName()} (Linux ${os.release()})`,
    node: process.version,
    bao: tryRun(baoBinary, ["version"]).split("\n")[0] ?? "unknown",
    undici: pkg("node_modules/undici/package.json"),
    rotator: pkg("package.json"),
    commit: tryRun("git", ["-C", ROOT, "rev-parse", "--short", "HEAD"]) || "unknown",
  };
}

function osName(): string {
  try {
    const m = /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(readFileSync("/etc/os-release", "utf8"));
    return m?.[1] ?? os.type();
  } catch {
    return os.type();
  }
}

function tryRun(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  } catch {
    return "";
  }
}

/** Other test runs, daemons and demos on this machine (never this bench's own children, which start later). */
export function otherLoad(): string[] {
  const out = tryRun("pgrep", ["-fa", "vitest|cli.ts serve|run-demo"]);
  const mine = new Set([String(process.pid), String(process.ppid)]);
  return out
    .split("\n")
    .filter((l) => l.trim() !== "")
    .filter((l) => !mine.has(l.split(" ")[0] ?? ""))
    .map((l) => l.slice(0, 140));
}

/** Polls until no other run is seen or `minutes` pass; returns how long it waited and what was still there. */
export async function waitForQuiet(
  minutes: number,
  log: (line: string) => void,
): Promise<{ waitedS: number; still: string[] }> {
  const t0 = Date.now();
  let still = otherLoad();
  while (still.length > 0 && Date.now() - t0 < minutes * 60_000) {
    log(`waiting for ${still.length} other process(es) to finish (vitest/serve/demo)…`);
    await sleep(20_000);
    still = otherLoad();
  }
  return { waitedS: Math.round((Date.now() - t0) / 1000), still };
}

export function loadAverage(): string {
  return os
    .loadavg()
    .map((n) => n.toFixed(2))
    .join(", ");
}

export interface PhaseLoad {
  readonly phase: string;
  readonly seconds: number;
  /** Distinct other processes (vitest, serve, demo) seen at any sample during the phase. */
  readonly others: readonly string[];
  readonly maxLoad1: number;
}

/** Samples other runs and the 1-minute load average every few seconds, per benchmark phase. */
export class LoadMonitor {
  readonly #phases: Array<{ phase: string; t0: number; t1: number; others: Set<string>; maxLoad1: number }> =
    [];
  readonly #timer: NodeJS.Timeout;
  readonly #ownPids: () => ReadonlySet<string>;

  /** `ownPids`: this bench's child processes (its serve processes match the pattern too). */
  constructor(ownPids: () => ReadonlySet<string>, everyMs = 5_000) {
    this.#ownPids = ownPids;
    this.#timer = setInterval(() => this.#sample(), everyMs);
    this.#timer.unref();
  }

  phase(name: string): void {
    const now = performance.now();
    const last = this.#phases[this.#phases.length - 1];
    if (last !== undefined) last.t1 = now;
    this.#phases.push({ phase: name, t0: now, t1: now, others: new Set(), maxLoad1: 0 });
    this.#sample();
  }

  stop(): PhaseLoad[] {
    clearInterval(this.#timer);
    this.#sample();
    const last = this.#phases[this.#phases.length - 1];
    if (last !== undefined) last.t1 = performance.now();
    return this.#phases.map((p) => ({
      phase: p.phase,
      seconds: (p.t1 - p.t0) / 1000,
      others: [...p.others],
      maxLoad1: p.maxLoad1,
    }));
  }

  #sample(): void {
    const current = this.#phases[this.#phases.length - 1];
    if (current === undefined) return;
    const own = this.#ownPids();
    for (const line of otherLoad()) {
      const pid = line.split(" ")[0] ?? "";
      if (own.has(pid)) continue;
      // The command without its pid: one test run shows as one entry however often it is sampled.
      current.others.add(line.slice(pid.length + 1, pid.length + 90));
    }
    current.maxLoad1 = Math.max(current.maxLoad1, os.loadavg()[0] ?? 0);
  }
}
