// The adapters' HTTP client against real loopback servers: each timeout phase, the body cap (declared and
// streamed), TLS with a private CA, a client certificate and a server name, keep-alive reuse and a kept-alive
// connection the server closed, no redirect following, aborting, closing, and no secret in any error.
import { execFile, execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { createServer as createNetServer, type Server as NetServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import type { TLSSocket } from "node:tls";
import { promisify } from "node:util";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  AnswerTooLargeError,
  createHttpTransport,
  discardCapped,
  formatBytes,
  type HttpTransport,
  isNotSentCode,
  isTlsErrorCode,
  MiB,
  readCappedText,
  transportErrorCode,
} from "../../../src/adapters/http/http-client.ts";
import { FLOOD_BYTES, type FloodServer, startFloodServer } from "../../support/flood-server.ts";
import { selfSignedCert } from "../../support/system-tools.ts";

const CANARY = "canary-s3cr3t-9f2e";

let server: FloodServer | undefined;
const cleanups: Array<() => Promise<void> | void> = [];
let transport: HttpTransport;

afterEach(async () => {
  await server?.close();
  server = undefined;
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function caught(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error("expected a rejection");
}

function use(t: HttpTransport): HttpTransport {
  cleanups.push(() => t.close());
  return t;
}

interface Loopback {
  readonly url: string;
  readonly server: Server | NetServer;
  /** Connections accepted so far. */
  connections(): number;
}

async function listen(s: Server | NetServer, scheme = "http"): Promise<Loopback> {
  let count = 0;
  const sockets = new Set<Socket>();
  s.on(scheme === "https" ? "secureConnection" : "connection", () => count++);
  s.on("connection", (sock: Socket) => {
    sockets.add(sock);
    sock.on("close", () => sockets.delete(sock));
  });
  await new Promise<void>((resolve) => s.listen(0, "127.0.0.1", resolve));
  const port = (s.address() as { port: number }).port;
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        for (const sock of sockets) sock.destroy();
        s.close(() => resolve());
      }),
  );
  return { url: `${scheme}://127.0.0.1:${port}`, server: s, connections: () => count };
}

function httpServer(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<Loopback> {
  return listen(createServer(handler));
}

/** Every text an error can show: message, stack, own fields, causes. */
function everything(err: unknown): string {
  const e = err as Error & { cause?: unknown };
  const own =
    typeof err === "object" && err !== null ? JSON.stringify(err, Object.getOwnPropertyNames(err)) : "";
  return [String(err), e?.message, e?.stack, own, e?.cause ? everything(e.cause) : ""].join("\n");
}

describe("reading with a cap", () => {
  beforeAll(() => {
    transport = createHttpTransport(10_000);
  });
  afterAll(() => transport.close());

  it("reads an answer of exactly the cap and refuses one byte more", async () => {
    const cap = 4096;
    server = await startFloodServer({
      mode: "stream",
      answer: (_m, path) => ({ status: 200, body: "é".repeat(cap / 2) + (path === "/over" ? "x" : "") }),
    });
    const exact = await transport.request(`${server.url}/exact`, { method: "GET" });
    expect(await readCappedText(exact, cap)).toBe("é".repeat(cap / 2));
    const over = await transport.request(`${server.url}/over`, { method: "GET" });
    const err = await caught(readCappedText(over, cap));
    expect(err).toBeInstanceOf(AnswerTooLargeError);
    expect((err as Error).message).toBe("the answer is larger than 4 KiB");
  });

  it("refuses a declared Content-Length above the cap before a byte of the body is sent", async () => {
    server = await startFloodServer({ mode: "declared" });
    const res = await transport.request(server.url, { method: "GET" });
    const err = await caught(readCappedText(res, MiB));
    expect((err as Error).message).toBe("the answer is larger than 1 MiB");
    expect(await server.settled()).toEqual([0]);
  });

  it("stops reading a 200 MiB stream soon after the cap, closing the connection", async () => {
    server = await startFloodServer({ mode: "stream" });
    const res = await transport.request(server.url, { method: "GET" });
    expect(res.headers["content-length"]).toBeUndefined();
    const err = await caught(readCappedText(res, MiB));
    expect(err).toBeInstanceOf(AnswerTooLargeError);
    const [sent = FLOOD_BYTES] = await server.settled();
    // The cap, plus what the loopback socket buffers held when the client hung up.
    expect(sent).toBeLessThan(17 * MiB);
  });

  it("discards up to the cap too, and refuses past it", async () => {
    server = await startFloodServer({
      mode: "stream",
      answer: (_m, p) => (p === "/small" ? { status: 200, body: "ok" } : undefined),
    });
    await discardCapped(await transport.request(`${server.url}/small`, { method: "GET" }), MiB);
    const err = await caught(discardCapped(await transport.request(server.url, { method: "GET" }), MiB));
    expect(err).toBeInstanceOf(AnswerTooLargeError);
    expect((await server.settled())[0]).toBeLessThan(17 * MiB);
  });

  it("names sizes the way the messages do", () => {
    expect([formatBytes(MiB), formatBytes(64 * MiB), formatBytes(1024), formatBytes(1000)]).toEqual([
      "1 MiB",
      "64 MiB",
      "1 KiB",
      "1000 bytes",
    ]);
  });
});

describe("requests and answers", () => {
  it("sends the method, headers and body, and returns the status and headers", async () => {
    const seen: Array<{ method: string; url: string; headers: IncomingMessage["headers"]; body: string }> =
      [];
    const lb = await httpServer((req, res) => {
      let body = "";
      req.on("data", (c: Buffer) => {
        body += c.toString();
      });
      req.on("end", () => {
        seen.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers, body });
        res.writeHead(201, { "x-answer": "yes", "retry-after": "3" });
        res.end('{"ok":true}');
      });
    });
    const t = use(createHttpTransport(5_000));
    const res = await t.request(`${lb.url}/v1/secret/data/a%20b?version=2`, {
      method: "PUT",
      headers: { "x-vault-token": "tok", "content-type": "application/json" },
      body: '{"é":1}',
    });
    expect(res.statusCode).toBe(201);
    expect(res.headers["x-answer"]).toBe("yes");
    expect(await readCappedText(res, MiB)).toBe('{"ok":true}');
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({
      method: "PUT",
      url: "/v1/secret/data/a%20b?version=2",
      body: '{"é":1}',
    });
    expect(seen[0]?.headers["x-vault-token"]).toBe("tok");
    expect(seen[0]?.headers["content-length"]).toBe(String(Buffer.byteLength('{"é":1}')));
  });

  it("does not follow a redirect: the 3xx is the answer, and the server sees one request", async () => {
    const paths: string[] = [];
    const lb = await httpServer((req, res) => {
      paths.push(req.url ?? "");
      if (req.url === "/start") res.writeHead(302, { location: "/elsewhere" }).end();
      else res.writeHead(200).end("followed");
    });
    const t = use(createHttpTransport(5_000));
    for (const method of ["GET", "POST"]) {
      const res = await t.request(`${lb.url}/start`, { method, body: method === "POST" ? "{}" : undefined });
      expect(res.statusCode).toBe(302);
      expect(res.headers.location).toBe("/elsewhere");
      await discardCapped(res, MiB);
    }
    expect(paths).toEqual(["/start", "/start"]);
  });

  it("refuses an address that is not http or https, and a closed client", async () => {
    const t = createHttpTransport(5_000);
    expect(transportErrorCode(await caught(t.request("ftp://127.0.0.1/x", { method: "GET" })))).toBe(
      "ERR_INVALID_URL",
    );
    await t.close();
    const lb = await httpServer((_req, res) => res.end("x"));
    const err = await caught(t.request(lb.url, { method: "GET" }));
    expect(transportErrorCode(err)).toBe("UND_ERR_CLOSED");
    expect(lb.connections()).toBe(0);
  });

  it("a refused connection is ECONNREFUSED, a failure before anything was sent", async () => {
    const probe = await httpServer(() => {});
    const url = probe.url;
    await new Promise<void>((r) => (probe.server as Server).close(() => r()));
    const t = use(createHttpTransport(5_000));
    const code = transportErrorCode(await caught(t.request(url, { method: "POST", body: "{}" })));
    expect(code).toBe("ECONNREFUSED");
    expect(isNotSentCode(code ?? "")).toBe(true);
  });

  it("close() lets a request in flight finish, then closes the kept-alive connections", async () => {
    let closedSockets = 0;
    const lb = await httpServer((_req, res) => {
      res.on("close", () => {});
      setTimeout(() => res.end("late"), 200);
    });
    (lb.server as Server).on("connection", (s: Socket) => s.on("close", () => closedSockets++));
    const t = createHttpTransport(5_000);
    const pending = t.request(lb.url, { method: "GET" }).then((r) => readCappedText(r, MiB));
    await new Promise((r) => setTimeout(r, 50));
    const closing = Promise.all([t.close(), t.close()]);
    expect(await pending).toBe("late");
    await closing;
    await new Promise((r) => setTimeout(r, 50));
    expect(closedSockets).toBe(1);
  });
});

describe("timeouts, one per phase", () => {
  it("connect: a peer that accepts TCP but never completes the TLS handshake", async () => {
    const silent = await listen(
      createNetServer(() => {}),
      "https",
    );
    const t = use(createHttpTransport(300));
    const started = performance.now();
    const err = await caught(t.request(`${silent.url}/x`, { method: "GET" }));
    expect(transportErrorCode(err)).toBe("UND_ERR_CONNECT_TIMEOUT");
    expect(isNotSentCode("UND_ERR_CONNECT_TIMEOUT")).toBe(true);
    expect(performance.now() - started).toBeLessThan(3_000);
  });

  it("headers: a server that reads the request and never answers", async () => {
    const lb = await httpServer(() => {});
    const t = use(createHttpTransport(5_000));
    const started = performance.now();
    // The per-request timeout wins over the transport's.
    const err = await caught(t.request(lb.url, { method: "GET", timeoutMs: 300 }));
    expect(transportErrorCode(err)).toBe("UND_ERR_HEADERS_TIMEOUT");
    expect(performance.now() - started).toBeLessThan(3_000);
  });

  it("body: an answer that stalls mid-body fails; one that keeps dripping within the idle time does not", async () => {
    const lb = await httpServer((req, res) => {
      res.writeHead(200, { "content-type": "text/plain" });
      res.write("a");
      if (req.url === "/stall") return;
      let n = 0;
      const drip = setInterval(() => {
        res.write("a");
        if (++n === 6) {
          clearInterval(drip);
          res.end();
        }
      }, 100);
      res.on("close", () => clearInterval(drip));
    });
    const t = use(createHttpTransport(300));
    const stalled = await t.request(`${lb.url}/stall`, { method: "GET" });
    expect(stalled.statusCode).toBe(200);
    expect(transportErrorCode(await caught(readCappedText(stalled, MiB)))).toBe("UND_ERR_BODY_TIMEOUT");
    // 700 ms in all, never more than 100 ms without a byte: idle time, not the whole body, is what counts.
    const dripping = await t.request(`${lb.url}/drip`, { method: "GET" });
    expect(await readCappedText(dripping, MiB)).toBe("a".repeat(7));
  });

  it("an abort signal fails the request with the signal's reason, and the body while it is read", async () => {
    const lb = await httpServer((req, res) => {
      if (req.url === "/body") {
        res.writeHead(200);
        res.write("x");
      }
    });
    const t = use(createHttpTransport(5_000));
    const err = await caught(t.request(lb.url, { method: "GET", signal: AbortSignal.timeout(100) }));
    expect((err as Error).name).toBe("TimeoutError");
    expect(transportErrorCode(err)).toBe("ABORT_ERR");
    const ctl = new AbortController();
    const res = await t.request(`${lb.url}/body`, { method: "GET", signal: ctl.signal });
    setTimeout(() => ctl.abort(), 50);
    expect(transportErrorCode(await caught(readCappedText(res, MiB)))).toBe("ABORT_ERR");
  });
});

describe("keep-alive", () => {
  it("sends consecutive requests to one origin over one connection", async () => {
    const lb = await httpServer((_req, res) => res.end("ok"));
    const t = use(createHttpTransport(5_000));
    for (let i = 0; i < 5; i++) {
      const res = await t.request(
        `${lb.url}/${i}`,
        i % 2 === 0 ? { method: "GET" } : { method: "POST", body: "{}" },
      );
      expect(await readCappedText(res, MiB)).toBe("ok");
    }
    expect(lb.connections()).toBe(1);
  });

  it("a connection the server closed while idle is not reused", async () => {
    const lb = await httpServer((req, res) => {
      res.end("ok");
      res.on("finish", () => setTimeout(() => req.socket.destroy(), 20));
    });
    const t = use(createHttpTransport(5_000));
    await discardCapped(await t.request(lb.url, { method: "POST", body: "{}" }), MiB);
    await new Promise((r) => setTimeout(r, 100));
    const res = await t.request(lb.url, { method: "POST", body: "{}" });
    expect(await readCappedText(res, MiB)).toBe("ok");
    expect(lb.connections()).toBe(2);
  });

  it("a reused connection closed under a request: a GET goes again on a new one, a POST fails without a resend", async () => {
    const seen: string[] = [];
    const perSocket = new WeakMap<Socket, number>();
    const lb = await httpServer((req, res) => {
      const n = (perSocket.get(req.socket) ?? 0) + 1;
      perSocket.set(req.socket, n);
      seen.push(`${req.method} #${n}`);
      // The second request on a connection meets the close the server decided on meanwhile.
      if (n === 2) req.socket.destroy();
      else res.end("ok");
    });
    const t = use(createHttpTransport(5_000));
    await discardCapped(await t.request(lb.url, { method: "GET" }), MiB);
    const again = await t.request(lb.url, { method: "GET" });
    expect(await readCappedText(again, MiB)).toBe("ok");
    expect(seen).toEqual(["GET #1", "GET #2", "GET #1"]);
    expect(lb.connections()).toBe(2);

    await discardCapped(await t.request(lb.url, { method: "GET" }), MiB);
    const err = await caught(t.request(lb.url, { method: "POST", body: "{}" }));
    expect(transportErrorCode(err)).toBe("ECONNRESET");
    // Sent, then the connection died: its outcome is unknown, so a non-idempotent caller must not assume.
    expect(isNotSentCode("ECONNRESET")).toBe(false);
    expect(seen.slice(3)).toEqual(["GET #1", "POST #2"]);
  });
});

describe("what a broken or hostile server writes", () => {
  /** A raw TCP server: `answer(n, connection)` gives the bytes for the n-th request (from 1) on a connection. */
  async function rawServer(answer: (n: number, connection: number, sock: Socket) => string | undefined) {
    let connections = 0;
    const s = createNetServer((sock) => {
      const connection = ++connections;
      let n = 0;
      let pending = "";
      sock.on("error", () => {});
      sock.on("data", (c: Buffer) => {
        pending += c.toString("latin1");
        while (pending.includes("\r\n\r\n")) {
          pending = pending.slice(pending.indexOf("\r\n\r\n") + 4);
          const out = answer(++n, connection, sock);
          if (out !== undefined) sock.write(out, "latin1");
        }
      });
    });
    const lb = await listen(s);
    return { url: lb.url, connections: () => connections };
  }

  it("an answer followed by a smuggled second answer fails, and the next request gets its own on a new connection", async () => {
    const srv = await rawServer((n, connection) =>
      connection === 1 && n === 1
        ? "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nevil"
        : "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfresh",
    );
    const t = use(createHttpTransport(5_000));
    const first = await t.request(srv.url, { method: "GET" });
    expect(transportErrorCode(await caught(readCappedText(first, MiB)))).toBe("HPE_EXTRA_BYTES");
    expect(await readCappedText(await t.request(srv.url, { method: "GET" }), MiB)).toBe("fresh");
    expect(srv.connections()).toBe(2);
  });

  it("bytes arriving on an idle kept-alive connection close it: the next request never reads them", async () => {
    const srv = await rawServer((_n, connection, sock) => {
      if (connection === 1) {
        setTimeout(() => sock.write("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nevil"), 30);
        return "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirst";
      }
      return "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfresh";
    });
    const t = use(createHttpTransport(5_000));
    expect(await readCappedText(await t.request(srv.url, { method: "GET" }), MiB)).toBe("first");
    await new Promise((r) => setTimeout(r, 100));
    expect(await readCappedText(await t.request(srv.url, { method: "GET" }), MiB)).toBe("fresh");
    expect(srv.connections()).toBe(2);
  });

  it("a malformed answer fails with its parser code, names no secret, and its connection is not reused", async () => {
    const srv = await rawServer((_n, connection) =>
      connection === 1
        ? "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nxx"
        : "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
    );
    const t = use(createHttpTransport(5_000));
    const err = await caught(
      t.request(`${srv.url}/v1/${CANARY}`, { method: "GET", headers: { "x-vault-token": CANARY } }),
    );
    expect(transportErrorCode(err)).toBe("HPE_INVALID_CONTENT_LENGTH");
    expect(everything(err)).not.toContain(CANARY);
    expect(await readCappedText(await t.request(srv.url, { method: "GET" }), MiB)).toBe("ok");
    expect(srv.connections()).toBe(2);
  });

  it("Connection: close, and a Keep-Alive hint of a second or less, end the connection after the answer", async () => {
    for (const header of ["Connection: close", "Keep-Alive: timeout=1"]) {
      const srv = await rawServer(() => `HTTP/1.1 200 OK\r\n${header}\r\nContent-Length: 2\r\n\r\nok`);
      const t = use(createHttpTransport(5_000));
      for (let i = 0; i < 3; i++)
        expect(await readCappedText(await t.request(srv.url, { method: "GET" }), MiB)).toBe("ok");
      expect([header, srv.connections()]).toEqual([header, 3]);
    }
  });

  it("a body that runs to the end of the connection is read, and that connection is not reused", async () => {
    const srv = await rawServer((_n, _c, sock) => {
      sock.end("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end", "latin1");
      return undefined;
    });
    const t = use(createHttpTransport(5_000));
    for (let i = 0; i < 2; i++) {
      expect(await readCappedText(await t.request(srv.url, { method: "GET" }), MiB)).toBe("until the end");
    }
    expect(srv.connections()).toBe(2);
  });

  it("a body read late (past the hold mark) leaves its connection fit for the next request", async () => {
    const big = "b".repeat(100 * 1024);
    const srv = await rawServer((n) =>
      n === 1
        ? `HTTP/1.1 200 OK\r\nContent-Length: ${big.length}\r\n\r\n${big}`
        : "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nnext",
    );
    const t = use(createHttpTransport(2_000));
    const first = await t.request(srv.url, { method: "GET" });
    await new Promise((r) => setTimeout(r, 100));
    expect(await readCappedText(first, MiB)).toBe(big);
    expect(await readCappedText(await t.request(srv.url, { method: "POST", body: "{}" }), MiB)).toBe("next");
    expect(srv.connections()).toBe(1);
  });

  it("close() does not wait for a body nobody reads, once its answer is in", async () => {
    const lb = await httpServer((_req, res) => res.end("never read"));
    const t = createHttpTransport(5_000);
    await t.request(lb.url, { method: "GET" });
    await new Promise((r) => setTimeout(r, 50));
    const started = performance.now();
    await t.close();
    expect(performance.now() - started).toBeLessThan(500);
  });

  it("an answer that began (even a 100 Continue) is not sent again when the connection then dies", async () => {
    const seen: string[] = [];
    const srv = await rawServer((n, connection, sock) => {
      seen.push(`#${connection}.${n}`);
      if (n === 1) return "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
      sock.write("HTTP/1.1 100 Continue\r\n\r\n", () => setTimeout(() => sock.destroy(), 20));
      return undefined;
    });
    const t = use(createHttpTransport(5_000));
    await discardCapped(await t.request(srv.url, { method: "GET" }), MiB);
    expect(transportErrorCode(await caught(t.request(srv.url, { method: "GET" })))).toBe("ECONNRESET");
    expect(seen).toEqual(["#1.1", "#1.2"]);
  });

  it("an answer arriving a byte at a time reads whole, multi-byte characters included", async () => {
    const text = "é—✓ ".repeat(20);
    const bytes = Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`);
    const srv = await rawServer((_n, _c, sock) => {
      sock.setNoDelay(true);
      let i = 0;
      const drip = setInterval(() => {
        if (i >= bytes.length || sock.destroyed) clearInterval(drip);
        else sock.write(bytes.subarray(i, ++i));
      }, 1);
      return undefined;
    });
    const t = use(createHttpTransport(5_000));
    expect(await readCappedText(await t.request(srv.url, { method: "GET" }), MiB)).toBe(text);
  });

  it("an idle kept-alive connection does not keep the process alive", async () => {
    const lb = await httpServer((_req, res) => res.end("ok"));
    const client = path.resolve(import.meta.dirname, "../../../src/adapters/http/http-client.ts");
    const script =
      `const { createHttpTransport, readCappedText } = await import(${JSON.stringify(client)});` +
      `const t = createHttpTransport(5000);` +
      `console.log(await readCappedText(await t.request(${JSON.stringify(lb.url)}, { method: "GET" }), 1024));`;
    const started = performance.now();
    // Asynchronously: the server answering it lives in this process.
    const { stdout } = await promisify(execFile)(process.execPath, ["--input-type=module", "-e", script]);
    expect(stdout.trim()).toBe("ok");
    // The connection stays open for 4 s; the process ends as soon as its work is done.
    expect(performance.now() - started).toBeLessThan(3_000);
  });
});

describe("TLS", () => {
  let dir: string;
  let pem: (name: string) => Buffer;

  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), "http-client-tls-"));
    const ssl = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "ignore" });
    selfSignedCert(dir, "ca", "/CN=test CA");
    const issue = (name: string, subject: string, ext: string) => {
      writeFileSync(path.join(dir, `${name}.ext`), ext);
      ssl(
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        subject,
        "-keyout",
        `${name}.key`,
        "-out",
        `${name}.csr`,
      );
      ssl(
        "x509",
        "-req",
        "-in",
        `${name}.csr`,
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "1",
        "-extfile",
        `${name}.ext`,
        "-out",
        `${name}.crt`,
      );
    };
    // The server's certificate names a DNS name only: reaching it by IP needs the server name set.
    issue("server", "/CN=vault.internal", "subjectAltName=DNS:vault.internal\nextendedKeyUsage=serverAuth\n");
    issue("client", "/CN=rotator", "extendedKeyUsage=clientAuth\n");
    pem = (name) => readFileSync(path.join(dir, name));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  async function tlsServer(requireClientCert: boolean): Promise<Loopback & { peers: string[] }> {
    const peers: string[] = [];
    const s = createHttpsServer(
      {
        key: pem("server.key"),
        cert: pem("server.crt"),
        ca: pem("ca.crt"),
        requestCert: requireClientCert,
        rejectUnauthorized: requireClientCert,
      },
      (req, res) => {
        const peer = (req.socket as TLSSocket).getPeerCertificate();
        peers.push(String(peer?.subject?.CN ?? "none"));
        res.end("secure");
      },
    );
    return { ...(await listen(s, "https")), peers };
  }

  it("trusts a private CA, presents a client certificate and checks the server name", async () => {
    const lb = await tlsServer(true);
    const t = use(
      createHttpTransport(5_000, {
        ca: [pem("ca.crt")],
        cert: pem("client.crt"),
        key: pem("client.key"),
        servername: "vault.internal",
      }),
    );
    for (let i = 0; i < 2; i++) {
      expect(await readCappedText(await t.request(`${lb.url}/v1/sys/health`, { method: "GET" }), MiB)).toBe(
        "secure",
      );
    }
    expect(lb.peers).toEqual(["rotator", "rotator"]);
    expect(lb.connections()).toBe(1);
  });

  it("refuses a server whose CA is not trusted, or whose name does not match, before sending anything", async () => {
    const lb = await tlsServer(false);
    const untrusted = use(createHttpTransport(5_000, { servername: "vault.internal" }));
    const e1 = transportErrorCode(await caught(untrusted.request(lb.url, { method: "POST", body: "{}" })));
    const wrongName = use(createHttpTransport(5_000, { ca: [pem("ca.crt")] }));
    const e2 = transportErrorCode(await caught(wrongName.request(lb.url, { method: "GET" })));
    expect([e1, e2]).toEqual(["SELF_SIGNED_CERT_IN_CHAIN", "ERR_TLS_CERT_ALTNAME_INVALID"]);
    for (const code of [e1, e2]) {
      expect(isTlsErrorCode(code ?? "")).toBe(true);
      expect(isNotSentCode(code ?? "")).toBe(true);
    }
    expect(lb.peers).toEqual([]);
  });

  it("skips verification only when told to", async () => {
    const lb = await tlsServer(false);
    const t = use(createHttpTransport(5_000, { rejectUnauthorized: false }));
    expect(await readCappedText(await t.request(lb.url, { method: "GET" }), MiB)).toBe("secure");
  });

  it("a server that requires a client certificate refuses a client without one", async () => {
    const lb = await tlsServer(true);
    const t = use(createHttpTransport(5_000, { ca: [pem("ca.crt")], servername: "vault.internal" }));
    await caught(t.request(lb.url, { method: "GET" }));
    expect(lb.peers).toEqual([]);
  });
});

describe("errors never carry a secret", () => {
  it("not the path, the query, the user info or a header value, whatever the failure", async () => {
    const secretPath = `/v1/secret/data/${CANARY}?token=${CANARY}`;
    const headers = { "x-vault-token": CANARY, authorization: `Bearer ${CANARY}` };
    const errors: unknown[] = [];
    // Refused.
    const probe = await httpServer(() => {});
    const refusedUrl = probe.url.replace("http://", `http://user:${CANARY}@`);
    await new Promise<void>((r) => (probe.server as Server).close(() => r()));
    const t = use(createHttpTransport(300));
    errors.push(await caught(t.request(`${refusedUrl}${secretPath}`, { method: "GET", headers })));
    // Connect timeout (TLS never completes), headers timeout, body timeout, reset mid-body, TLS refused.
    const silent = await listen(
      createNetServer(() => {}),
      "https",
    );
    errors.push(await caught(t.request(`${silent.url}${secretPath}`, { method: "GET", headers })));
    const lb = await httpServer((req, res) => {
      if (req.url?.startsWith("/v1/stall")) {
        res.writeHead(200);
        res.write("x");
      } else if (req.url?.startsWith("/v1/reset")) {
        res.writeHead(200);
        res.write("x", () => req.socket.destroy());
      }
    });
    errors.push(await caught(t.request(`${lb.url}${secretPath}`, { method: "POST", headers, body: CANARY })));
    for (const what of ["stall", "reset"]) {
      const res = await t.request(`${lb.url}/v1/${what}/${CANARY}?q=${CANARY}`, { method: "GET", headers });
      errors.push(await caught(readCappedText(res, MiB)));
    }
    const tls = await listen(
      createHttpsServer({ key: selfSigned().key, cert: selfSigned().cert }, (_q, s) => s.end()),
      "https",
    );
    errors.push(await caught(t.request(`${tls.url}${secretPath}`, { method: "GET", headers })));
    // A header value Node refuses: its error names the header only.
    errors.push(
      await caught(t.request(`${lb.url}/x`, { method: "GET", headers: { "x-vault-token": `${CANARY}\n` } })),
    );
    expect(errors.map((e) => transportErrorCode(e))).toEqual([
      "ECONNREFUSED",
      "UND_ERR_CONNECT_TIMEOUT",
      "UND_ERR_HEADERS_TIMEOUT",
      "UND_ERR_BODY_TIMEOUT",
      "ECONNRESET",
      "DEPTH_ZERO_SELF_SIGNED_CERT",
      "ERR_INVALID_CHAR",
    ]);
    for (const err of errors) expect(everything(err)).not.toContain(CANARY);
  });
});

let cached: { key: string; cert: string } | undefined;
function selfSigned(): { key: string; cert: string } {
  if (cached) return cached;
  const dir = mkdtempSync(path.join(tmpdir(), "http-client-self-"));
  const { certFile, keyFile } = selfSignedCert(dir, "self", "/CN=127.0.0.1");
  cached = { key: readFileSync(keyFile, "utf8"), cert: readFileSync(certFile, "utf8") };
  rmSync(dir, { recursive: true, force: true });
  return cached;
}
