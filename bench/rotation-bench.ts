// Benchmark 2: rotation cost. `count` rotations (soak 0, the simulator in its own process without latency),
// one at a time and then `concurrency` at a time, each through the real engine built by buildRotationStack
// (Vault stores, Salesforce client, audit file), exactly as `rotate` and the daemon run it.
// Per rotation: wall time, and the rotator's own work = wall time minus the union of the time its own HTTP
// requests were in flight (request-meter.ts attributes each request to the rotation that created it).
import { mkdirSync } from "node:fs";
import path from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { JsonlFileAuditSink } from "../src/adapters/audit/jsonl-file-audit-sink.ts";
import { buildRotationStack, connectVault } from "../src/app/compose.ts";
import { readConfig, writeConfig } from "./bench-config.ts";
import type { BenchSim } from "./bench-sim.ts";
import { percentile, pool } from "./bench-stats.ts";
import { type BenchVault, MOUNT, seed } from "./bench-vault.ts";
import { callKind, type RequestMeter, unionMs } from "./request-meter.ts";

export interface RotationRow {
  readonly concurrency: number;
  readonly rotations: number;
  readonly completed: number;
  readonly wallP50: number;
  readonly wallP95: number;
  readonly ownP50: number;
  readonly ownP95: number;
  /** Part of the own work spent waiting for audit-file appends (hash chain, lock, fdatasync; group commit). */
  readonly auditP50: number;
  readonly auditP95: number;
  /** Audit lines per fdatasync: above 1 when lines that arrived together shared one (group commit). */
  readonly auditLinesPerSync: number;
  /** Event-loop delay while the rotations ran (how long a ready callback waited for the loop). */
  readonly loopDelayP50: number;
  readonly loopDelayP99: number;
  /** CPU time of this process (user + system) per rotation: everything the rotator computes. */
  readonly cpuMsPerRotation: number;
  readonly vaultCallsPerRotation: number;
  readonly salesforceCallsPerRotation: number;
  /**
   * What most rotations cost (the median of each rotation's own count): the mean also carries the one-time
   * calls of a process's first rotation (the admin login, the org id), spread over however many rotations ran.
   */
  readonly vaultCallsMedian: number;
  readonly salesforceCallsMedian: number;
  /** Requests per rotation by what they were for (callKind), Vault's and Salesforce's, in first-seen order. */
  readonly callsByKind: ReadonlyArray<{
    readonly system: "Vault" | "Salesforce";
    readonly kind: string;
    readonly perRotation: number;
  }>;
  /** The simulator's own API + token request counters (a cross-check of the client-side count). */
  readonly simRequestsPerRotation: number;
  readonly totalSeconds: number;
  readonly rotationsPerSecond: number;
}

export interface RotationContext {
  readonly vault: BenchVault;
  readonly sim: BenchSim;
  readonly meter: RequestMeter;
  readonly dir: string;
}

export async function benchRotations(
  ctx: RotationContext,
  count: number,
  concurrency: number,
): Promise<RotationRow> {
  const root = `bench/rot-c${concurrency}`;
  const prefix = `${root}/creds`;
  const connPath = `${root}/conn/sim`;
  await ctx.vault.must("POST", `${MOUNT}/data/${connPath}`, {
    data: { client_id: ctx.sim.adminApp.consumerKey, client_secret: ctx.sim.adminApp.consumerSecret },
  });
  const paths: string[] = [];
  const entries = [];
  for (let i = 0; i < count; i++) {
    const app = await ctx.sim.createApp(`Bench_C${concurrency}_${i}`);
    const p = `${prefix}/app-${String(i).padStart(4, "0")}`;
    paths.push(p);
    entries.push({
      path: p,
      data: { client_id: app.consumerKey, api_key: app.consumerSecret },
      customMetadata: { provider: "salesforce-eca", eca_app_id: app.appId },
    });
  }
  await seed(ctx.vault, entries);

  const auditDir = path.join(ctx.dir, `audit-c${concurrency}`);
  mkdirSync(auditDir, { recursive: true });
  const file = writeConfig({
    dir: ctx.dir,
    name: `rotate-c${concurrency}`,
    prefix,
    statePrefix: `${root}/state`,
    simUrl: ctx.sim.url,
    connPath,
    rotation: [`concurrency: ${concurrency}`, "verify_timeout: 30s"],
    extraYaml: ["audit:", `  file: ${path.join(auditDir, "audit.jsonl")}`],
  });
  const cfg = readConfig(file, ctx.vault.addr, ctx.vault.token);
  const vault = await connectVault(cfg);
  const warnings: string[] = [];
  // The sink buildRotationStack would build from audit.file, wrapped only to time each emit per rotation.
  let syncs = 0;
  let synced = 0;
  const fileSink = new JsonlFileAuditSink(path.join(auditDir, "audit.jsonl"), {
    onCommit: (lines) => {
      syncs += 1;
      synced += lines;
    },
  });
  const auditMs = new Map<string, number>();
  const stack = await buildRotationStack(cfg, vault, {
    stderr: (line) => warnings.push(line),
    audit: {
      async emit(event) {
        const t = performance.now();
        try {
          await fileSink.emit(event);
        } finally {
          auditMs.set(event.rotationId, (auditMs.get(event.rotationId) ?? 0) + performance.now() - t);
        }
      },
    },
  });

  const walls: number[] = [];
  const owns: number[] = [];
  const audits: number[] = [];
  let vaultCalls = 0;
  let sfCalls = 0;
  const vaultPer: number[] = [];
  const sfPer: number[] = [];
  const kinds = new Map<string, { system: "Vault" | "Salesforce"; kind: string; count: number }>();
  let completed = 0;
  const failures: string[] = [];
  const simBefore = await ctx.sim.counters();
  const loop = monitorEventLoopDelay({ resolution: 5 });
  loop.enable();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  try {
    await pool(paths, concurrency, async (p) => {
      const started = performance.now();
      const { value: outcome, scope } = await ctx.meter.within(() =>
        stack.engine.start(p, { mode: "standard", trigger: "cli", actor: "cli" }),
      );
      const wall = performance.now() - started;
      walls.push(wall);
      owns.push(Math.max(0, wall - unionMs(scope.intervals)));
      vaultCalls += scope.calls.get(ctx.vault.addr) ?? 0;
      sfCalls += scope.calls.get(ctx.sim.url) ?? 0;
      vaultPer.push(scope.calls.get(ctx.vault.addr) ?? 0);
      sfPer.push(scope.calls.get(ctx.sim.url) ?? 0);
      for (const r of scope.requests) {
        const system = r.origin === ctx.vault.addr ? "Vault" : "Salesforce";
        const kind = callKind(r, ctx.vault.addr, `${root}/state`);
        const key = `${system} ${kind}`;
        const seen = kinds.get(key) ?? { system, kind, count: 0 };
        seen.count += 1;
        kinds.set(key, seen);
      }
      audits.push(outcome.rotationId === undefined ? 0 : (auditMs.get(outcome.rotationId) ?? 0));
      if (outcome.kind === "completed") completed += 1;
      else failures.push(`${p}: ${outcome.kind}${"code" in outcome ? ` ${outcome.code}` : ""}`);
    });
  } finally {
    await stack.close();
    await fileSink.flush();
    await vault.close();
  }
  const totalMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  loop.disable();
  const simAfter = await ctx.sim.counters();
  if (failures.length > 0) {
    throw new Error(`${failures.length} rotations did not complete: ${failures.slice(0, 3).join("; ")}`);
  }
  return {
    concurrency,
    rotations: count,
    completed,
    wallP50: percentile(walls, 50),
    wallP95: percentile(walls, 95),
    ownP50: percentile(owns, 50),
    ownP95: percentile(owns, 95),
    auditP50: percentile(audits, 50),
    auditP95: percentile(audits, 95),
    auditLinesPerSync: syncs === 0 ? Number.NaN : synced / syncs,
    loopDelayP50: loop.percentile(50) / 1e6,
    loopDelayP99: loop.percentile(99) / 1e6,
    cpuMsPerRotation: (cpu.user + cpu.system) / 1000 / count,
    vaultCallsPerRotation: vaultCalls / count,
    salesforceCallsPerRotation: sfCalls / count,
    vaultCallsMedian: percentile(vaultPer, 50),
    salesforceCallsMedian: percentile(sfPer, 50),
    callsByKind: [...kinds.values()].map(({ system, kind, count: n }) => ({
      system,
      kind,
      perRotation: n / count,
    })),
    simRequestsPerRotation:
      (simAfter.apiCalls + simAfter.tokenRequests - simBefore.apiCalls - simBefore.tokenRequests) / count,
    totalSeconds: totalMs / 1000,
    rotationsPerSecond: (count / totalMs) * 1000,
  };
}
