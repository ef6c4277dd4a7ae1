// AuditFanout over real sinks (the hash-chained file, syslog over TCP to a real loopback listener or to a port
// where nothing listens) plus small hand-written sinks where a behaviour cannot be produced for real (a sink
// that hangs forever, one that fails exactly twice).
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { JsonlFileAuditSink, verifyAuditChain } from "../../src/adapters/audit/jsonl-file-audit-sink.ts";
import { SyslogAuditSink } from "../../src/adapters/audit/syslog-audit-sink.ts";
import { AuditFanout, type NamedAuditSink } from "../../src/app/audit-fanout.ts";
import { isRotatorError, RotatorError } from "../../src/core/errors.ts";
import type { AuditEvent } from "../../src/core/rotation/rotation-state.ts";
import { FixedClock } from "../../src/core/time.ts";
import { freePort } from "../support/vault-backend.ts";

function event(i: number): AuditEvent {
  return {
    type: "rotation.started",
    time: "2026-03-01T10:00:00.000Z",
    rotationId: `rot-${i}`,
    path: "api-credentials/crm",
    provider: "salesforce-eca",
    mode: "standard",
    trigger: "flag",
    actor: "operator-flag",
    step: "claimed",
  };
}

let dir: string;
const cleanup: (() => Promise<void>)[] = [];
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "audit-fanout-"));
});
afterEach(async () => {
  for (const fn of cleanup.splice(0)) await fn();
  await rm(dir, { recursive: true, force: true });
});

/** A TCP listener that collects what syslog clients send. */
async function listen(port: number): Promise<{ received: () => string }> {
  let data = "";
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on("data", (c: Buffer) => {
      data += c.toString();
    });
  });
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  cleanup.push(
    () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  );
  return { received: () => data };
}

function syslogTo(port: number): SyslogAuditSink {
  const sink = new SyslogAuditSink({ transport: "tcp", host: "127.0.0.1", port, timeoutMs: 1000 });
  cleanup.unshift(() => sink.close());
  return sink;
}

describe("AuditFanout", () => {
  it("delivers to the healthy sinks when one fails, resolves, and reports the failing one by name", async () => {
    const file = path.join(dir, "audit.jsonl");
    const failures: { sink: string; err: unknown }[] = [];
    const delivered: string[] = [];
    const fanout = new AuditFanout(
      [
        { name: "file", sink: new JsonlFileAuditSink(file) },
        { name: "syslog", sink: syslogTo(await freePort()) }, // nothing listens there
      ],
      {
        retries: 2,
        retryDelayMs: 5,
        onFailure: (sink, err) => failures.push({ sink, err }),
        onDelivered: (sink) => delivered.push(sink),
      },
    );
    await expect(fanout.emit(event(1))).resolves.toBeUndefined();
    await fanout.emit(event(2));

    const lines = (await readFile(file, "utf8")).split("\n");
    expect(verifyAuditChain(lines)).toEqual({ ok: true, count: 2, keyed: 0, authenticated: false });
    expect(failures.map((f) => f.sink)).toEqual(["syslog", "syslog"]);
    // One per event a sink took: what audit_events_total{sink="file"} counts against the file's lines.
    expect(delivered).toEqual(["file", "file"]);
    expect(isRotatorError(failures[0]?.err, "AUDIT_FAILED")).toBe(true);
    const [fileHealth, syslogHealth] = fanout.health();
    expect(fileHealth).toMatchObject({ name: "file", ok: true, failures: 0, lastError: undefined });
    expect(fileHealth?.lastSuccessAt).toBeInstanceOf(Date);
    expect(syslogHealth).toMatchObject({
      name: "syslog",
      ok: false,
      failures: 2,
      lastError: "AUDIT_FAILED",
      lastSuccessAt: undefined,
    });
    await fanout.close();
  });

  it("marks a sink not ok after a failure and ok again after its next success", async () => {
    const port = await freePort();
    const clock = new FixedClock("2026-03-01T10:00:00.000Z");
    const fanout = new AuditFanout([{ name: "syslog", sink: syslogTo(port) }], { retries: 0, clock });
    await fanout.emit(event(1));
    expect(fanout.health()[0]).toMatchObject({ ok: false, failures: 1, lastSuccessAt: undefined });

    const listener = await listen(port);
    clock.advance(60_000);
    await fanout.emit(event(2));
    expect(fanout.health()[0]).toEqual({
      name: "syslog",
      ok: true,
      failures: 1,
      lastError: "AUDIT_FAILED",
      lastSuccessAt: new Date("2026-03-01T10:01:00.000Z"),
    });
    await fanout.flush();
    await expect.poll(() => listener.received()).toContain('"rotationId":"rot-2"');
    expect(listener.received()).not.toContain('"rotationId":"rot-1"');
  });

  it("retries a failing sink and counts nothing when a retry succeeds", async () => {
    let calls = 0;
    const flaky: NamedAuditSink = {
      name: "http",
      sink: {
        async emit() {
          calls++;
          if (calls <= 2) throw new Error("transient");
        },
      },
    };
    const failures: string[] = [];
    const fanout = new AuditFanout([flaky], {
      retries: 2,
      retryDelayMs: 5,
      onFailure: (s) => failures.push(s),
    });
    await fanout.emit(event(1));
    expect(calls).toBe(3);
    expect(failures).toEqual([]);
    expect(fanout.health()[0]).toMatchObject({ ok: true, failures: 0 });
  });

  it("does not retry an error that says it is not retryable", async () => {
    let calls = 0;
    const broken: NamedAuditSink = {
      name: "file",
      sink: {
        async emit() {
          calls++;
          throw new RotatorError("AUDIT_FAILED", "the audit file ends in an incomplete line", {
            retryable: false,
          });
        },
      },
    };
    const fanout = new AuditFanout([broken], { retries: 5, retryDelayMs: 5 });
    await fanout.emit(event(1));
    expect(calls).toBe(1);
    expect(fanout.health()[0]).toMatchObject({ ok: false, failures: 1, lastError: "AUDIT_FAILED" });
  });

  it("gives up on a hanging sink after emitTimeoutMs and bounds close, while the others still work", async () => {
    const file = path.join(dir, "audit.jsonl");
    const never = new Promise<void>(() => {});
    const hanging: NamedAuditSink = {
      name: "http",
      sink: { emit: () => never, close: () => never, flush: () => never },
    };
    const failures: { sink: string; err: unknown }[] = [];
    const fanout = new AuditFanout([hanging, { name: "file", sink: new JsonlFileAuditSink(file) }], {
      emitTimeoutMs: 100,
      closeTimeoutMs: 200,
      onFailure: (sink, err) => failures.push({ sink, err }),
    });
    const started = Date.now();
    await fanout.emit(event(1));
    expect(Date.now() - started).toBeLessThan(1000);
    expect(fanout.health().map((h) => [h.name, h.ok, h.lastError])).toEqual([
      ["http", false, "TIMEOUT"],
      ["file", true, undefined],
    ]);
    expect((failures[0]?.err as Error | undefined)?.message).toBe(
      "the http audit sink did not answer in time",
    );

    const closing = Date.now();
    await fanout.close();
    expect(Date.now() - closing).toBeLessThan(1000);
    expect(verifyAuditChain((await readFile(file, "utf8")).split("\n"))).toEqual({
      ok: true,
      count: 1,
      keyed: 0,
      authenticated: false,
    });
  });

  it("never throws, even when the failure hook itself throws", async () => {
    const fanout = new AuditFanout(
      [{ name: "stderr", sink: { emit: () => Promise.reject(new Error("x")) } }],
      {
        retries: 0,
        onFailure: () => {
          throw new Error("hook broke");
        },
      },
    );
    await expect(fanout.emit(event(1))).resolves.toBeUndefined();
    expect(fanout.health()[0]).toMatchObject({ ok: false, failures: 1, lastError: "UNCLASSIFIED" });
  });
});

describe("AuditFanout, a sink known to be down", () => {
  it("gets one attempt per event instead of retries until it succeeds again", async () => {
    let calls = 0;
    let down = true;
    const flaky: NamedAuditSink = {
      name: "http",
      sink: {
        async emit() {
          calls++;
          if (down)
            throw new RotatorError("AUDIT_FAILED", "the audit HTTP endpoint answered 503", {
              retryable: true,
            });
        },
      },
    };
    const fanout = new AuditFanout([flaky], { retries: 2, retryDelayMs: 1 });
    await fanout.emit(event(1));
    expect(calls).toBe(3); // healthy until now: first attempt plus two retries
    await fanout.emit(event(2));
    await fanout.emit(event(3));
    expect(calls).toBe(5); // known down: one attempt each
    down = false;
    await fanout.emit(event(4));
    expect(calls).toBe(6);
    expect(fanout.health()[0]).toMatchObject({ ok: true, failures: 3 });
  });
});
