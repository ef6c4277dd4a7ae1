// GET /v1/rotations/{id}: one rotation this daemon knows of (running here, or read from the journal).
import type { RotationView } from "./daemon-view.ts";
import type { HttpDeps } from "./http-deps.ts";
import { refuseOtherMethods, sendError } from "./http-errors.ts";
import type { Router } from "./http-router.ts";

// Rotation ids are UUIDs today; anything id-like is passed on, anything else never reaches the view.
const ROTATION_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export function registerRotationRoutes(app: Router, deps: HttpDeps): void {
  app.get("/v1/rotations/:id", async (request, reply) => {
    const id = request.params["id"] ?? "";
    if (!ROTATION_ID.test(id)) return sendError(reply, 400, "BAD_REQUEST", "rotation id is not valid");
    const rotation = await deps.view.rotation(id);
    if (rotation === undefined) return sendError(reply, 404, "NOT_FOUND", "no rotation with this id");
    return rotationToJson(rotation);
  });
  refuseOtherMethods(app, "/v1/rotations/:id", ["GET"]);
}

// GET /v1/rotations/{id}: one rotation as JSON, snake_case like the credential JSON, every key present.
interface RotationJson {
  readonly rotation_id: string;
  readonly path: string;
  readonly mode: string;
  readonly status: RotationView["status"];
  readonly step: string | null;
  readonly trigger: RotationView["trigger"];
  readonly actor: string;
  readonly requested_at: string;
  readonly finished_at: string | null;
  readonly waiting_until: string | null;
  /** soak, retire, or confirm (a person must act; waiting_until is then when it is looked at again). */
  readonly waiting_for: string | null;
  readonly joined_rotation_id: string | null;
  readonly error_code: string | null;
  readonly message: string | null;
}

function rotationToJson(r: RotationView): RotationJson {
  return {
    rotation_id: r.rotationId,
    path: r.path,
    mode: r.mode,
    status: r.status,
    step: r.step ?? null,
    trigger: r.trigger,
    actor: r.actor,
    requested_at: r.requestedAt.toISOString(),
    finished_at: r.finishedAt?.toISOString() ?? null,
    waiting_until: r.waitingUntil?.toISOString() ?? null,
    waiting_for: r.waitingFor ?? null,
    joined_rotation_id: r.joinedRotationId ?? null,
    error_code: r.errorCode ?? null,
    message: r.message ?? null,
  };
}
