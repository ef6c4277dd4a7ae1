// Fastify answers an unregistered method with 404; for our own URLs we say 405 and list what is allowed,
// by registering the remaining methods on the same URL with this handler.

import type { FastifyInstance, FastifyReply, FastifyRequest, HTTPMethods } from "fastify";
import { sendError } from "./http-errors.ts";

const METHODS: readonly HTTPMethods[] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

/**
 * Registers a 405 handler for every method of METHODS not in `registered` (HEAD comes with GET).
 * `allowFor` names the allowed methods for one request when they depend on the path (default: registered).
 */
export function refuseOtherMethods(
  app: FastifyInstance,
  url: string,
  registered: readonly HTTPMethods[],
  allowFor: (request: FastifyRequest) => readonly HTTPMethods[] = () => registered,
): void {
  const taken = withHead(registered);
  app.route({
    method: METHODS.filter((m) => !taken.includes(m)),
    url,
    handler: (request, reply) => replyMethodNotAllowed(reply, allowFor(request)),
  });
}

export function replyMethodNotAllowed(reply: FastifyReply, allowed: readonly HTTPMethods[]): FastifyReply {
  const allow = withHead(allowed).join(", ");
  reply.header("allow", allow);
  return sendError(reply, 405, "METHOD_NOT_ALLOWED", `method not allowed here; use ${allow}`);
}

function withHead(methods: readonly HTTPMethods[]): readonly HTTPMethods[] {
  return methods.includes("GET") && !methods.includes("HEAD") ? [...methods, "HEAD"] : methods;
}
