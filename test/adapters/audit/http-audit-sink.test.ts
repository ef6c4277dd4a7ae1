// HttpAuditSink against a real loopback node:http collector whose answers each test scripts.
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { inspect } from "node:util";
import { afterEach, describe, expect, it } from "vitest";
import { HttpAuditSink } from "../../../src/adapters/audit/http-audit-sink.ts";
import { isRotatorError, type RotatorError } from "../../../src/core/errors.ts";
import type { AuditEvent } from "../../../src/core/rotation/rotation-state.ts";
import { SecretValue } from "../../../src/core/secret-value.ts";
import { startFloodServer } from "../../support/flood-server.ts";
import { freePort } from "../../support/vault-backend.ts";

const URL_CANARY = "test-secret-canary-audit-url-token";
const HEADER_CANARY = "test-secret-canary-audit-header";

interface Received {
  readonly at: number;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly events: AuditEvent[];
}

interface Answer {
  readonly status: number;
  readonly headers?: Record<string, string>;
}

interface Collector {
  readonly url: string;
  readonly received: Received[];
  /** Answers for the next requests, in order; 200 once they run out. */
  readonly script: Answer[];
  close(): Promise<void>;
}

const open: Collector[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()));
});

async function collector(): Promise<Collector> {
  const received: Received[] = [];
  const script: Answer[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { events: AuditEvent[] };
      received.push({ at: Date.now(), url: req.url ?? "", headers: req.headers, events: body.events });
      const answer = script.shift() ?? { status: 200 };
      res.writeHead(answer.status, { "content-type": "application/json", ...answer.headers });
      res.end(JSON.stringify({ echo: req.url }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const c: Collector = {
    url: `http://127.0.0.1:${port}/ingest/${URL_CANARY}?token=${URL_CANARY}`,
    received,
    script,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  open.push(c);
  return c;
}

function event(i: number, over: Partial<AuditEvent> = {}): AuditEvent {
  return {
    type: "rotation.completed",
    time: "2026-03-01T10:00:00.000Z",
    rotationId: `rot-${i}`,
    path: "api-credentials/crm",
    provider: "salesforce-eca",
    mode: "standard",
    trigger: "schedule",
    actor: "scheduler",
    step: "closed",
    ...over,
  };
}

async function waitFor(check: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 10));
  }
}

function expectNoCanary(err: unknown): void {
  const e = err as RotatorError;
  for (const text of [e.message, JSON.stringify(e.context), String(e.stack), inspect(e, { depth: 5 })]) {
    expect(text).not.toContain(URL_CANARY);
    expect(text).not.toContain(HEADER_CANARY);
  }
}

const ids = (r: Received) => r.events.map((e) => e.rotationId);

describe("HttpAuditSink", () => {
  it("posts a batch as soon as batchSize events are queued, with the headers and JSON body", async () => {
    const c = await collector();
    const sink = new HttpAuditSink({
      url: SecretValue.of(c.url),
      headers: { "X-Api-Key": SecretValue.of(HEADER_CANARY) },
      batchSize: 3,
      flushIntervalMs: 60_000,
    });
    for (let i = 0; i < 6; i++) await sink.emit(event(i, { kvVersion: i }));
    await waitFor(() => c.received.length === 2);
    expect(c.received.map(ids)).toEqual([
      ["rot-0", "rot-1", "rot-2"],
      ["rot-3", "rot-4", "rot-5"],
    ]);
    expect(c.received[0]?.events[1]).toEqual(event(1, { kvVersion: 1 }));
    expect(c.received[0]?.url).toBe(`/ingest/${URL_CANARY}?token=${URL_CANARY}`);
    expect(c.received[0]?.headers["content-type"]).toBe("application/json");
    expect(c.received[0]?.headers["x-api-key"]).toBe(HEADER_CANARY);
    await sink.flush(); // the collector has the batch; the sink may not have read the answer yet
    expect(sink.health()).toEqual({ queued: 0, failures: 0, lastError: undefined, ok: true });
    await sink.close();
  });

  it("posts a partial batch once flushIntervalMs has passed", async () => {
    const c = await collector();
    const sink = new HttpAuditSink({ url: SecretValue.of(c.url), batchSize: 50, flushIntervalMs: 150 });
    const started = Date.now();
    await sink.emit(event(1));
    await sink.emit(event(2));
    expect(sink.health().queued).toBe(2);
    await new Promise((r) => setTimeout(r, 50));
    expect(c.received).toHaveLength(0);
    await waitFor(() => c.received.length === 1);
    expect(c.received[0]?.at ?? 0).toBeGreaterThanOrEqual(started + 140);
    expect(c.received.map(ids)).toEqual([["rot-1", "rot-2"]]);
    await sink.close();
  });

  it("retries a 503 answer and delivers the same batch once the collector recovers", async () => {
    const c = await collector();
    c.script.push({ status: 503 }, { status: 503 });
    const failures: unknown[] = [];
    const sink = new HttpAuditSink({
      url: SecretValue.of(c.url),
      batchSize: 2,
      retryBaseMs: 10,
      onDeliveryFailure: (err) => failures.push(err),
    });
    await sink.emit(event(1));
    await sink.emit(event(2));
    await sink.flush();
    expect(c.received.map(ids)).toEqual([
      ["rot-1", "rot-2"],
      ["rot-1", "rot-2"],
      ["rot-1", "rot-2"],
    ]);
    expect(failures).toEqual([]);
    expect(sink.health()).toEqual({ queued: 0, failures: 0, lastError: undefined, ok: true });
    await sink.close();
  });

  it("gives up on a 400 answer at once, reports the dropped batch and keeps sending later ones", async () => {
    const c = await collector();
    c.script.push({ status: 400 });
    const failures: { err: RotatorError; dropped: number }[] = [];
    const sink = new HttpAuditSink({
      url: SecretValue.of(c.url),
      headers: { authorization: SecretValue.of(`Bearer ${HEADER_CANARY}`) },
      batchSize: 2,
      retryBaseMs: 10,
      onDeliveryFailure: (err, dropped) => failures.push({ err, dropped }),
    });
    await sink.emit(event(1));
    await sink.emit(event(2));
    await sink.flush();
    expect(c.received).toHaveLength(1);
    expect(failures).toHaveLength(1);
    const failure = failures[0];
    expect(failure?.dropped).toBe(2);
    expect(isRotatorError(failure?.err, "AUDIT_FAILED")).toBe(true);
    expect(failure?.err.message).toBe("the audit HTTP endpoint answered 400 to a batch of 2 events");
    expect(failure?.err.retryable).toBe(false);
    expectNoCanary(failure?.err);
    expect(sink.health()).toEqual({ queued: 0, failures: 1, lastError: "HTTP_400", ok: false });

    await sink.emit(event(3));
    await sink.close();
    expect(c.received.map(ids)).toEqual([["rot-1", "rot-2"], ["rot-3"]]);
  });

  it("waits as long as Retry-After says before retrying a 429", async () => {
    const c = await collector();
    c.script.push({ status: 429, headers: { "retry-after": "1" } });
    const sink = new HttpAuditSink({ url: SecretValue.of(c.url), batchSize: 1, retryBaseMs: 5 });
    await sink.emit(event(1));
    await sink.flush();
    expect(c.received).toHaveLength(2);
    const gap = (c.received[1]?.at ?? 0) - (c.received[0]?.at ?? 0);
    expect(gap).toBeGreaterThanOrEqual(950);
    expect(gap).toBeLessThan(2500);
    await sink.close();
  });

  it("bounds a long Retry-After by maxRetryAfterMs", async () => {
    const c = await collector();
    c.script.push({ status: 503, headers: { "retry-after": "3600" } });
    const sink = new HttpAuditSink({
      url: SecretValue.of(c.url),
      batchSize: 1,
      retryBaseMs: 5,
      maxRetryAfterMs: 200,
    });
    await sink.emit(event(1));
    await sink.flush();
    expect(c.received).toHaveLength(2);
    const gap = (c.received[1]?.at ?? 0) - (c.received[0]?.at ?? 0);
    expect(gap).toBeGreaterThanOrEqual(190);
    expect(gap).toBeLessThan(1500);
    await sink.close();
  });

  it("flush and close deliver every queued event in order, then later emits reject", async () => {
    const c = await collector();
    const sink = new HttpAuditSink({ url: SecretValue.of(c.url), batchSize: 3, flushIntervalMs: 60_000 });
    await Promise.all(Array.from({ length: 7 }, (_, i) => sink.emit(event(i))));
    await sink.flush();
    expect(c.received.flatMap(ids)).toEqual(Array.from({ length: 7 }, (_, i) => `rot-${i}`));
    await sink.emit(event(7));
    await sink.emit(event(8));
    await sink.close();
    expect(c.received.map(ids).at(-1)).toEqual(["rot-7", "rot-8"]);
    await expect(sink.emit(event(9))).rejects.toThrow(/closed/);
  });

  it("never puts the URL token or header values in errors when the endpoint cannot be reached", async () => {
    const port = await freePort();
    const failures: { err: RotatorError; dropped: number }[] = [];
    const sink = new HttpAuditSink({
      url: SecretValue.of(`http://127.0.0.1:${port}/ingest?token=${URL_CANARY}`),
      headers: { "X-Api-Key": SecretValue.of(HEADER_CANARY) },
      batchSize: 10,
      maxRetries: 2,
      retryBaseMs: 5,
      onDeliveryFailure: (err, dropped) => failures.push({ err, dropped }),
    });
    await sink.emit(event(1));
    await sink.close();
    expect(failures).toHaveLength(1);
    expect(failures[0]?.dropped).toBe(1);
    expect(failures[0]?.err.message).toBe("the audit HTTP endpoint could not be reached (ECONNREFUSED)");
    expectNoCanary(failures[0]?.err);
    expect(sink.health()).toEqual({ queued: 0, failures: 1, lastError: "ECONNREFUSED", ok: false });
    expect(JSON.stringify(sink.health())).not.toContain(URL_CANARY);
  });

  it("refuses emits once maxQueue events wait, without naming the endpoint", async () => {
    const c = await collector();
    c.script.push({ status: 503 }, { status: 503 });
    const sink = new HttpAuditSink({
      url: SecretValue.of(c.url),
      batchSize: 2,
      maxQueue: 3,
      retryBaseMs: 50,
    });
    await sink.emit(event(1));
    await sink.emit(event(2)); // in flight, being retried
    await sink.emit(event(3));
    const err = await sink.emit(event(4)).catch((e: unknown) => e);
    expect(isRotatorError(err, "AUDIT_FAILED")).toBe(true);
    expectNoCanary(err);
    expect(sink.health()).toMatchObject({ queued: 3, failures: 1, lastError: "QUEUE_FULL", ok: false });
    await sink.close();
    expect(c.received.flatMap(ids).slice(-3)).toEqual(["rot-1", "rot-2", "rot-3"]);
  });

  it("sends user info from the URL as Basic authorization and not in the request line", async () => {
    const c = await collector();
    const withUser = c.url.replace("http://", `http://audit:${URL_CANARY}@`);
    const sink = new HttpAuditSink({ url: SecretValue.of(withUser), batchSize: 1 });
    await sink.emit(event(1));
    await sink.close();
    expect(c.received[0]?.headers.authorization).toBe(
      `Basic ${Buffer.from(`audit:${URL_CANARY}`).toString("base64")}`,
    );
  });

  it("rejects an invalid URL without quoting it", () => {
    const make = () => new HttpAuditSink({ url: SecretValue.of(`not a url ${URL_CANARY}`) });
    expect(make).toThrow(/the URL of the audit HTTP endpoint is not a valid URL/);
    try {
      make();
    } catch (err) {
      expectNoCanary(err);
    }
  });

  it.each(["stream", "declared"] as const)(
    "cuts off a 200 MiB answer (%s) near 1 MiB: AUDIT_FAILED, not retried, batch counted as failed",
    async (mode) => {
      const flood = await startFloodServer({ mode });
      const failures: { err: RotatorError; dropped: number }[] = [];
      const sink = new HttpAuditSink({
        url: SecretValue.of(`${flood.url}/ingest/${URL_CANARY}`),
        batchSize: 2,
        retryBaseMs: 10,
        onDeliveryFailure: (err, dropped) => failures.push({ err, dropped }),
      });
      try {
        await sink.emit(event(1));
        await sink.emit(event(2));
        await sink.flush();
        expect(flood.requests).toHaveLength(1);
        expect(failures.map((f) => f.dropped)).toEqual([2]);
        const err = failures[0]?.err;
        expect(isRotatorError(err, "AUDIT_FAILED")).toBe(true);
        expect(err?.retryable).toBe(false);
        expect(err?.message).toBe(
          "the audit HTTP endpoint answered 200 to a batch of 2 events, but the answer is larger than 1 MiB; " +
            "the answer was cut off and the batch counts as failed (it may have been stored)",
        );
        expectNoCanary(err);
        expect(sink.health()).toMatchObject({ failures: 1, lastError: "ANSWER_TOO_LARGE", ok: false });
        const [sent = Number.POSITIVE_INFINITY] = await flood.settled();
        expect(sent).toBeLessThan(mode === "declared" ? 1 : 17 * 1024 * 1024);
      } finally {
        await sink.close();
        await flood.close();
      }
    },
  );
});
