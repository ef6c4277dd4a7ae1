// The HTTP/1.1 wire format of the outbound client: the request head it writes, and the parser of the answers it
// reads, fed whole, split at every byte, and side by side with Node's own parser (llhttp, through node:http) on
// generated answers, malformed ones included: whatever ours accepts, Node's must accept with the same status
// and body; ours may only be stricter.
import { get } from "node:http";
import { createServer, type Server } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  HttpWireError,
  type RequestHead,
  ResponseParser,
  requestHead,
} from "../../../src/adapters/http/http1-wire.ts";

interface Parsed {
  statusCode: number;
  headers: Record<string, unknown>;
  body: string;
  reusable: boolean;
}

/** Feeds `pieces` in order, then the end of the connection when `eof`; throws what the parser throws. */
function parse(
  pieces: readonly Buffer[],
  opts: { headRequest?: boolean; eof?: boolean } = {},
): Parsed | "open" {
  let head: { statusCode: number; headers: Record<string, unknown> } | undefined;
  const body: Buffer[] = [];
  let ended: boolean | undefined;
  const parser = new ResponseParser(
    {
      head: (h) => {
        head = { statusCode: h.statusCode, headers: { ...h.headers } };
      },
      body: (chunk) => body.push(Buffer.from(chunk)),
      end: (reusable) => {
        ended = reusable;
      },
    },
    opts.headRequest ?? false,
  );
  for (const piece of pieces) parser.feed(piece);
  if (opts.eof) parser.eof();
  if (ended === undefined || head === undefined) return "open";
  return { ...head, body: Buffer.concat(body).toString("latin1"), reusable: ended };
}

const whole = (text: string, opts?: { headRequest?: boolean; eof?: boolean }) =>
  parse([Buffer.from(text, "latin1")], opts);

function refusal(text: string, opts?: { headRequest?: boolean; eof?: boolean }): string {
  try {
    whole(text, opts);
  } catch (err) {
    expect(err).toBeInstanceOf(HttpWireError);
    return (err as HttpWireError).code;
  }
  throw new Error(`accepted: ${JSON.stringify(text)}`);
}

describe("the request head", () => {
  const base: RequestHead = {
    method: "GET",
    target: "/v1/secret/metadata/a%20b?list=true",
    host: "vault:8200",
    keepAlive: true,
  };

  it("writes the request line, Host, the caller's headers, Content-Length for a body, and Connection", () => {
    expect(requestHead({ ...base, headers: { "x-vault-token": "t", "x-vault-request": "true" } })).toBe(
      "GET /v1/secret/metadata/a%20b?list=true HTTP/1.1\r\nHost: vault:8200\r\nx-vault-token: t\r\n" +
        "x-vault-request: true\r\nConnection: keep-alive\r\n\r\n",
    );
    expect(requestHead({ ...base, method: "POST", contentLength: 12, keepAlive: false })).toBe(
      "POST /v1/secret/metadata/a%20b?list=true HTTP/1.1\r\nHost: vault:8200\r\nContent-Length: 12\r\n" +
        "Connection: close\r\n\r\n",
    );
  });

  it("refuses a header value that could end the header (CR, LF, NUL), naming the header and never the value", () => {
    for (const value of ["s3cr3t\r\nx-evil: 1", "s3cr3t\n", "s3cr3t\0", "s3cr3t€"]) {
      const err = (() => {
        try {
          requestHead({ ...base, headers: { "x-vault-token": value } });
        } catch (e) {
          return e as HttpWireError;
        }
        throw new Error("accepted");
      })();
      expect(err.code).toBe("ERR_INVALID_CHAR");
      expect(err.message).toContain("x-vault-token");
      expect(err.message).not.toContain("s3cr3t");
    }
  });

  it("says Content-Length: 0 for a POST, PUT or PATCH without a body, and nothing for a GET", () => {
    for (const method of ["POST", "PUT", "PATCH"])
      expect(requestHead({ ...base, method })).toContain("\r\nContent-Length: 0\r\n");
    for (const method of ["GET", "DELETE", "LIST"])
      expect(requestHead({ ...base, method })).not.toContain("Content-Length");
  });

  it("refuses a header given twice in any case, and a value that is not a string", () => {
    expect(() => requestHead({ ...base, headers: { "X-Vault-Token": "a", "x-vault-token": "b" } })).toThrow(
      /given twice/,
    );
    const notText = { "x-vault-token": undefined } as unknown as Record<string, string>;
    expect(() => requestHead({ ...base, headers: notText })).toThrow(HttpWireError);
  });

  it("refuses headers that would change the framing, a method that is not a token, and an unescaped target", () => {
    for (const name of ["Host", "content-length", "Transfer-Encoding", "connection"]) {
      expect(() => requestHead({ ...base, headers: { [name]: "x" } })).toThrow(/set by the HTTP client/);
    }
    expect(() => requestHead({ ...base, headers: { "bad name": "x" } })).toThrow(HttpWireError);
    expect(() => requestHead({ ...base, method: "GET /x HTTP/1.1\r\n" })).toThrow(HttpWireError);
    for (const target of ["/a b", "/a\r\nx", "relative", "/é"]) {
      expect(() => requestHead({ ...base, target })).toThrow(HttpWireError);
    }
  });
});

describe("the answer parser", () => {
  it("frames a body by Content-Length and keeps the connection", () => {
    expect(whole("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nhello")).toEqual({
      statusCode: 200,
      headers: { "content-length": "5", "content-type": "text/plain" },
      body: "hello",
      reusable: true,
    });
    expect(whole("HTTP/1.1 204 No Content\r\n\r\n")).toMatchObject({
      statusCode: 204,
      body: "",
      reusable: true,
    });
    expect(whole("HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n")).toMatchObject({ body: "", reusable: true });
    expect(whole("HTTP/1.1 200\r\nContent-Length: 1\r\n\r\nx")).toMatchObject({ body: "x" });
  });

  it("reads a chunked body with extensions and trailers", () => {
    const text =
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" +
      "5;name=value\r\nhello\r\n1 \r\n,\r\n6\r\n world\r\n0\r\nx-checksum: abc\r\n\r\n";
    expect(whole(text)).toMatchObject({ body: "hello, world", reusable: true });
  });

  it("reads a body without a length to the end of the connection, which is then not reused", () => {
    const text = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end";
    expect(whole(text)).toBe("open");
    expect(whole(text, { eof: true })).toMatchObject({ body: "until the end", reusable: false });
  });

  it("gives no body to HEAD, 204 and 304, whatever their headers say", () => {
    expect(whole("HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n", { headRequest: true })).toMatchObject({
      body: "",
      reusable: true,
    });
    expect(whole("HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\n")).toMatchObject({ body: "" });
    expect(whole("HTTP/1.1 204 No Content\r\nTransfer-Encoding: chunked\r\n\r\n")).toMatchObject({
      body: "",
    });
  });

  it("skips interim answers and refuses a protocol switch", () => {
    const text =
      "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok";
    expect(whole(text)).toMatchObject({ statusCode: 201, body: "ok" });
    expect(refusal("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n")).toBe(
      "HPE_INVALID_STATUS",
    );
  });

  it("keeps the connection only when both sides may: Connection: close, HTTP/1.0", () => {
    expect(whole("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")).toMatchObject({
      reusable: false,
    });
    expect(
      whole("HTTP/1.1 200 OK\r\nConnection: Keep-Alive, Close\r\nContent-Length: 0\r\n\r\n"),
    ).toMatchObject({
      reusable: false,
    });
    expect(whole("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n")).toMatchObject({ reusable: false });
    expect(whole("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n")).toMatchObject({
      reusable: true,
    });
    const chunked10 =
      "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
    expect(whole(chunked10)).toMatchObject({ reusable: false });
  });

  it("refuses an answer followed by more bytes: a wrong length or a smuggled second answer is never handed over", () => {
    const smuggled =
      "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nevil";
    expect(refusal(smuggled)).toBe("HPE_EXTRA_BYTES");
    expect(refusal("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokay")).toBe("HPE_EXTRA_BYTES");
    expect(refusal("HTTP/1.1 204 No Content\r\n\r\nx")).toBe("HPE_EXTRA_BYTES");
    const twoEnds = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n0\r\n\r\n";
    expect(refusal(twoEnds)).toBe("HPE_EXTRA_BYTES");
  });

  it("merges repeated headers as Node does, and a __proto__ header is only a header", () => {
    const parsed = whole(
      "HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nset-cookie: b=2\r\nRetry-After: 3\r\nRetry-After: 9\r\n" +
        "X-Multi: a\r\nX-Multi:  b \r\n__proto__: polluted\r\nContent-Length: 0\r\n\r\n",
    );
    expect(parsed).not.toBe("open");
    const headers = (parsed as Parsed).headers;
    expect(headers["set-cookie"]).toEqual(["a=1", "b=2"]);
    expect(headers["retry-after"]).toBe("3");
    expect(headers["x-multi"]).toBe("a, b");
    expect(Object.getOwnPropertyDescriptor(headers, "__proto__")?.value).toBe("polluted");
    expect(({} as Record<string, unknown>)["polluted"]).toBeUndefined();
  });

  it("refuses what RFC 9112 says a recipient must not guess at", () => {
    const cases: Array<[string, string]> = [
      ["HTTP/1.1 200 OK\r\nX-A: 1\r\n folded\r\nContent-Length: 0\r\n\r\n", "HPE_INVALID_HEADER_TOKEN"],
      ["HTTP/1.1 200 OK\r\nContent-Length : 0\r\n\r\n", "HPE_INVALID_HEADER_TOKEN"],
      ["HTTP/1.1 200 OK\r\nX-A: 1\nContent-Length: 0\r\n\r\n", "HPE_INVALID_HEADER_TOKEN"],
      ["HTTP/1.1 200 OK\r\nX-A: a\rb\r\nContent-Length: 0\r\n\r\n", "HPE_INVALID_HEADER_TOKEN"],
      ["HTTP/1.1 200 OK\r\nX-A: a\0b\r\nContent-Length: 0\r\n\r\n", "HPE_INVALID_HEADER_TOKEN"],
      ["HTTP/1.1 200 OK\r\n: empty\r\nContent-Length: 0\r\n\r\n", "HPE_INVALID_HEADER_TOKEN"],
      ["HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", "HPE_INVALID_TRANSFER_ENCODING"],
      ["HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", "HPE_INVALID_TRANSFER_ENCODING"],
      [
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
        "HPE_UNEXPECTED_CONTENT_LENGTH",
      ],
      ["HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nxx", "HPE_INVALID_CONTENT_LENGTH"],
      ["HTTP/1.1 200 OK\r\nContent-Length: 1, 2\r\n\r\nxx", "HPE_INVALID_CONTENT_LENGTH"],
      ["HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nxx", "HPE_INVALID_CONTENT_LENGTH"],
      ["HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\n\r\nxx", "HPE_INVALID_CONTENT_LENGTH"],
      ["HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "HPE_INVALID_CONTENT_LENGTH"],
      ["HTTP/1.1 200 OK\r\nContent-Length: 0x10\r\n\r\n", "HPE_INVALID_CONTENT_LENGTH"],
      ["HTTP/1.1 200 OK\r\nContent-Length: 1234567890123456\r\n\r\n", "HPE_INVALID_CONTENT_LENGTH"],
      ["HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\ng\r\n", "HPE_INVALID_CHUNK_SIZE"],
      ["HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\n", "HPE_INVALID_CHUNK_SIZE"],
      ["HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000\r\n", "HPE_INVALID_CHUNK_SIZE"],
      [
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n",
        "HPE_INVALID_CHUNK_SIZE",
      ],
      [
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\nbad trailer\r\n\r\n",
        "HPE_INVALID_HEADER_TOKEN",
      ],
      ["HTTP/2 200 OK\r\n\r\n", "HPE_INVALID_STATUS"],
      ["HTTP/1.1 99 Low\r\n\r\n", "HPE_INVALID_STATUS"],
      ["HTTP/1.1 2000 OK\r\n\r\n", "HPE_INVALID_STATUS"],
      ["http/1.1 200 OK\r\n\r\n", "HPE_INVALID_STATUS"],
      ["HTTP/1.1 200 OK\r\nX: y\r\n".padEnd(17 * 1024, "a"), "HPE_HEADER_OVERFLOW"],
      [`HTTP/1.1 200 OK\r\n${"X-A: 1\r\n".repeat(300)}\r\n`, "HPE_HEADER_OVERFLOW"],
      [`HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1;${"x".repeat(5000)}`, "HPE_HEADER_OVERFLOW"],
    ];
    for (const [text, code] of cases)
      expect([JSON.stringify(text.slice(0, 80)), refusal(text)]).toEqual([
        JSON.stringify(text.slice(0, 80)),
        code,
      ]);
  });

  it("an answer cut short by the connection's end is a reset; no byte at all leaves the parser untouched", () => {
    expect(refusal("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhel", { eof: true })).toBe("ECONNRESET");
    expect(
      refusal("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n", { eof: true }),
    ).toBe("ECONNRESET");
    expect(refusal("HTTP/1.1 200 O", { eof: true })).toBe("ECONNRESET");
    const events = { head() {}, body() {}, end() {} };
    const fresh = new ResponseParser(events, false);
    expect(fresh.untouched).toBe(true);
    fresh.feed(Buffer.from("H"));
    expect(fresh.untouched).toBe(false);
    const interim = new ResponseParser(events, false);
    interim.feed(Buffer.from("HTTP/1.1 100 Continue\r\n\r\n"));
    expect(interim.untouched).toBe(false);
  });

  it("gives the same answer however the bytes are split: at every position, and one byte at a time", () => {
    const answers = [
      "HTTP/1.1 200 OK\r\nContent-Length: 11\r\nX-A: b\r\n\r\nhello world",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;e=1\r\nabc\r\n2\r\nde\r\n0\r\nT: v\r\n\r\n",
      "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\nno!",
    ];
    for (const text of answers) {
      const bytes = Buffer.from(text, "latin1");
      const expected = parse([bytes]);
      expect(expected).not.toBe("open");
      for (let at = 0; at <= bytes.length; at++) {
        expect(parse([bytes.subarray(0, at), bytes.subarray(at)])).toEqual(expected);
      }
      expect(parse([...bytes].map((b) => Buffer.from([b])))).toEqual(expected);
    }
  });
});

// ---- side by side with Node's parser ----------------------------------------------------------------------

/** A small deterministic generator (mulberry32), so a failure can be replayed. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Answers as servers send them, then with one of the mistakes a broken or hostile peer makes. */
function generate(rnd: () => number): { text: string; mutated: boolean } {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(rnd() * items.length)] as T;
  const body = "x".repeat(Math.floor(rnd() * 40)) + pick(["", '{"a":1}', "é"]);
  const bytes = Buffer.byteLength(body, "latin1");
  const status = pick(["HTTP/1.1 200 OK", "HTTP/1.1 404 Not Found", "HTTP/1.1 503 Busy", "HTTP/1.1 201 "]);
  const extra = pick([
    "",
    "Content-Type: application/json\r\n",
    "X-Request: 1\r\nCache-Control: no-store\r\n",
  ]);
  let framing: string;
  let payload: string;
  if (rnd() < 0.5) {
    framing = `Content-Length: ${bytes}\r\n`;
    payload = body;
  } else {
    framing = "Transfer-Encoding: chunked\r\n";
    const cut = Math.floor(rnd() * body.length);
    const parts = [body.slice(0, cut), body.slice(cut)].filter((p) => p !== "");
    payload = `${parts.map((p) => `${Buffer.byteLength(p, "latin1").toString(16)}\r\n${p}\r\n`).join("")}0\r\n\r\n`;
  }
  const clean = `${status}\r\n${extra}${framing}\r\n${payload}`;
  if (rnd() < 0.3) return { text: clean, mutated: false };
  const mutations: Array<(t: string) => string> = [
    (t) => t.replace(framing, `${framing}${framing}`),
    (t) => t.replace("Content-Length: ", "Content-Length : "),
    (t) => t.replace(`Content-Length: ${bytes}`, `Content-Length: ${bytes + 1}, ${bytes}`),
    (t) => t.replace(`Content-Length: ${bytes}`, `Content-Length: +${bytes}`),
    (t) => t.replace("Transfer-Encoding: chunked", "Transfer-Encoding: xchunked"),
    (t) => t.replace("Transfer-Encoding: chunked", "Transfer-Encoding: chunked\r\nContent-Length: 3"),
    (t) => t.replace("Transfer-Encoding: chunked", "Transfer-Encoding: gzip, chunked"),
    (t) => t.replace(/\r\n0\r\n/, "\r\nz\r\n"),
    (t) => t.replace(/\r\n\r\n/, "\r\n folded\r\n\r\n"),
    (t) => t.replace("\r\n", "\n"),
    (t) => t.replace(/\r\n(?=[A-Z])/, "\r\nX-Bad: a\rb\r\n"),
    (t) => t.replace("HTTP/1.1", pick(["HTTP/1.0", "HTTP/1.2", "HTTP/1.1 ", "HTTP/01.1"])),
    (t) => `HTTP/1.1 100 Continue\r\n\r\n${t}`,
    (t) => t.replace(/\r\n\r\n/, "\r\nX-Null: a\0b\r\n\r\n"),
    (t) => t.replace(/Content-Length: \d+/, `Content-Length: ${Math.max(0, bytes - 1)}`),
    (t) =>
      t.replace(/\r\n(\d|[a-f])+\r\n/, (m) =>
        m.replace("\r\n", "\r\n;ext=1").replace(/;ext=1(.*)\r\n$/, "$1;ext=1\r\n"),
      ),
    (t) => t.replace(/\r\n\r\n/, "\r\n\r\n\r\n"),
    (t) => t.slice(0, Math.floor(rnd() * t.length)),
    // Any byte, anywhere: replaced, or inserted, by one a parser has to think about.
    (t) => {
      const at = Math.floor(rnd() * t.length);
      return (
        t.slice(0, at) +
        pick([" ", "\t", "\r", "\n", ":", "\0", ";", ",", "0", "f", "\x7f", "\xff"]) +
        t.slice(at + 1)
      );
    },
    (t) => {
      const at = Math.floor(rnd() * t.length);
      return t.slice(0, at) + pick([" ", "\r\n", "\n", ":", "0", "\r\n\r\n", "1\r\n"]) + t.slice(at);
    },
  ];
  return { text: pick(mutations)(clean), mutated: true };
}

type Verdict = { statusCode: number; body: string } | "refused";

/** Node's reading of the answer: node:http's client against a server that writes the bytes and closes. */
async function nodeVerdict(port: number, respond: (bytes: Buffer) => void, text: string): Promise<Verdict> {
  respond(Buffer.from(text, "latin1"));
  return new Promise<Verdict>((resolve) => {
    const req = get({ host: "127.0.0.1", port, path: "/", agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () =>
        resolve({ statusCode: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("latin1") }),
      );
      res.on("error", () => resolve("refused"));
      res.on("aborted", () => resolve("refused"));
    });
    req.on("error", () => resolve("refused"));
  });
}

function ourVerdict(text: string): Verdict {
  try {
    const parsed = whole(text, { eof: true });
    return parsed === "open" ? "refused" : { statusCode: parsed.statusCode, body: parsed.body };
  } catch {
    return "refused";
  }
}

describe("side by side with Node's own parser", () => {
  let server: Server;
  let port = 0;
  let next: Buffer = Buffer.alloc(0);

  beforeAll(async () => {
    server = createServer((sock) => {
      const bytes = next;
      sock.on("error", () => {});
      sock.once("data", () => sock.end(bytes));
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    port = (server.address() as { port: number }).port;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it("never accepts an answer Node would refuse or read differently (2,000 generated answers, clean and broken)", async () => {
    const rnd = random(0x5eed);
    let accepted = 0;
    let cleanAccepted = 0;
    let clean = 0;
    for (let i = 0; i < 2000; i++) {
      const { text, mutated } = generate(rnd);
      const ours = ourVerdict(text);
      const theirs = await nodeVerdict(
        port,
        (b) => {
          next = b;
        },
        text,
      );
      if (ours !== "refused") {
        accepted++;
        expect({ text, verdict: theirs }).toEqual({ text, verdict: ours });
      }
      if (!mutated) {
        clean++;
        // Every well-formed answer is read, and read alike.
        expect({ text, verdict: ours }).toEqual({ text, verdict: theirs });
        if (ours !== "refused") cleanAccepted++;
      }
    }
    expect(cleanAccepted).toBe(clean);
    expect(clean).toBeGreaterThan(400);
    // The broken ones did not all fail for one trivial reason: some mutations leave a valid answer.
    expect(accepted).toBeGreaterThan(clean + 200);
  });
});
