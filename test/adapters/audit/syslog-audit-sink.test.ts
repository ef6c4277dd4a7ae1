// SyslogAuditSink against a real rsyslogd on loopback (UDP and TCP), plus a TCP port where nothing listens.
import { readFile } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SyslogAuditSink } from "../../../src/adapters/audit/syslog-audit-sink.ts";
import { isRotatorError } from "../../../src/core/errors.ts";
import type { AuditEvent } from "../../../src/core/rotation/rotation-state.ts";
import { FixedClock } from "../../../src/core/time.ts";
import { type RsyslogServer, type SyslogRecord, startRsyslog } from "../../support/rsyslog-server.ts";
import { freePort } from "../../support/vault-backend.ts";

const CANARY = "test-secret-canary-syslog";

function event(rotationId: string, over: Partial<AuditEvent> = {}): AuditEvent {
  return {
    type: "rotation.completed",
    time: "2026-03-01T10:00:00.000Z",
    rotationId,
    path: "api-credentials/crm",
    provider: "salesforce-eca",
    mode: "standard",
    trigger: "schedule",
    actor: "scheduler",
    step: "closed",
    kvVersion: 7,
    keyFingerprint: "hmac-sha256:ab12cd34",
    durationMs: 1234,
    ...over,
  };
}

let rsyslog: RsyslogServer;
beforeAll(async () => {
  rsyslog = await startRsyslog();
});
afterAll(async () => {
  await rsyslog?.dispose();
});

async function recordFor(rotationId: string): Promise<SyslogRecord> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const found = (await rsyslog.records()).find((r) => r.msg.includes(`"rotationId":"${rotationId}"`));
    if (found) return found;
    if (Date.now() > deadline) throw new Error(`no syslog record for ${rotationId}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe("SyslogAuditSink", () => {
  for (const transport of ["udp", "tcp"] as const) {
    it(`delivers events over ${transport} as RFC 5424 messages whose MSG parses back to the event`, async () => {
      const sink = new SyslogAuditSink({
        transport,
        host: "127.0.0.1",
        port: transport === "udp" ? rsyslog.udpPort : rsyslog.tcpPort,
        hostname: "rotator-host",
        clock: new FixedClock("2026-03-01T10:00:01.500Z"),
      });
      const completed = event(`${transport}-done`, { reason: 'café "quoted" ] back\\slash\nnext line' });
      const failed = event(`${transport}-failed`, {
        type: "rotation.failed",
        step: "staged",
        errorCode: "SALESFORCE_UNAVAILABLE",
      });
      const rolledBack = event(`${transport}-rb`, { type: "rotation.rolled_back", path: 'odd"path]x' });
      await sink.emit(completed);
      await sink.emit(failed);
      await sink.emit(rolledBack);
      await sink.close();

      const done = await recordFor(`${transport}-done`);
      expect(done).toMatchObject({
        pri: String(13 * 8 + 5),
        protocol: "1",
        timestamp: "2026-03-01T10:00:01.500Z",
        hostname: "rotator-host",
        appname: "eca-rotator",
        procid: String(process.pid),
        msgid: "rotation.completed",
      });
      expect(JSON.parse(done.msg)).toEqual(completed);
      expect(done.msg).toMatch(/^[\x20-\x7e]*$/); // pure ASCII JSON: no BOM needed, no charset question
      expect(done.sd).toBe(
        `[eca@32473 rotationId="${transport}-done" path="api-credentials/crm" step="closed"]`,
      );

      const fail = await recordFor(`${transport}-failed`);
      expect(fail.pri).toBe(String(13 * 8 + 3));
      expect(fail.msgid).toBe("rotation.failed");
      expect(fail.sd).toContain('errorCode="SALESFORCE_UNAVAILABLE"');
      expect(JSON.parse(fail.msg)).toEqual(failed);

      const rb = await recordFor(`${transport}-rb`);
      expect(rb.pri).toBe(String(13 * 8 + 4));
      expect(rb.sd).toContain('path="odd\\"path\\]x"');
      expect(JSON.parse(rb.msg)).toEqual(rolledBack);
    });
  }

  it("keeps emit order over tcp when callers do not await each other", async () => {
    const sink = new SyslogAuditSink({ transport: "tcp", host: "127.0.0.1", port: rsyslog.tcpPort });
    const ids = Array.from({ length: 50 }, (_, i) => `order-${i}`);
    await Promise.all(ids.map((id) => sink.emit(event(id))));
    await sink.close();
    await recordFor("order-49");
    const seen = (await rsyslog.records())
      .filter((r) => r.msg.includes('"rotationId":"order-'))
      .map((r) => JSON.parse(r.msg).rotationId as string);
    expect(seen).toEqual(ids);
  });

  it("shortens an oversized reason instead of losing the event", async () => {
    const sink = new SyslogAuditSink({ transport: "udp", host: "127.0.0.1", port: rsyslog.udpPort });
    await sink.emit(event("big-reason", { reason: "x".repeat(20_000) }));
    await sink.close();
    const rec = await recordFor("big-reason");
    const body = JSON.parse(rec.msg) as AuditEvent;
    expect(body.reason).toMatch(/^x+ \[truncated\]$/);
    expect(Buffer.byteLength(rec.msg)).toBeLessThan(8096);
  });

  it("reconnects over tcp after rsyslog restarts", async () => {
    const sink = new SyslogAuditSink({
      transport: "tcp",
      host: "127.0.0.1",
      port: rsyslog.tcpPort,
      timeoutMs: 3000,
    });
    await sink.emit(event("before-restart"));
    await recordFor("before-restart");
    await rsyslog.stop();
    await rsyslog.start();
    await sink.emit(event("after-restart"));
    await sink.emit(event("after-restart-2"));
    await sink.close();
    await recordFor("after-restart");
    await recordFor("after-restart-2");
  });

  it("rejects with AUDIT_FAILED within the timeout when nothing listens on the tcp port", async () => {
    const port = await freePort();
    const sink = new SyslogAuditSink({ transport: "tcp", host: "127.0.0.1", port, timeoutMs: 500 });
    const started = Date.now();
    const err = await sink.emit(event("nobody")).catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(1500);
    expect(isRotatorError(err, "AUDIT_FAILED")).toBe(true);
    expect((err as Error).message).toContain(`syslog tcp://127.0.0.1:${port}`);
    expect((err as Error).message).toContain("ECONNREFUSED");
    await sink.close();
  });

  it("rejects within the timeout when the connection cannot be made at all", async () => {
    // A TEST-NET-1 address (RFC 5737): never routed, so connect either hangs until our deadline or fails early.
    const sink = new SyslogAuditSink({ transport: "tcp", host: "192.0.2.1", port: 514, timeoutMs: 300 });
    const started = Date.now();
    const err = await sink.emit(event("blackhole")).catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(1300);
    expect(isRotatorError(err, "AUDIT_FAILED")).toBe(true);
    await sink.close();
  });

  it("sends no secret: a canary outside the event's members never reaches rsyslog", async () => {
    const sink = new SyslogAuditSink({ transport: "tcp", host: "127.0.0.1", port: rsyslog.tcpPort });
    // A careless caller spreads a credential into the event object; only the declared members are sent.
    const sloppy = { ...event("canary-check"), clientSecret: CANARY } as AuditEvent;
    await sink.emit(sloppy);
    await sink.close();
    const rec = await recordFor("canary-check");
    expect(JSON.parse(rec.msg)).toEqual(event("canary-check"));
    expect(await readFile(rsyslog.outFile, "utf8")).not.toContain(CANARY);
  });

  it("rejects emits after close", async () => {
    const sink = new SyslogAuditSink({ transport: "udp", host: "127.0.0.1", port: rsyslog.udpPort });
    await sink.close();
    await expect(sink.emit(event("late"))).rejects.toThrow(/closed/);
  });
});
