// Benchmark 4b: flag-to-rotation latency inside the real `eca-rotator serve` (the CLI, unchanged) scanning the
// big inventory every `intervalS` seconds. Each sample writes rotate=now on one rotatable credential at a
// random moment of the interval (metadata merge-patch, as an operator's `vault kv metadata patch` does), then
// waits for the daemon's "rotation completed" log line; the audit file gives when the rotation started.
import { readFileSync } from "node:fs";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { freePort } from "../src/demo/dev-vault-server.ts";
import { writeConfig } from "./bench-config.ts";
import type { BenchSim } from "./bench-sim.ts";
import { median } from "./bench-stats.ts";
import { type BenchVault, MOUNT, seed } from "./bench-vault.ts";
import { spawnServe } from "./serve-process.ts";

const CLI = path.resolve(import.meta.dirname, "../src/cli.ts");

interface LatencySample {
  readonly flagToStartMs: number;
  readonly flagToDoneMs: number;
}

export interface LatencyResult {
  readonly entries: number;
  readonly intervalS: number;
  readonly samples: readonly LatencySample[];
  readonly medianScanMs: number;
  readonly startMedianMs: number;
  readonly startMaxMs: number;
  readonly doneMedianMs: number;
  readonly doneMaxMs: number;
}

export interface LatencyContext {
  readonly vault: BenchVault;
  readonly sim: BenchSim;
  readonly dir: string;
  /** The big inventory (already seeded) and how many entries it holds. */
  readonly prefix: string;
  readonly entries: number;
  readonly intervalS: number;
  readonly samples: number;
}

export async function benchFlagLatency(ctx: LatencyContext): Promise<LatencyResult> {
  const root = "bench/latency";
  const connPath = `${root}/conn/sim`;
  await ctx.vault.must("POST", `${MOUNT}/data/${connPath}`, {
    data: { client_id: ctx.sim.adminApp.consumerKey, client_secret: ctx.sim.adminApp.consumerSecret },
  });
  const creds: string[] = [];
  const entries = [];
  for (let i = 0; i < ctx.samples; i++) {
    const app = await ctx.sim.createApp(`Bench_Latency_${i}`);
    const p = `${root}/creds/app-${i}`;
    creds.push(p);
    entries.push({
      path: p,
      data: { client_id: app.consumerKey, api_key: app.consumerSecret },
      customMetadata: { provider: "salesforce-eca", eca_app_id: app.appId },
    });
  }
  await seed(ctx.vault, entries);

  const port = await freePort();
  const auditFile = path.join(ctx.dir, "latency-audit.jsonl");
  const file = writeConfig({
    dir: ctx.dir,
    name: "latency",
    prefix: `${ctx.prefix}, ${root}/creds`,
    statePrefix: `${root}/state`,
    simUrl: ctx.sim.url,
    connPath,
    rotation: [`scan_interval: ${ctx.intervalS}s`, "verify_timeout: 30s"],
    extraYaml: [
      `server: { listen: "127.0.0.1:${port}" }`,
      "log: { level: debug }",
      "audit:",
      `  file: ${auditFile}`,
    ],
  });
  const serve = spawnServe([CLI, "serve", "--config", file], {
    PATH: process.env["PATH"] ?? "",
    HOME: process.env["HOME"] ?? "/tmp",
    VAULT_ADDR: ctx.vault.addr,
    VAULT_TOKEN: ctx.vault.token,
  });
  const scanMs: number[] = [];
  serve.onLog((rec) => {
    if (rec.msg === "scan finished") scanMs.push(Number(rec["ms"]));
  });
  const samples: LatencySample[] = [];
  const total = ctx.entries + ctx.samples;
  try {
    const first = await serve.waitFor((r) => r.msg === "scan finished", 120_000);
    if (first.rec["credentials"] !== total) {
      throw new Error(`serve scanned ${String(first.rec["credentials"])} entries, expected ${total}`);
    }
    for (const p of creds) {
      await sleep(Math.random() * ctx.intervalS * 1000);
      const done = serve.waitFor(
        (r) => r["path"] === p && typeof r.msg === "string" && r.msg.startsWith("rotation "),
        ctx.intervalS * 1000 * 3 + 60_000,
      );
      const flaggedAt = Date.now();
      const flaggedPerf = performance.now();
      const res = await ctx.vault.patch(`${MOUNT}/metadata/${p}`, { custom_metadata: { rotate: "now" } });
      if (res.status >= 300) throw new Error(`flagging ${p} → HTTP ${res.status}`);
      const { rec, at } = await done;
      if (rec.msg !== "rotation completed") throw new Error(`${p}: ${rec.msg} ${JSON.stringify(rec)}`);
      const started = startedAt(auditFile, p);
      samples.push({ flagToStartMs: started - flaggedAt, flagToDoneMs: at - flaggedPerf });
    }
  } finally {
    await serve.stop();
  }
  const starts = samples.map((s) => s.flagToStartMs);
  const dones = samples.map((s) => s.flagToDoneMs);
  return {
    entries: total,
    intervalS: ctx.intervalS,
    samples,
    medianScanMs: median(scanMs),
    startMedianMs: median(starts),
    startMaxMs: Math.max(...starts),
    doneMedianMs: median(dones),
    doneMaxMs: Math.max(...dones),
  };
}

function startedAt(auditFile: string, credPath: string): number {
  const lines = readFileSync(auditFile, "utf8")
    .split("\n")
    .filter((l) => l !== "");
  for (const line of lines.reverse()) {
    const e = JSON.parse(line) as { type: string; path: string; time: string };
    if (e.type === "rotation.started" && e.path === credPath) return Date.parse(e.time);
  }
  throw new Error(`no rotation.started for ${credPath} in the audit file`);
}
