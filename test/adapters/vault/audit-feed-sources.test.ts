import { spawn } from "node:child_process";
import { appendFile, mkdtemp, rename, rm, stat, truncate, writeFile } from "node:fs/promises";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, describe, expect, it } from "vitest";
import {
  AuditFileFollower,
  AuditSocketListener,
  LineSplitter,
} from "../../../src/adapters/vault/audit-feed-sources.ts";

function collector() {
  const lines: string[] = [];
  let oversized = 0;
  return {
    lines,
    get oversized() {
      return oversized;
    },
    sink: { line: (t: string) => lines.push(t), oversized: () => oversized++ },
  };
}

async function until(cond: () => boolean, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await sleep(10);
  }
}

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe("LineSplitter", () => {
  it("joins lines split across chunks and drops a line over the cap without keeping it", () => {
    const c = collector();
    const s = new LineSplitter(c.sink, 10);
    s.push(Buffer.from('{"a"'));
    s.push(Buffer.from(":1}\r\n\n{b}\n0123"));
    s.push(Buffer.from("456789ABCDEF")); // over 10 bytes without a newline: dropped as it streams
    expect(s.pending).toBe(0);
    s.push(Buffer.from("GHIJ\nok\n"));
    expect(c.lines).toEqual(['{"a":1}', "{b}", "ok"]);
    expect(c.oversized).toBe(1);
  });
});

describe("AuditSocketListener", () => {
  it("takes lines from several TCP connections; one that stalls mid-line or sends garbage holds up no other", async () => {
    const c = collector();
    const listener = new AuditSocketListener({ kind: "tcp", host: "127.0.0.1", port: 0 }, c.sink);
    await listener.start();
    cleanups.push(() => listener.stop());
    const open = () =>
      new Promise<Socket>((resolve) => {
        const s: Socket = connect({ host: "127.0.0.1", port: listener.port }, () => resolve(s));
      });
    const staller = await open();
    staller.write('{"half": "a line that never ends');
    const garbage = await open();
    garbage.write(Buffer.alloc(3 * 1024 * 1024, 0x41)); // 3 MiB without a newline
    const good = await open();
    good.write('{"n":1}\n{"n":2}\n');
    await until(() => c.lines.length === 2);
    expect(c.lines).toEqual(['{"n":1}', '{"n":2}']);
    await until(() => c.oversized === 1);
    garbage.write('\n{"n":3}\n');
    await until(() => c.lines.length === 3);
    for (const s of [staller, garbage, good]) s.destroy();
  });

  it("listens on a unix socket with the configured mode, replacing a stale socket from a previous run", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "eca-feed-sock-"));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const sock = path.join(dir, "audit.sock");
    const c = collector();
    // A run killed with SIGKILL leaves its socket file behind.
    const crashed = spawn(process.execPath, [
      "-e",
      `require("node:net").createServer().listen(${JSON.stringify(sock)}, () => console.log("up"))`,
    ]);
    await new Promise((resolve) => crashed.stdout.once("data", resolve));
    crashed.kill("SIGKILL");
    await new Promise((resolve) => crashed.once("exit", resolve));
    expect((await stat(sock)).isSocket()).toBe(true);
    const listener = new AuditSocketListener({ kind: "unix", path: sock, mode: 0o660 }, c.sink);
    await listener.start();
    cleanups.push(() => listener.stop());
    expect((await stat(sock)).mode & 0o777).toBe(0o660);
    // A live listener's socket is never taken over.
    const rival = new AuditSocketListener({ kind: "unix", path: sock, mode: 0o600 }, c.sink);
    await expect(rival.start()).rejects.toThrow(/EADDRINUSE/);
    const s = connect({ path: sock });
    s.write('{"via":"unix"}\n');
    await until(() => c.lines.length === 1);
    s.destroy();
    // Something that is not a socket at the path is never removed.
    const file = path.join(dir, "not-a-socket");
    await writeFile(file, "keep me");
    const third = new AuditSocketListener({ kind: "unix", path: file, mode: 0o600 }, c.sink);
    await expect(third.start()).rejects.toThrow();
    expect((await stat(file)).isFile()).toBe(true);
  });
});

describe("AuditFileFollower", () => {
  it("starts at the end, follows appends, rotation (rename + new file) and truncation", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "eca-feed-file-"));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const log = path.join(dir, "audit.log");
    await writeFile(log, '{"old":1}\n');
    const c = collector();
    const f = new AuditFileFollower(log, c.sink, { pollMs: 20 });
    await f.start();
    cleanups.push(() => f.stop());
    await appendFile(log, '{"n":1}\n{"n":');
    await until(() => c.lines.length === 1);
    await appendFile(log, "2}\n");
    await until(() => c.lines.length === 2);
    // logrotate's default: rename, then the server reopens a new file (SIGHUP). A line written to the old
    // file just before the switch is still read.
    await rename(log, `${log}.1`);
    await appendFile(`${log}.1`, '{"n":3}\n');
    await writeFile(log, '{"n":4}\n');
    await until(() => c.lines.length === 4);
    // copytruncate: the same file cut to zero and written again.
    await truncate(log, 0);
    await sleep(60);
    await appendFile(log, '{"n":5}\n');
    await until(() => c.lines.length === 5);
    expect(c.lines).toEqual(['{"n":1}', '{"n":2}', '{"n":3}', '{"n":4}', '{"n":5}']);
  });

  it("waits for a file that is not there yet and reads it from its start", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "eca-feed-file-"));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const log = path.join(dir, "later.log");
    const c = collector();
    const f = new AuditFileFollower(log, c.sink, { pollMs: 20 });
    await f.start();
    cleanups.push(() => f.stop());
    await sleep(50);
    await writeFile(log, '{"first":1}\n');
    await until(() => c.lines.length === 1);
    expect(c.lines).toEqual(['{"first":1}']);
  });
});
