// Test-only control endpoints under /__sim/ (off unless `adminApi`): create apps, read valid pairs and
// counters, flip switches, add and clear faults. JSON in and out; errors in the Salesforce array shape.
import { z } from "zod";
import { isRotatorError } from "../../core/errors.ts";
import { invalidInput, malformedJson, notFound } from "./sim-errors.ts";
import type { FaultSpec } from "./sim-faults.ts";
import { json, jsonBody, noContent, type SimReply, type SimRequest } from "./sim-http.ts";

/** The part of the simulator the admin endpoints drive (the simulator object itself). */
export interface AdminOps {
  readonly adminApp: unknown;
  createApp(developerName: string, opts?: { consumers?: number; runAsAdmin?: boolean }): unknown;
  validPairs(appId: string, consumerId: string): unknown;
  primaryPair(appId: string, consumerId: string): unknown;
  counters(): unknown;
  setOptions(patch: never): void;
  addFault(f: FaultSpec): void;
  clearFaults(): void;
}

const createAppBody = z.object({
  developerName: z.string(),
  consumers: z.number().int().optional(),
  runAsAdmin: z.boolean().optional(),
});

const faultBody = z
  .object({
    method: z.string().optional(),
    path: z.string().optional(),
    pathRegex: z.string().optional(),
    latencyMs: z.number().nonnegative().optional(),
    status5xxRate: z.number().min(0).max(1).optional(),
    commitThenDrop: z.boolean().optional(),
    times: z.number().int().positive().optional(),
  })
  .strict();

export function handleAdmin(ops: AdminOps, req: SimRequest): SimReply {
  try {
    return route(ops, req);
  } catch (err) {
    if (isRotatorError(err) || err instanceof RangeError) return invalidInput(err.message);
    if (err instanceof SyntaxError) return invalidInput("pathRegex is not a valid regular expression");
    throw err;
  }
}

function route(ops: AdminOps, req: SimRequest): SimReply {
  const parts = req.path.split("/").filter(Boolean).slice(1);
  const key = `${req.method} ${parts.map((p, i) => (i % 2 === 1 && parts[0] === "apps" ? ":id" : p)).join("/")}`;
  switch (key) {
    case "GET admin-app":
      return json(200, ops.adminApp);
    case "GET counters":
      return json(200, ops.counters());
    case "POST apps": {
      const body = parse(req, createAppBody);
      if (!body.ok) return body.reply;
      const { developerName, consumers, runAsAdmin } = body.value;
      return json(
        201,
        ops.createApp(developerName, {
          ...(consumers === undefined ? {} : { consumers }),
          ...(runAsAdmin === undefined ? {} : { runAsAdmin }),
        }),
      );
    }
    case "GET apps/:id/consumers/:id/valid-pairs":
      return json(200, { pairs: ops.validPairs(parts[1] ?? "", parts[3] ?? "") });
    case "GET apps/:id/consumers/:id":
      return json(200, ops.primaryPair(parts[1] ?? "", parts[3] ?? ""));
    case "PATCH options":
    case "POST options": {
      const body = jsonBody(req);
      if (!body.ok) return malformedJson();
      ops.setOptions(body.value as never);
      return noContent();
    }
    case "POST faults": {
      const body = parse(req, faultBody);
      if (!body.ok) return body.reply;
      const { path, pathRegex, ...rest } = body.value;
      const spec: FaultSpec = Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined));
      if (pathRegex !== undefined) spec.path = new RegExp(pathRegex);
      else if (path !== undefined) spec.path = path;
      ops.addFault(spec);
      return noContent();
    }
    case "DELETE faults":
      ops.clearFaults();
      return noContent();
    default:
      return notFound();
  }
}

function parse<T>(
  req: SimRequest,
  schema: z.ZodType<T>,
): { ok: true; value: T } | { ok: false; reply: SimReply } {
  const body = jsonBody(req);
  if (!body.ok) return { ok: false, reply: malformedJson() };
  const parsed = schema.safeParse(body.value);
  if (!parsed.success) {
    const fields = parsed.error.issues.map((i) => i.path.join(".") || "(body)").join(", ");
    return { ok: false, reply: invalidInput(`invalid fields: ${fields}`) };
  }
  return { ok: true, value: parsed.data };
}
