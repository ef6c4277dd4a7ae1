// The reader feed: a recorded audit stream (OpenBao 2.7's entry shape: a request and a response line per read,
// and other traffic besides) ingested three ways, side by side with a bare JSON.parse loop over the same lines:
//   - unpaced, in process: the parser and the book as fast as they go (events/s), against JSON.parse alone;
//   - paced at 5,000 events/s over a loopback socket from a separate sender process, into the real socket
//     listener: every line arrives, how far the feed falls behind the schedule, and the CPU it takes;
//   - memory per 1,000 readers held in the book, and the time of one flush of the whole book to Vault's shards.
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { AuditSocketListener } from "../src/adapters/vault/audit-feed-sources.ts";
import { KvV2 } from "../src/adapters/vault/kv-v2.ts";
import { VaultClient } from "../src/adapters/vault/vault-client.ts";
import { VaultReaderShards } from "../src/adapters/vault/vault-reader-shards.ts";
import { ReaderFeed } from "../src/app/reader-feed.ts";
import { SecretValue } from "../src/core/secret-value.ts";
import { systemClock } from "../src/core/time.ts";
import type { BenchVault } from "./bench-vault.ts";

export const FEED_RATE = 5_000;

export interface ReaderFeedResult {
  readonly lines: number;
  readonly avgLineBytes: number;
  /** Unpaced, in process: ours (parse + book) and the bare JSON.parse loop, lines per second. */
  readonly oursPerSec: number;
  readonly barePerSec: number;
  /** Paced over a loopback socket. */
  readonly pacedRate: number;
  readonly pacedSeconds: number;
  readonly pacedReceived: number;
  readonly pacedKept: number;
  /** How long after the sender's last line the feed had counted every line. */
  readonly pacedLagMs: number;
  /** CPU the receiving process spent, as a share of one core, while the stream ran. */
  readonly pacedCpuShare: number;
  /** Heap per 1,000 readers held in the book, and the shared (JSON) form's bytes per 1,000 readers. */
  readonly heapPerThousandKb: number;
  readonly sharedPerThousandKb: number;
  readonly bookReaders: number;
  /** One flush of that whole book into the shards (≤ 256 check-and-set writes). */
  readonly flushMs: number;
  readonly flushPaths: number;
}

const pathOf = (i: number, paths: number) => `api-credentials/team-${(i * 7) % 97}/app-${(i * 31) % paths}`;
const HMAC = (n: number) => `hmac-sha256:${n.toString(16).padStart(64, "0")}`;

/** The recorded stream: `reads` reads by `readers` readers over `paths` credentials, with other traffic mixed in. */
function recordedStream(reads: number, paths: number, readers: number): string[] {
  const lines: string[] = [];
  for (let i = 0; i < reads; i++) {
    const [request, response] = auditPair(i, pathOf(i, paths), (i * 13) % readers, i % 10 === 9);
    lines.push(request, response);
  }
  return lines;
}

/** The request and response lines of read `i` of `path` by reader `r` (a metadata read when `metadata`). */
function auditPair(i: number, p: string, r: number, metadata: boolean): [string, string] {
  const t0 = Date.now() - 60_000;
  const entity = r % 5 === 0 ? `e${r.toString(16).padStart(8, "0")}-b79b-ac3b-3a0b-17e553abd27a` : undefined;
  const auth = {
    client_token: HMAC(i + 1),
    accessor: HMAC(r + 1_000_000),
    display_name: entity ? "approle" : `token-app-${r}`,
    policies: ["default", "reader"],
    token_policies: ["default", "reader"],
    policy_results: {
      allowed: true,
      granting_policies: [{ name: "reader", namespace_id: "root", type: "acl" }],
    },
    ...(entity ? { entity_id: entity, metadata: { role_name: `role-${r}` } } : {}),
    token_type: "service",
    token_ttl: 2_764_800,
    token_issue_time: "2026-12-05T00:38:28Z",
  };
  const request = {
    id: `71c00b57-bcc5-e51a-8363-${i.toString(16).padStart(12, "0")}`,
    client_id: "yRs3XYVbfY7KUkwuM4RWODOzET+oksmL18dIymG8m94=",
    operation: "read",
    mount_point: "secret/",
    mount_type: "kv",
    mount_accessor: "kv_c3e7aca0",
    mount_running_version: "v2.7.2+builtin.bao",
    mount_class: "secret",
    client_token: auth.client_token,
    client_token_accessor: auth.accessor,
    namespace: { id: "root" },
    path: metadata ? `secret/metadata/${p}` : `secret/data/${p}`,
    remote_address: "127.0.0.1",
    remote_port: 37_702,
  };
  const time = new Date(t0 + (i % 50_000)).toISOString();
  return [
    JSON.stringify({ time, type: "request", auth, request }),
    JSON.stringify({
      time,
      type: "response",
      auth,
      request,
      response: {
        mount_point: "secret/",
        mount_type: "kv",
        data: {
          data: { client_id: HMAC(i + 7), client_secret: HMAC(i + 9) },
          metadata: {
            created_time: "2026-12-05T00:38:27.668819534Z",
            custom_metadata: null,
            deletion_time: "",
            destroyed: false,
            version: 1 + (i % 4),
          },
        },
      },
    }),
  ];
}

function newFeed(windowMs = 7 * 86_400_000): ReaderFeed {
  return new ReaderFeed({
    kvMount: "secret",
    prefixes: ["api-credentials"],
    namespace: undefined,
    ignore: [],
    clock: systemClock,
    windowMs,
    shareIntervalMs: 3_600_000,
  });
}

function heapUsed(): number {
  setFlagsFromString("--expose-gc");
  const gc = runInNewContext("gc") as () => void;
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

/** The sender: a separate process that writes the file's lines to the port at `rate` lines per second. */
const SENDER = `
const fs = require("node:fs"), net = require("node:net");
const [file, port, rate] = process.argv.slice(1);
const lines = fs.readFileSync(file, "utf8").split("\\n").filter(Boolean);
const s = net.connect(Number(port), "127.0.0.1", () => {
  let i = 0; const t0 = Date.now();
  const tick = () => {
    const due = Math.min(lines.length, Math.floor(((Date.now() - t0) * Number(rate)) / 1000));
    if (due > i) { s.write(lines.slice(i, due).join("\\n") + "\\n"); i = due; }
    if (i < lines.length) setTimeout(tick, 2);
    else s.end(() => { process.stdout.write(String(Date.now())); });
  };
  tick();
});`;

export async function benchReaderFeed(opts: {
  vault: BenchVault;
  dir: string;
  /** Reads in the recorded stream (each is two lines; one in ten is a metadata read). */
  reads: number;
  /** Seconds of the paced run at FEED_RATE. */
  pacedSeconds: number;
  /** Readers in the memory measurement. */
  bookReaders: number;
}): Promise<ReaderFeedResult> {
  const lines = recordedStream(opts.reads, 10_000, 2_000);
  const client = await VaultClient.connect({
    address: opts.vault.addr,
    auth: { method: "token", token: SecretValue.of(opts.vault.token), tokenFile: undefined },
  });
  const shards = new VaultReaderShards(
    new KvV2(client, "secret", { statePrefix: `bench-feed-${process.pid}` }),
  );
  const attach = (f: ReaderFeed) =>
    f.attach({ ownEntityId: undefined, ownDisplayName: "token-rotator", shards });
  const avgLineBytes = lines.reduce((n, l) => n + Buffer.byteLength(l), 0) / lines.length;

  // Unpaced: three rounds each, alternating, best of three (the machine is shared).
  let ours = Number.POSITIVE_INFINITY;
  let bare = Number.POSITIVE_INFINITY;
  let sink = 0;
  for (let round = 0; round < 3; round++) {
    const feed = newFeed();
    attach(feed);
    let t = performance.now();
    for (const l of lines) feed.line(l);
    ours = Math.min(ours, performance.now() - t);
    await feed.stop();
    t = performance.now();
    for (const l of lines) sink += (JSON.parse(l) as { time: string }).time.length;
    bare = Math.min(bare, performance.now() - t);
  }
  if (sink === 0) throw new Error("the bare loop parsed nothing");

  // Paced over a loopback socket, from another process.
  const pacedLines = lines.slice(0, Math.min(lines.length, FEED_RATE * opts.pacedSeconds));
  const file = path.join(opts.dir, "reader-feed-stream.jsonl");
  writeFileSync(file, `${pacedLines.join("\n")}\n`);
  const feed = newFeed();
  attach(feed);
  let counted = 0;
  let lastCountedAt = 0;
  const listener = new AuditSocketListener(
    { kind: "tcp", host: "127.0.0.1", port: 0 },
    {
      line: (text) => {
        feed.line(text);
        counted++;
        lastCountedAt = Date.now();
      },
      oversized: () => feed.oversized(),
    },
  );
  await listener.start();
  const cpu0 = process.cpuUsage();
  const wall0 = performance.now();
  const sender = spawn(process.execPath, ["-e", SENDER, file, String(listener.port), String(FEED_RATE)], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  let senderDone = "";
  sender.stdout.on("data", (c: Buffer) => {
    senderDone += c.toString();
  });
  await new Promise((resolve) => sender.once("close", resolve));
  const deadline = Date.now() + 10_000;
  while (counted < pacedLines.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  const cpu = process.cpuUsage(cpu0);
  const wall = performance.now() - wall0;
  await listener.stop();
  const pacedKept = feed.stats.kept;
  await feed.stop();

  // Memory per 1,000 readers: that many distinct readers (ten per path) through the real parser into a book.
  const memFeed = newFeed();
  attach(memFeed);
  const before = heapUsed();
  const pathsN = Math.max(1, Math.floor(opts.bookReaders / 10));
  for (let i = 0; i < opts.bookReaders; i++)
    memFeed.line(auditPair(i, `api-credentials/team-${i % 97}/app-${i % pathsN}`, i, false)[1]);
  const heapPerThousandKb = (heapUsed() - before) / (opts.bookReaders / 1000) / 1024;
  const memReaders = memFeed.readersKnown;
  await memFeed.stop();

  // A fresh prefix, so the flush writes every shard from nothing.
  const flushShards = new VaultReaderShards(
    new KvV2(client, "secret", { statePrefix: `bench-feed-flush-${process.pid}` }),
  );
  const flushFeed = newFeed();
  flushFeed.attach({ ownEntityId: undefined, ownDisplayName: "token-rotator", shards: flushShards });
  const flushReads = Math.min(opts.bookReaders, 50_000);
  const flushPaths = new Set<string>();
  for (let i = 0; i < flushReads; i++) if (i % 10 !== 9) flushPaths.add(pathOf(i, 10_000));
  for (const l of recordedStream(flushReads, 10_000, 5_000)) flushFeed.line(l);
  const tf = performance.now();
  await flushFeed.flush();
  const flushMs = performance.now() - tf;
  const listing = await flushShards.read("00");
  const sharedBytes = Buffer.byteLength(JSON.stringify([...listing.content].map(([p, m]) => [p, [...m]])));
  let sharedReaders = 0;
  for (const m of listing.content.values()) sharedReaders += m.size;
  await flushFeed.stop();
  await client.close();

  return {
    lines: lines.length,
    avgLineBytes,
    oursPerSec: lines.length / (ours / 1000),
    barePerSec: lines.length / (bare / 1000),
    pacedRate: FEED_RATE,
    pacedSeconds: pacedLines.length / FEED_RATE,
    pacedReceived: counted,
    pacedKept,
    pacedLagMs: Math.max(0, lastCountedAt - Number(senderDone || lastCountedAt)),
    pacedCpuShare: (cpu.user + cpu.system) / 1000 / wall,
    heapPerThousandKb,
    sharedPerThousandKb: sharedReaders === 0 ? 0 : sharedBytes / 1024 / (sharedReaders / 1000),
    bookReaders: memReaders,
    flushMs,
    flushPaths: flushPaths.size,
  };
}
