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
