// Probes and metrics: /healthz (the process answers; no I/O), /readyz (the daemon's checks), /metrics.

import type { FastifyInstance } from "fastify";
import type { HttpDeps } from "./http-deps.ts";
import { refuseOtherMethods } from "./method-not-allowed.ts";

export function registerHealthRoutes(app: FastifyInstance, deps: HttpDeps): void {
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
