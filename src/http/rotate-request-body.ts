// The body of POST /v1/credentials/{path}/rotate, parsed with zod at the edge. Strict: an unknown key is a
// mistake worth telling the caller about. Messages are ours and never repeat the input.

import { z } from "zod";
import { isSafeText } from "../core/display-text.ts";

const MAX_REASON_CHARS = 200;

const RotateRequestBodySchema = z.strictObject({
  mode: z.enum(["now", "emergency"]),
  reason: z
    .string()
    .min(1)
    .max(MAX_REASON_CHARS)
    .refine((s) => isSafeText(s))
    .optional(),
});
type RotateRequestBody = z.infer<typeof RotateRequestBodySchema>;

export type BodyCheck =
  | { readonly ok: true; readonly body: RotateRequestBody }
  | { readonly ok: false; readonly message: string };

export function parseRotateRequestBody(body: unknown): BodyCheck {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    return { ok: false, message: 'body must be a JSON object like {"mode":"now"}' };
  }
  const parsed = RotateRequestBodySchema.safeParse(body);
  if (parsed.success) return { ok: true, body: parsed.data };
  const messages = new Set<string>();
  for (const issue of parsed.error.issues) {
    if (issue.code === "unrecognized_keys")
      messages.add("unknown key in body; allowed keys are mode and reason");
    else if (issue.path[0] === "mode") messages.add('mode must be "now" or "emergency"');
    else if (issue.path[0] === "reason") {
      messages.add(`reason must be 1 to ${MAX_REASON_CHARS} printable characters`);
    } else messages.add("body is not valid");
  }
  return { ok: false, message: [...messages].join("; ") };
}
