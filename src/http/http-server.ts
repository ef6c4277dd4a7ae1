// The daemon's HTTP face: probes, metrics, the JSON API and the status page, over the DaemonView port.
// buildHttpApp never listens (tests use inject()); startHttpServer listens and returns a closer.
// Fastify's own logger is off: one access record per request goes to deps.log, without headers or paths.
import { randomUUID } from "node:crypto";
import type { AddressInfo } from "node:net";
import Fastify, { type FastifyInstance, type FastifyRequest } from "fastify";
import { classifyError } from "../core/errors.ts";
import { registerCredentialRoutes } from "./credential-routes.ts";
import type { HttpDeps } from "./http-deps.ts";
import { mapError, refuseOtherMethods, sendError } from "./http-errors.ts";
import { allowedHostNames, refuseForeignHost, refuseUnauthenticatedRead } from "./request-guard.ts";
import { registerRotationRoutes } from "./rotation-routes.ts";
import { registerStatusPageRoute, STATUS_PAGE_CSS_HASH } from "./status-page.ts";

export type { HttpAccessRecord, HttpDeps, UnauthorizedEvent } from "./http-deps.ts";

/** The rotate body is tiny; anything larger is a mistake or an attack. */
const BODY_LIMIT_BYTES = 16 * 1024;

export function buildHttpApp(deps: HttpDeps): FastifyInstance {
  const failures = new WeakMap<FastifyRequest, string>();
  const hostNames = allowedHostNames(deps.allowedHosts ?? []);
  const app = Fastify({
    logger: false,
    bodyLimit: BODY_LIMIT_BYTES,
    genReqId: () => randomUUID(),
    // Never trust a caller's request id: it ends up in logs.
    requestIdHeader: false,
    requestTimeout: 30_000,
    connectionTimeout: 30_000,
    return503OnClosing: true,
    frameworkErrors: (err, request, reply) => {
      // A request fastify could not route still gets the Host check first.
      if (refuseForeignHost(request, reply, hostNames) !== undefined) return;
      const mapped = mapError(err);
      sendError(reply, mapped.status, mapped.code, mapped.message);
    },
  });

  // JSON only: fastify also parses text/plain by default, which no route here wants (→ 415).
  app.removeContentTypeParser("text/plain");

  // The first hooks, in this order: the Host check before anything else, then read auth (when configured),
  // both ahead of every route's own hooks and handlers (and of the 404 and 405 answers).
  app.addHook("onRequest", async (request, reply) => refuseForeignHost(request, reply, hostNames));
  app.addHook("onRequest", async (request, reply) => refuseUnauthenticatedRead(request, reply, deps));

  app.addHook("onSend", async (request, reply, payload) => {
    reply.header("x-request-id", request.id);
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) reply.header(name, value);
    return payload;
  });

  if (deps.log !== undefined) {
    const log = deps.log;
    app.addHook("onResponse", async (request, reply) => {
      const error = failures.get(request);
      log({
        msg: "http request",
        method: request.method,
        route: request.routeOptions.url ?? null,
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime * 10) / 10,
        requestId: request.id,
        ...(error === undefined ? {} : { error }),
      });
    });
  }

  app.setErrorHandler((err, request, reply) => {
    const mapped = mapError(err);
    if (mapped.status >= 500) failures.set(request, classifyError(err));
    return sendError(reply, mapped.status, mapped.code, mapped.message);
  });
  app.setNotFoundHandler((_request, reply) => sendError(reply, 404, "NOT_FOUND", "no such route"));

  registerHealthRoutes(app, deps);
  registerCredentialRoutes(app, deps);
  registerRotationRoutes(app, deps);
  registerStatusPageRoute(app, deps);
  return app;
}

export interface RunningHttpServer {
  /** e.g. "http://127.0.0.1:8080" (a wildcard listen address is shown as loopback). */
  readonly url: string;
  close(): Promise<void>;
}

export async function startHttpServer(
  deps: HttpDeps,
  listen: { readonly host: string; readonly port: number },
): Promise<RunningHttpServer> {
  // A listen address given as a name is a name this server answers for.
  const app = buildHttpApp({ ...deps, allowedHosts: [...(deps.allowedHosts ?? []), listen.host] });
  await app.listen({ host: listen.host, port: listen.port });
  const address = app.server.address() as AddressInfo;
  return {
    url: `http://${displayHost(address)}:${address.port}`,
    close: async () => {
      await app.close();
    },
  };
}

function displayHost(address: AddressInfo): string {
  if (address.address === "0.0.0.0") return "127.0.0.1";
  if (address.address === "::") return "[::1]";
  return address.family === "IPv6" ? `[${address.address}]` : address.address;
}

// Probes and metrics: /healthz (the process answers; no I/O), /readyz (the daemon's checks), /metrics.
function registerHealthRoutes(app: FastifyInstance, deps: HttpDeps): void {
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
