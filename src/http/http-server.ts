// The daemon's HTTP face: probes, metrics, the JSON API and the status page, over the DaemonView port, on
// node:http with the small router of http-router.ts. Every request passes, in this order: 503 while the
// server closes, the Host check, read auth (when configured), then routing (404, 405), the route's own hook,
// the JSON body, the handler. One access record per request goes to deps.log, without headers or paths.
import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import { classifyError } from "../core/errors.ts";
import { registerCredentialRoutes } from "./credential-routes.ts";
import type { HttpDeps } from "./http-deps.ts";
import { mapError, refuseOtherMethods, sendError } from "./http-errors.ts";
import {
  HttpReply,
  type HttpRequest,
  type RouteMatch,
  Router,
  readJsonBody,
  splitUrl,
} from "./http-router.ts";
import { allowedHostNames, refuseForeignHost, refuseUnauthenticatedRead } from "./request-guard.ts";
import { registerRotationRoutes } from "./rotation-routes.ts";
import { registerStatusPageRoute, STATUS_PAGE_CSS_HASH } from "./status-page.ts";

export type { HttpAccessRecord, HttpDeps, UnauthorizedEvent } from "./http-deps.ts";

// Taken with getBuiltinModule, not imported: an ES import of node:http builds its module namespace, which
// reads http's lazy WebSocket getters and so loads Node's bundled undici (about 9 MB resident) for nothing.
const http = process.getBuiltinModule("node:http");

/** The rotate body is tiny; anything larger is a mistake or an attack. */
const BODY_LIMIT_BYTES = 16 * 1024;
/** A whole request (headers and body) must arrive within this; a slow sender is cut off with 408. */
const REQUEST_TIMEOUT_MS = 30_000;
/** A connection silent this long is closed. */
const IDLE_TIMEOUT_MS = 30_000;
/** An idle keep-alive connection is kept this long (longer than the usual 60 s of a proxy in front). */
const KEEP_ALIVE_TIMEOUT_MS = 72_000;

type RequestListener = (req: IncomingMessage, res: ServerResponse) => void;

/** The request listener for node:http; `closing()` true answers every new request 503. */
function buildHttpApp(deps: HttpDeps, closing: () => boolean): RequestListener {
  const hostNames = allowedHostNames(deps.allowedHosts ?? []);
  const router = new Router();
  registerHealthRoutes(router, deps);
  registerCredentialRoutes(router, deps);
  registerRotationRoutes(router, deps);
  registerStatusPageRoute(router, deps);

  return (req, res) => {
    const started = performance.now();
    const id = randomUUID();
    res.setHeader("x-request-id", id);
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) res.setHeader(name, value);

    const { path, query } = splitUrl(req.url ?? "/");
    let match: RouteMatch | undefined;
    let badUrl: unknown;
    try {
      match = router.find(req.method ?? "", path);
    } catch (err) {
      badUrl = err;
    }
    const request: HttpRequest = {
      id,
      method: req.method ?? "",
      headers: req.headers,
      ip: req.socket.remoteAddress ?? "",
      // A URL known under another method only (TRACE /healthz) is no route, as a 404 says.
      route: match?.handler === undefined ? null : match.pattern,
      params: match?.params ?? {},
      query,
      body: undefined,
    };
    const reply = new HttpReply(request, res, closing);
    let failure: string | undefined;

    if (deps.log !== undefined) {
      const log = deps.log;
      // On "finish": a request whose client went away before its answer was never answered, so not logged.
      res.once("finish", () => {
        log({
          msg: "http request",
          method: request.method,
          route: request.route,
          status: res.statusCode,
          ms: Math.round((performance.now() - started) * 10) / 10,
          requestId: id,
          ...(failure === undefined ? {} : { error: failure }),
        });
      });
    }

    const serve = async (): Promise<void> => {
      if (closing()) {
        sendError(reply, 503, "UNAVAILABLE", "the server is shutting down; try again later");
        return;
      }
      if (refuseForeignHost(request, reply, hostNames) !== undefined) return;
      if (badUrl !== undefined) throw badUrl;
      await refuseUnauthenticatedRead(request, reply, deps);
      if (reply.sent) return;
      if (match?.handler === undefined) {
        sendError(reply, 404, "NOT_FOUND", "no such route");
        return;
      }
      await match.onRequest?.(request, reply);
      if (reply.sent) return;
      request.body = await readJsonBody(req, BODY_LIMIT_BYTES);
      const result = await match.handler(request, reply);
      if (!reply.sent) reply.send(result);
    };
    serve().catch((err: unknown) => {
      const mapped = mapError(err);
      if (mapped.status >= 500) failure = classifyError(err);
      if (reply.sent) return;
      // A body left unread (too large, wrong type) is not worth reading on: the connection ends here.
      if (!req.complete) reply.header("connection", "close");
      sendError(reply, mapped.status, mapped.code, mapped.message);
    });
  };
}

export interface RunningHttpServer {
  /** e.g. "http://127.0.0.1:8080" (a wildcard listen address is shown as loopback). */
  readonly url: string;
  /** Stops accepting, answers 503 to requests on open connections, waits for those under way. */
  close(): Promise<void>;
}

export async function startHttpServer(
  deps: HttpDeps,
  listen: {
    readonly host: string;
    readonly port: number;
    /** How long a request may take to arrive; default 30 s (tests shorten it). */
    readonly requestTimeoutMs?: number;
  },
): Promise<RunningHttpServer> {
  let closing = false;
  const requestTimeout = listen.requestTimeoutMs ?? REQUEST_TIMEOUT_MS;
  // A listen address given as a name is a name this server answers for.
  const app = buildHttpApp(
    { ...deps, allowedHosts: [...(deps.allowedHosts ?? []), listen.host] },
    () => closing,
  );
  const server = http.createServer(
    {
      requestTimeout,
      // How often node looks for requests over their time; the default (30 s) would double a short timeout.
      connectionsCheckingInterval: Math.min(30_000, Math.max(100, Math.floor(requestTimeout / 4))),
      keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
    },
    app,
  );
  server.setTimeout(Math.max(IDLE_TIMEOUT_MS, requestTimeout));
  server.on("clientError", answerClientError);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host: listen.host, port: listen.port }, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  let closed: Promise<void> | undefined;
  return {
    url: `http://${displayHost(address)}:${address.port}`,
    close: () => {
      closed ??= new Promise<void>((resolve) => {
        closing = true;
        server.close(() => resolve());
        server.closeIdleConnections();
      });
      return closed;
    },
  };
}

/**
 * A request node:http could not parse, or one that did not arrive in time: a short answer in the error shape
 * (408 for the timeout, 431 for oversized headers, 400 otherwise), then the connection is closed.
 */
function answerClientError(err: Error & { code?: string }, socket: Duplex): void {
  if (err.code === "ECONNRESET" || socket.destroyed) return;
  const [status, message] =
    err.code === "ERR_HTTP_REQUEST_TIMEOUT"
      ? [408, "the request did not arrive in time"]
      : err.code === "HPE_HEADER_OVERFLOW"
        ? [431, "request headers are too large"]
        : [400, "request could not be parsed"];
  if (socket.writable) {
    const requestId = randomUUID();
    const body = JSON.stringify({ error: { code: "BAD_REQUEST", message, requestId } });
    const headers = [
      `HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? ""}`,
      "content-type: application/json; charset=utf-8",
      `content-length: ${Buffer.byteLength(body)}`,
      `x-request-id: ${requestId}`,
      ...Object.entries(SECURITY_HEADERS).map(([name, value]) => `${name}: ${value}`),
      "connection: close",
    ];
    socket.write(`${headers.join("\r\n")}\r\n\r\n${body}`);
  }
  socket.destroy(err);
}

function displayHost(address: AddressInfo): string {
  if (address.address === "0.0.0.0") return "127.0.0.1";
  if (address.address === "::") return "[::1]";
  return address.family === "IPv6" ? `[${address.address}]` : address.address;
}

// Probes and metrics: /healthz (the process answers; no I/O), /readyz (the daemon's checks), /metrics.
function registerHealthRoutes(app: Router, deps: HttpDeps): void {
  app.get("/healthz", async () => ({ status: "ok" }));
  refuseOtherMethods(app, "/healthz", ["GET"]);

  app.get("/readyz", async (_request, reply) => {
    let checks: readonly { name: string; ok: boolean; detail: string }[];
    try {
      checks = (await deps.view.readiness()).map(({ name, ok, detail }) => ({ name, ok, detail }));
    } catch {
      // A probe wants a status, not a 500: the checks themselves could not run.
      checks = [{ name: "readiness", ok: false, detail: "readiness checks could not run" }];
    }
    const ready = checks.every((c) => c.ok);
    return reply.code(ready ? 200 : 503).send({ status: ready ? "ready" : "not_ready", checks });
  });
  refuseOtherMethods(app, "/readyz", ["GET"]);

  app.get("/metrics", async (_request, reply) => {
    const { contentType, body } = await deps.view.metrics();
    return reply.type(contentType).send(body);
  });
  refuseOtherMethods(app, "/metrics", ["GET"]);
}

// Headers on every response, JSON and HTML alike. The CSP allows exactly the status page's own inline
// stylesheet (by hash) and nothing else: no scripts, no images, no frames, no forms.
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  `style-src '${STATUS_PAGE_CSS_HASH}'`,
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  "content-security-policy": CONTENT_SECURITY_POLICY,
  "x-content-type-options": "nosniff",
  "cache-control": "no-store",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
  "cross-origin-resource-policy": "same-origin",
};
