// The HTTP face under test, listening on 127.0.0.1 port 0, and a client that sends real requests to it with
// node:http (the path goes out byte for byte, the Host header can be anything) and reads the answer whole.
import { request as httpRequest } from "node:http";
import type { HttpDeps } from "../../src/http/http-server.ts";
import { startHttpServer } from "../../src/http/http-server.ts";

interface ApiRequest {
  readonly method?: string;
  /** Path and query, sent as written. */
  readonly url: string;
  readonly headers?: Readonly<Record<string, string>>;
  /** A string goes as is; anything else as JSON (with content-type application/json unless set). */
  readonly payload?: unknown;
}

export interface ApiResponse {
  readonly statusCode: number;
  /** Lower-case names; a header sent more than once is an array, in the order sent. */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: string;
  // biome-ignore lint/suspicious/noExplicitAny: test convenience, like a parsed response body anywhere
  json(): any;
}

export interface TestApi {
  readonly url: string;
  request(request: string | ApiRequest): Promise<ApiResponse>;
  close(): Promise<void>;
}

export async function startTestApi(
  deps: HttpDeps,
  options: { readonly requestTimeoutMs?: number } = {},
): Promise<TestApi> {
  const server = await startHttpServer(deps, { host: "127.0.0.1", port: 0, ...options });
  return {
    url: server.url,
    request: (request) => sendRequest(server.url, typeof request === "string" ? { url: request } : request),
    close: () => server.close(),
  };
}

/** One request on a connection of its own; resolves when the whole answer is in. */
function sendRequest(baseUrl: string, request: ApiRequest): Promise<ApiResponse> {
  const { hostname, port } = new URL(baseUrl);
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers ?? {})) headers[name.toLowerCase()] = value;
  let body: string | undefined;
  if (request.payload !== undefined) {
    body = typeof request.payload === "string" ? request.payload : JSON.stringify(request.payload);
    if (typeof request.payload !== "string") headers["content-type"] ??= "application/json";
    headers["content-length"] = String(Buffer.byteLength(body));
  }
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: hostname, port, method: request.method ?? "GET", path: request.url, headers, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("error", reject);
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          resolve({
            statusCode: res.statusCode ?? 0,
            headers: headersOf(res.rawHeaders),
            body: text,
            json: () => JSON.parse(text),
          });
        });
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

function headersOf(raw: readonly string[]): Record<string, string | string[]> {
  const headers: Record<string, string | string[]> = {};
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = (raw[i] ?? "").toLowerCase();
    const value = raw[i + 1] ?? "";
    const prior = headers[name];
    headers[name] = prior === undefined ? value : [...(Array.isArray(prior) ? prior : [prior]), value];
  }
  return headers;
}
