// A loopback HTTP server standing in for Slack, Teams or any webhook receiver: it records every request (method,
// path, headers, raw and parsed body) and answers from a script (e.g. 503, 503, then 200; 429 with Retry-After;
// a dropped connection). Shared by the chat adapter tests and the daemon's end-to-end test.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

interface RecordedRequest {
  readonly method: string;
  /** Path with query string, as sent. */
  readonly path: string;
  /** Lower-case header names. */
  readonly headers: Readonly<Record<string, string>>;
  readonly rawBody: string;
  /** JSON.parse(rawBody), or undefined when the body is not JSON. */
  readonly body: unknown;
}

type ScriptedResponse =
  | {
      readonly status: number;
      readonly headers?: Readonly<Record<string, string>>;
      readonly body?: string;
      /** Wait this long before answering (to trip client timeouts). */
      readonly delayMs?: number;
    }
  /** Close the connection without an answer (a transport failure). */
  | "drop";

export interface WebhookReceiver {
  /** http://127.0.0.1:<port> (append any path). */
  readonly url: string;
  readonly requests: RecordedRequest[];
  /** Queues answers for the next requests, in order; once used up, requests get the default (200 "ok"). */
  respondWith(...responses: ScriptedResponse[]): void;
  /** Sets the answer used when the queue is empty. */
  respondByDefault(response: ScriptedResponse): void;
  /** Resolves with the requests once at least `n` have arrived; rejects after timeoutMs. */
  waitFor(n: number, timeoutMs?: number): Promise<RecordedRequest[]>;
  close(): Promise<void>;
}

export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const requests: RecordedRequest[] = [];
  const queue: ScriptedResponse[] = [];
  let fallback: ScriptedResponse = { status: 200, body: "ok" };
  const waiters: Array<() => void> = [];

  const server = createServer((req, res) => {
    void handle(req, res);
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const rawBody = Buffer.concat(chunks).toString("utf8");
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) {
      if (v !== undefined) headers[k.toLowerCase()] = Array.isArray(v) ? v.join(", ") : v;
    }
    requests.push({
      method: req.method ?? "",
      path: req.url ?? "",
      headers,
      rawBody,
      body: parseJson(rawBody),
    });
    for (const w of waiters.splice(0)) w();
    const answer = queue.shift() ?? fallback;
    if (answer === "drop") {
      req.socket.destroy();
      return;
    }
    if (answer.delayMs !== undefined) await new Promise((r) => setTimeout(r, answer.delayMs));
    if (res.destroyed) return;
    res.writeHead(answer.status, { "content-type": "text/plain", ...answer.headers });
    res.end(answer.body ?? "");
  }

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    respondWith: (...responses) => {
      queue.push(...responses);
    },
    respondByDefault: (response) => {
      fallback = response;
    },
    waitFor: async (n, timeoutMs = 5_000) => {
      const deadline = Date.now() + timeoutMs;
      while (requests.length < n) {
        const left = deadline - Date.now();
        if (left <= 0) {
          throw new Error(
            `webhook receiver: expected ${n} requests, got ${requests.length} in ${timeoutMs} ms`,
          );
        }
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, left);
          waiters.push(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
      return requests.slice();
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
