// GET /: the status page, rendered per request from the view's last scan.

import type { FastifyInstance } from "fastify";
import type { HttpDeps } from "./http-deps.ts";
import { refuseOtherMethods } from "./method-not-allowed.ts";
import { renderStatusPage } from "./status-page.ts";

const RECENT_ROTATIONS = 20;
const DEFAULT_REFRESH_SECONDS = 30;

export function registerStatusPageRoute(app: FastifyInstance, deps: HttpDeps): void {
  app.get("/", async (_request, reply) => {
    const html = renderStatusPage({
      snapshot: deps.view.inventory(),
      rotations: deps.view.recentRotations(RECENT_ROTATIONS),
      now: deps.now?.() ?? new Date(),
      refreshSeconds: deps.refreshSeconds ?? DEFAULT_REFRESH_SECONDS,
      version: deps.version,
      kvMount: deps.kvMount,
    });
    return reply.type("text/html; charset=utf-8").send(html);
  });
  refuseOtherMethods(app, "/", ["GET"]);
  // Browsers ask for it on every visit; an empty answer keeps the log and the console quiet.
  app.get("/favicon.ico", async (_request, reply) => reply.code(204).send());
}
