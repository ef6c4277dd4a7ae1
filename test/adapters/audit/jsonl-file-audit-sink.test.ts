// JsonlFileAuditSink on real files in a temp folder, including other processes appending to the same file.
import { execFile, spawn } from "node:child_process";
import { mkdtemp, readFile, rm, stat, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  AuditChainKey,
  JsonlFileAuditSink,
  verifyAuditChain,
} from "../../../src/adapters/audit/jsonl-file-audit-sink.ts";
import type { AuditEvent } from "../../../src/core/rotation/rotation-state.ts";
import { SecretValue } from "../../../src/core/secret-value.ts";

const CANARY = "test-secret-canary-audit";
const KEY_CANARY = "test-secret-canary-chain-key-5d0c2b7e9a41f386";
const KEY = AuditChainKey.of(KEY_CANARY);
const SINK_MODULE = path.resolve(import.meta.dirname, "../../../src/adapters/audit/jsonl-file-audit-sink.ts");
const CHAIN_MODULE = path.resolve(
  import.meta.dirname,
  "../../../src/adapters/audit/jsonl-file-audit-sink.ts",
);

function event(i: number, over: Partial<AuditEvent> = {}): AuditEvent {
  return {
    type: "rotation.staged",
    time: "2026-03-01T10:00:00.000Z",
    rotationId: `rot-${i}`,
    path: "api-credentials/crm",
    provider: "salesforce-eca",
    mode: "standard",
    trigger: "schedule",
    actor: "scheduler",
    step: "staged",
    stagedId: "0ugWt00000000w5",
    ...over,
  };
}

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "audit-sink-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function lines(file: string): Promise<string[]> {
  return (await readFile(file, "utf8")).split("\n");
}

describe("JsonlFileAuditSink", () => {
  it("writes 200 concurrent emits as 200 lines in emit order with a valid chain", async () => {
    const file = path.join(dir, "nested", "deeper", "audit.jsonl");
    const sink = new JsonlFileAuditSink(file);
    await Promise.all(Array.from({ length: 200 }, (_, i) => sink.emit(event(i))));
    const all = await lines(file);
    expect(all.at(-1)).toBe("");
    expect(all).toHaveLength(201);
    expect(all.slice(0, -1).map((l) => JSON.parse(l).rotationId)).toEqual(
      Array.from({ length: 200 }, (_, i) => `rot-${i}`),
    );
    expect(verifyAuditChain(all)).toEqual({ ok: true, count: 200, keyed: 0, authenticated: false });
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect((await stat(path.dirname(file))).mode & 0o777).toBe(0o700);
  });

  it("writes the event's members, then alg, prev and hash, and leaves out absent ones", async () => {
    const file = path.join(dir, "audit.jsonl");
    await new JsonlFileAuditSink(file).emit(event(1, { kvVersion: 8, errorCode: undefined }));
    const line = JSON.parse((await lines(file))[0] ?? "");
    expect(Object.keys(line)).toEqual([
      "type",
      "time",
      "rotationId",
      "path",
      "provider",
      "mode",
      "trigger",
      "actor",
      "step",
      "kvVersion",
      "stagedId",
      "alg",
      "prev",
      "hash",
    ]);
    expect(line.kvVersion).toBe(8);
    expect(line.alg).toBe("sha256");
  });

  it("writes concurrent emits in emit order, each durable when its promise resolves (group commit)", async () => {
    const file = path.join(dir, "group.jsonl");
    const sink = new JsonlFileAuditSink(file);
    const ids = Array.from({ length: 60 }, (_, i) => i);
    await Promise.all(ids.map((i) => sink.emit(event(i))));
    const written = await lines(file);
    expect(verifyAuditChain(written)).toEqual({ ok: true, count: 60, keyed: 0, authenticated: false });
    const order = written
      .filter((l) => l !== "")
      .map((l) => (JSON.parse(l) as { rotationId: string }).rotationId);
    expect(order).toEqual(ids.map((i) => event(i).rotationId));
  });

  it("gives lines that arrive together one write and one fdatasync, and acknowledges none before its sync", async () => {
    const file = path.join(dir, "batched.jsonl");
    const commits: number[] = [];
    let synced = 0;
    const sink = new JsonlFileAuditSink(file, {
      onCommit: (n) => {
        commits.push(n);
        synced += n;
      },
    });
    // When an emit resolves, the fdatasync that covers its line has run and the line is in the file.
    const acked: Array<{ i: number; synced: number; inFile: boolean }> = [];
    const emitAt = (i: number) =>
      sink.emit(event(i)).then(async () => {
        acked.push({ i, synced, inFile: (await readFile(file, "utf8")).includes(`"rot-${i}"`) });
      });
    // 100 emits in one turn of the event loop, then 20 more from separate turns while those are written.
    const burst = Array.from({ length: 100 }, (_, i) => emitAt(i));
    const spread = Array.from(
      { length: 20 },
      (_, j) => new Promise<void>((resolve) => setTimeout(() => resolve(emitAt(100 + j)), j)),
    );
    await Promise.all([...burst, ...spread]);

    expect(commits[0]).toBe(100);
    expect(commits.reduce((a, b) => a + b, 0)).toBe(120);
    expect(commits.length).toBeLessThan(120);
    const all = await lines(file);
    expect(verifyAuditChain(all)).toEqual({ ok: true, count: 120, keyed: 0, authenticated: false });
    const position = new Map(all.slice(0, -1).map((l, k) => [JSON.parse(l).rotationId as string, k + 1]));
    for (const a of acked) {
      expect(a.inFile).toBe(true);
      expect(a.synced).toBeGreaterThanOrEqual(position.get(`rot-${a.i}`) ?? Number.POSITIVE_INFINITY);
    }
  });

  it("rejects every emit of a batch whose write fails, and leaves the file at its last acknowledged line", async () => {
    const file = path.join(dir, "full.jsonl");
    // A real short write followed by EFBIG: the child may not grow any file past 2 KiB (ulimit -f counts KiB).
    const script = `
      const { JsonlFileAuditSink } = await import(${JSON.stringify(SINK_MODULE)});
      const sink = new JsonlFileAuditSink(${JSON.stringify(file)});
      const e = (i) => ({ type: "rotation.started", time: "2026-03-01T10:00:00.000Z", rotationId: "r-" + i,
        path: "p", provider: "salesforce-eca", mode: "standard", trigger: "cli", actor: "cli", step: "claimed" });
      const outcome = (p) => p.then(() => "ok", (err) => err.code + " " + err.retryable);
      const first = await Promise.all([0, 1].map((i) => outcome(sink.emit(e(i)))));
      const batch = await Promise.all([2, 3, 4, 5, 6, 7, 8, 9].map((i) => outcome(sink.emit(e(i)))));
      const after = await outcome(sink.emit(e(10)));
      console.log(JSON.stringify({ first, batch, after }));
    `;
    const { stdout } = await promisify(execFile)("bash", [
      "-c",
      'ulimit -f 2 && exec "$0" --input-type=module -e "$1"',
      process.execPath,
      script,
    ]);
    expect(JSON.parse(stdout)).toEqual({
      first: ["ok", "ok"],
      batch: Array(8).fill("AUDIT_FAILED true"),
      after: "ok",
    });
    const all = await lines(file);
    expect(verifyAuditChain(all)).toEqual({ ok: true, count: 3, keyed: 0, authenticated: false });
    expect(all.slice(0, -1).map((l) => JSON.parse(l).rotationId)).toEqual(["r-0", "r-1", "r-10"]);
  });

  it("continues the chain of an existing file when reopened", async () => {
    const file = path.join(dir, "audit.jsonl");
    const first = new JsonlFileAuditSink(file);
    for (let i = 0; i < 3; i++) await first.emit(event(i));
    const second = new JsonlFileAuditSink(file, { fsync: false });
    await Promise.all([second.emit(event(3)), second.emit(event(4))]);
    await first.emit(event(5)); // the first sink notices that the file grew meanwhile
    expect(verifyAuditChain(await lines(file))).toEqual({
      ok: true,
      count: 6,
      keyed: 0,
      authenticated: false,
    });
  });

  it("keeps one chain when other processes append to the same file at the same time", async () => {
    const file = path.join(dir, "shared.jsonl");
    const script = `
      const { JsonlFileAuditSink } = await import(${JSON.stringify(SINK_MODULE)});
      const sink = new JsonlFileAuditSink(${JSON.stringify(file)});
      const e = (i) => ({ type: "rotation.started", time: "2026-03-01T10:00:00.000Z", rotationId: process.argv[1] + "-" + i,
        path: "p", provider: "salesforce-eca", mode: "standard", trigger: "cli", actor: "cli", step: "claimed" });
      await Promise.all(Array.from({ length: 100 }, (_, i) => sink.emit(e(i))));
    `;
    const run = promisify(execFile);
    const here = new JsonlFileAuditSink(file);
    await Promise.all([
      run(process.execPath, ["--input-type=module", "-e", script, "child-a"]),
      run(process.execPath, ["--input-type=module", "-e", script, "child-b"]),
      Promise.all(Array.from({ length: 100 }, (_, i) => here.emit(event(i)))),
    ]);
    const all = await lines(file);
    expect(verifyAuditChain(all)).toEqual({ ok: true, count: 300, keyed: 0, authenticated: false });
    const ids = all.slice(0, -1).map((l) => JSON.parse(l).rotationId as string);
    for (const who of ["child-a", "rot"]) {
      const mine = ids.filter((id) => id.startsWith(`${who}-`));
      expect(mine).toEqual(Array.from({ length: 100 }, (_, i) => `${who}-${i}`));
    }
  });

  it("takes over a lock left by a killed process", async () => {
    const file = path.join(dir, "audit.jsonl");
    const dead = spawn(process.execPath, ["-e", ""]);
    await new Promise((resolve) => dead.on("exit", resolve));
    await writeFile(`${file}.lock`, String(dead.pid));
    const old = new Date(Date.now() - 60_000);
    await utimes(`${file}.lock`, old, old);
    await new JsonlFileAuditSink(file, { lockTimeoutMs: 2_000 }).emit(event(1));
    expect(verifyAuditChain(await lines(file))).toEqual({
      ok: true,
      count: 1,
      keyed: 0,
      authenticated: false,
    });
  });

  it("fails with AUDIT_FAILED while a live process holds the lock, and writes nothing", async () => {
    const file = path.join(dir, "audit.jsonl");
    await writeFile(`${file}.lock`, String(process.pid));
    const sink = new JsonlFileAuditSink(file, { lockTimeoutMs: 100 });
    await expect(sink.emit(event(1))).rejects.toMatchObject({ code: "AUDIT_FAILED", retryable: true });
    await rm(`${file}.lock`);
    await sink.emit(event(2)); // a failed emit does not block the queue
    expect(verifyAuditChain(await lines(file))).toEqual({
      ok: true,
      count: 1,
      keyed: 0,
      authenticated: false,
    });
  });

  it("refuses to append to a file that ends in an incomplete line, and leaves it as it was", async () => {
    const file = path.join(dir, "audit.jsonl");
    await new JsonlFileAuditSink(file).emit(event(1));
    const torn = `${await readFile(file, "utf8")}{"type":"rotation.sta`;
    await writeFile(file, torn);
    await expect(new JsonlFileAuditSink(file).emit(event(2))).rejects.toMatchObject({
      code: "AUDIT_FAILED",
      retryable: false,
    });
    expect(await readFile(file, "utf8")).toBe(torn);
  });

  it("writes only audit members, so a secret smuggled onto an event never reaches the file", async () => {
    const file = path.join(dir, "audit.jsonl");
    const sink = new JsonlFileAuditSink(file);
    const smuggled = {
      ...event(1),
      newSecret: SecretValue.of(CANARY),
      api_key: CANARY,
      context: { secret: CANARY },
    } as AuditEvent;
    await sink.emit(smuggled);
    const e = event(2);
    const emitted = sink.emit(e);
    (e as { reason?: string }).reason = CANARY; // mutated after emit: the queued line is a snapshot
    await emitted;
    const text = await readFile(file, "utf8");
    expect(text).not.toContain(CANARY);
    expect(verifyAuditChain(text.split("\n"))).toEqual({
      ok: true,
      count: 2,
      keyed: 0,
      authenticated: false,
    });
  });
});

describe("JsonlFileAuditSink with a chain key (audit.chain_key)", () => {
  it("writes keyed lines the key authenticates, in one group commit, and never the key", async () => {
    const file = path.join(dir, "keyed.jsonl");
    const sink = new JsonlFileAuditSink(file, { chainKey: KEY });
    await Promise.all(Array.from({ length: 40 }, (_, i) => sink.emit(event(i))));
    const text = await readFile(file, "utf8");
    expect(verifyAuditChain(text.split("\n"), { key: KEY })).toEqual({
      ok: true,
      count: 40,
      keyed: 40,
      authenticated: true,
    });
    expect(
      text
        .split("\n")
        .filter((l) => l !== "")
        .every((l) => JSON.parse(l).alg === "hmac-sha256"),
    ).toBe(true);
    expect(text).not.toContain(KEY_CANARY);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
  });

  it("continues an existing unkeyed file: keyed lines chain onto the old ones", async () => {
    const file = path.join(dir, "turned-on.jsonl");
    const before = new JsonlFileAuditSink(file);
    for (let i = 0; i < 3; i++) await before.emit(event(i));
    const after = new JsonlFileAuditSink(file, { chainKey: KEY });
    await Promise.all([after.emit(event(3)), after.emit(event(4))]);
    expect(verifyAuditChain(await lines(file), { key: KEY })).toEqual({
      ok: true,
      count: 5,
      keyed: 2,
      authenticated: true,
    });
  });

  it("never continues a keyed file without the key or with another key, and leaves it as it was", async () => {
    const file = path.join(dir, "keyed.jsonl");
    await new JsonlFileAuditSink(file, { chainKey: KEY }).emit(event(1));
    const keyed = await readFile(file, "utf8");
    const unkeyed = new JsonlFileAuditSink(file);
    await expect(unkeyed.emit(event(2))).rejects.toMatchObject({
      code: "AUDIT_FAILED",
      retryable: false,
      message: expect.stringMatching(/keyed \(hmac-sha256\) and this process has no audit.chain_key/),
    });
    const otherKey = new JsonlFileAuditSink(file, {
      chainKey: AuditChainKey.of("test-secret-canary-another-key-7c1e0f9b3a2d"),
    });
    const refused = await otherKey.emit(event(3)).catch((err: unknown) => err);
    expect(refused).toMatchObject({
      code: "AUDIT_FAILED",
      retryable: false,
      message: expect.stringMatching(/last line does not match audit.chain_key/),
    });
    expect(JSON.stringify(refused) + String(refused)).not.toContain("canary");
    expect(await readFile(file, "utf8")).toBe(keyed);
  });

  it("keeps one keyed chain when other processes append with the same key at the same time", async () => {
    const file = path.join(dir, "shared-keyed.jsonl");
    // Each writer starts once every writer's first line is in the file, then appends in small rounds, so the three
    // really take turns at the lock (the test checks that they did).
    const script = `
      const { readFile } = await import("node:fs/promises");
      const { JsonlFileAuditSink } = await import(${JSON.stringify(SINK_MODULE)});
      const { AuditChainKey } = await import(${JSON.stringify(CHAIN_MODULE)});
      const sink = new JsonlFileAuditSink(${JSON.stringify(file)}, { chainKey: AuditChainKey.of(process.env.CHAIN_KEY) });
      const e = (i) => ({ type: "rotation.started", time: "2026-03-01T10:00:00.000Z", rotationId: process.argv[1] + "-" + i,
        path: "p", provider: "salesforce-eca", mode: "standard", trigger: "cli", actor: "cli", step: "claimed" });
      await sink.emit(e(0));
      for (let t = 0; t < 500; t++) {
        const text = await readFile(${JSON.stringify(file)}, "utf8");
        if (["child-a-0", "child-b-0", "rot-0"].every((id) => text.includes(id))) break;
        await new Promise((r) => setTimeout(r, 10));
      }
      for (let round = 0; round < 33; round++) {
        await Promise.all(Array.from({ length: 3 }, (_, i) => sink.emit(e(1 + round * 3 + i))));
        await new Promise((r) => setTimeout(r, 3));
      }
    `;
    const run = promisify(execFile);
    const env = { ...process.env, CHAIN_KEY: KEY_CANARY };
    const here = new JsonlFileAuditSink(file, { chainKey: KEY });
    const mine = async () => {
      await here.emit(event(0));
      for (let t = 0; t < 500; t++) {
        const text = await readFile(file, "utf8");
        if (text.includes("child-a-0") && text.includes("child-b-0")) break;
        await new Promise((r) => setTimeout(r, 10));
      }
      for (let round = 0; round < 33; round++) {
        await Promise.all(Array.from({ length: 3 }, (_, i) => here.emit(event(1 + round * 3 + i))));
        await new Promise((r) => setTimeout(r, 3));
      }
    };
    const [a, b] = await Promise.all([
      run(process.execPath, ["--input-type=module", "-e", script, "child-a"], { env }),
      run(process.execPath, ["--input-type=module", "-e", script, "child-b"], { env }),
      mine(),
    ]);
    const text = await readFile(file, "utf8");
    expect(verifyAuditChain(text.split("\n"), { key: KEY })).toEqual({
      ok: true,
      count: 300,
      keyed: 300,
      authenticated: true,
    });
    const ids = text
      .split("\n")
      .slice(0, -1)
      .map((l) => JSON.parse(l).rotationId as string);
    for (const who of ["child-a", "child-b", "rot"]) {
      expect(ids.filter((id) => id.startsWith(`${who}-`))).toEqual(
        Array.from({ length: 100 }, (_, i) => `${who}-${i}`),
      );
    }
    const writers = ids.map((id) => id.replace(/-\d+$/, ""));
    const turns = writers.filter((w, i) => i > 0 && w !== writers[i - 1]).length;
    expect(turns).toBeGreaterThan(10);
    for (const out of [text, a?.stdout, a?.stderr, b?.stdout, b?.stderr])
      expect(out).not.toContain(KEY_CANARY);
  });
});
