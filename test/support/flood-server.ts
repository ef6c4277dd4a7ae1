// A loopback HTTP server whose answer is far too large: 200 MiB streamed without a Content-Length ("stream"), or
// a Content-Length of 200 MiB announced up front ("declared", the body then held back for a while so a client
// that trusts the header hangs up before a byte of it is sent). It counts the body bytes it wrote before the
// client hung up: a client that stopped early leaves that count near its cap (plus what the loopback socket
// buffers hold), far below 200 MiB, which also bounds what the client can have held in memory.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export const FLOOD_BYTES = 200 * 1024 * 1024;
const CHUNK = Buffer.alloc(64 * 1024, "a");

interface FloodAnswer {
  readonly status: number;
  readonly body: string;
}

export interface FloodServer {
  readonly url: string;
  /** "METHOD /path" of every request, in order. */
  readonly requests: string[];
  /** Body bytes written per flooded answer, once its connection closed. */
  readonly sent: number[];
  /** Resolves once `n` flooded answers have ended (the client hung up, or all 200 MiB went out). */
  settled(n?: number, timeoutMs?: number): Promise<number[]>;
  close(): Promise<void>;
}

export interface FloodOptions {
  readonly mode: "stream" | "declared";
  readonly status?: number;
  /** Answers some requests normally (a token endpoint before the flooded call); undefined floods. */
  readonly answer?: (method: string, path: string) => FloodAnswer | undefined;
  /** "declared" mode: how long the body is held back after the headers. Default 1500 ms. */
  readonly holdMs?: number;
}

export async function startFloodServer(opts: FloodOptions): Promise<FloodServer> {
  const requests: string[] = [];
  const sent: number[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    req.on("end", () => {
      const path = (req.url ?? "/").split("?")[0] ?? "/";
      requests.push(`${req.method} ${path}`);
      const normal = opts.answer?.(req.method ?? "", path);
      if (normal !== undefined) {
        res.writeHead(normal.status, { "content-type": "application/json" });
        res.end(normal.body);
        return;
      }
      flood(res, opts, (n) => sent.push(n));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    requests,
    sent,
    async settled(n = 1, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      while (sent.length < n) {
        if (Date.now() > deadline) throw new Error(`only ${sent.length} of ${n} flooded answers ended`);
        await new Promise((r) => setTimeout(r, 20));
      }
      return [...sent];
    },
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

function flood(res: ServerResponse, opts: FloodOptions, done: (bytes: number) => void): void {
  let bytes = 0;
  let open = true;
  let timer: NodeJS.Timeout | undefined;
  res.on("close", () => {
    open = false;
    clearTimeout(timer);
    done(bytes);
  });
  res.on("error", () => {});
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (opts.mode === "declared") headers["content-length"] = String(FLOOD_BYTES);
  res.writeHead(opts.status ?? 200, headers);
  res.flushHeaders();
  const pump = () => {
    while (open && bytes < FLOOD_BYTES) {
      bytes += CHUNK.length;
      if (!res.write(CHUNK)) {
        res.once("drain", pump);
        return;
      }
    }
    if (open) res.end();
  };
  if (opts.mode === "declared") timer = setTimeout(pump, opts.holdMs ?? 1_500);
  else pump();
}
