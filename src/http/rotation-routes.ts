// GET /v1/rotations/{id}: one rotation this daemon knows of (running here, or read from the journal).

import type { FastifyInstance } from "fastify";
import type { HttpDeps } from "./http-deps.ts";
import { sendError } from "./http-errors.ts";
import { refuseOtherMethods } from "./method-not-allowed.ts";
import { rotationToJson } from "./rotation-json.ts";

// Rotation ids are UUIDs today; anything id-like is passed on, anything else never reaches the view.
const ROTATION_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export function registerRotationRoutes(app: FastifyInstance, deps: HttpDeps): void {
  app.get<{ Params: { id: string } }>("/v1/rotations/:id", async (request, reply) => {
    const { id } = request.params;
    if (!ROTATION_ID.test(id)) return sendError(reply, 400, "BAD_REQUEST", "rotation id is not valid");
    const rotation = await deps.view.rotation(id);
    if (rotation === undefined) return sendError(reply, 404, "NOT_FOUND", "no rotation with this id");
    return rotationToJson(rotation);
  });
  refuseOtherMethods(app, "/v1/rotations/:id", ["GET"]);
}
