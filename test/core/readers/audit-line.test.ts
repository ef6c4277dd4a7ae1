import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  AUDIT_MALFORMED_REASONS,
  AUDIT_SKIP_REASONS,
  type AuditLineFilter,
  MAX_AUDIT_LINE_BYTES,
  parseAuditLine,
} from "../../../src/core/readers/audit-line.ts";

const NOW = Date.parse("2026-12-05T10:00:00Z");
const HMAC = `hmac-sha256:${"ab".repeat(32)}`;
const FILTER: AuditLineFilter = {
  kvMount: "secret",
  prefixes: ["api-credentials"],
  namespace: undefined,
  ownEntityId: "rotator-entity",
  ownDisplayName: "approle",
  ignore: new Set(["token-backup"]),
};

/** A KV v2 read response entry as OpenBao 2.7's file audit device writes it (trimmed of fields the feed ignores). */
function entry(
  over: { [k: string]: unknown } = {},
  auth: { [k: string]: unknown } = {},
): Record<string, unknown> {
  return {
    time: "2026-12-05T09:59:00.123456789Z",
    type: "response",
    auth: {
      client_token: `hmac-sha256:${"cd".repeat(32)}`,
      accessor: HMAC,
      display_name: "token-app1",
      policies: ["default", "rd"],
      token_type: "service",
      ...auth,
    },
    request: {
      id: "71c00b57-bcc5-e51a-8363-405a438d5651",
      operation: "read",
      mount_type: "kv",
      namespace: { id: "root" },
      path: "secret/data/api-credentials/team-a/crm",
      data: { version: `hmac-sha256:${"ef".repeat(32)}` },
      remote_address: "127.0.0.1",
    },
    response: {
      data: {
        data: { client_secret: `hmac-sha256:${"01".repeat(32)}` },
        metadata: { created_time: "2026-12-05T09:00:00Z", version: 3, destroyed: false },
      },
    },
    ...over,
  };
}
const line = (o: Record<string, unknown>) => JSON.stringify(o);
const parse = (o: Record<string, unknown> | string, filter = FILTER) =>
  parseAuditLine(typeof o === "string" ? o : line(o), filter, NOW);

describe("parseAuditLine", () => {
  it("keeps a token's KV read: path under the prefix, version, accessor HMAC as identity, time", () => {
    expect(parse(entry())).toEqual({
      kind: "kept",
      read: {
        path: "api-credentials/team-a/crm",
        readerId: `token:token-app1:${"ab".repeat(32)}`,
        label: "token-app1",
        version: 3,
        at: Date.parse("2026-12-05T09:59:00.123Z"),
      },
    });
  });

  it("identifies an entity by its id and labels an AppRole login with its role", () => {
    const r = parse(
      entry(
        {},
        { display_name: "approle-x", entity_id: "a4d9b68e-b79b", metadata: { role_name: "billing" } },
      ),
    );
    expect(r).toMatchObject({
      kind: "kept",
      read: { readerId: "entity:a4d9b68e-b79b", label: "approle-x (billing)" },
    });
  });

  it("skips what is not a successful KV v2 read of a managed path", () => {
    expect(parse(entry({ type: "request" }))).toEqual({ kind: "skipped", reason: "not_response" });
    const write = entry();
    (write["request"] as Record<string, unknown>)["operation"] = "update";
    expect(parse(write)).toEqual({ kind: "skipped", reason: "not_read" });
    expect(parse(entry({ error: "permission denied" }))).toEqual({ kind: "skipped", reason: "error" });
    for (const p of [
      "secret/metadata/api-credentials/team-a/crm",
      "secret/data/other/x",
      "other/data/api-credentials/x",
      "secret/data/api-credentials",
      "secret/data/api-credentials-evil/x",
      "sys/health",
    ]) {
      const e = entry();
      (e["request"] as Record<string, unknown>)["path"] = p;
      expect(parse(e), p).toEqual({ kind: "skipped", reason: "other_path" });
    }
    expect(parse(entry({ response: { data: { data: {} } } }))).toEqual({
      kind: "skipped",
      reason: "no_version",
    });
  });

  it("skips the rotator's own reads (by entity, or by display name for a token without one) and ignored names", () => {
    expect(parse(entry({}, { entity_id: "rotator-entity", display_name: "x" }))).toEqual({
      kind: "skipped",
      reason: "own_read",
    });
    const byName = { ...FILTER, ownEntityId: undefined, ownDisplayName: "token-rotator" };
    expect(parse(entry({}, { display_name: "token-rotator" }), byName)).toEqual({
      kind: "skipped",
      reason: "own_read",
    });
    // Another reader that happens to share the display name but has an entity is not the rotator.
    expect(parse(entry({}, { display_name: "token-rotator", entity_id: "e1" }), byName).kind).toBe("kept");
    expect(parse(entry({}, { display_name: "token-backup" }))).toEqual({
      kind: "skipped",
      reason: "ignored",
    });
  });

  it("follows the configured namespace, also when the namespace is written in front of the path", () => {
    const ns = { ...FILTER, namespace: "team/ns1" };
    const inNs = entry();
    (inNs["request"] as Record<string, unknown>)["namespace"] = { id: "x1", path: "team/ns1/" };
    expect(parse(inNs, ns).kind).toBe("kept");
    expect(parse(inNs).kind === "skipped" && parse(inNs)).toEqual({
      kind: "skipped",
      reason: "other_namespace",
    });
    const inFront = entry();
    (inFront["request"] as Record<string, unknown>)["path"] = "team/ns1/secret/data/api-credentials/a/b";
    expect(parse(inFront, ns)).toMatchObject({ kind: "kept", read: { path: "api-credentials/a/b" } });
    expect(parse(entry(), ns)).toEqual({ kind: "skipped", reason: "other_namespace" });
  });

  it("counts hostile paths, names, identities and times as malformed", () => {
    for (const p of [
      "secret/data/api-credentials/../x",
      "secret/data/api-credentials/./x",
      "secret/data/api-credentials//x",
      "secret/data/api-credentials/%2e%2e/x",
      "secret/data/api-credentials/a\\b",
      "secret/data/api-credentials/a\nb",
    ]) {
      const e = entry();
      (e["request"] as Record<string, unknown>)["path"] = p;
      expect(parse(e), p).toEqual({ kind: "malformed", reason: "bad_path" });
    }
    expect(parse(entry({}, { display_name: "evil\u001b[31m" }))).toEqual({
      kind: "malformed",
      reason: "bad_identity",
    });
    expect(parse(entry({}, { display_name: "a\u202eb" }))).toEqual({
      kind: "malformed",
      reason: "bad_identity",
    });
    // log_raw: a plain accessor is never kept.
    expect(parse(entry({}, { accessor: "Xy3plainaccessor" }))).toEqual({
      kind: "malformed",
      reason: "bad_identity",
    });
    expect(parse(entry({}, { entity_id: "../../x" }))).toEqual({ kind: "malformed", reason: "bad_identity" });
    expect(parse(entry({ time: "2027-01-01T00:00:00Z" }))).toEqual({ kind: "malformed", reason: "bad_time" });
    expect(parse(entry({ time: "yesterday" }))).toEqual({ kind: "malformed", reason: "bad_time" });
    expect(parse(entry({ response: { data: { metadata: { version: "3" } } } }))).toEqual({
      kind: "malformed",
      reason: "bad_shape",
    });
    expect(parse(entry({ response: { data: { metadata: { version: 0 } } } }))).toEqual({
      kind: "malformed",
      reason: "bad_shape",
    });
    expect(parse("{not json")).toEqual({ kind: "malformed", reason: "not_json" });
    expect(parse("[1,2]")).toEqual({ kind: "malformed", reason: "bad_shape" });
    expect(parse("x".repeat(MAX_AUDIT_LINE_BYTES + 1))).toEqual({ kind: "malformed", reason: "oversized" });
  });

  it("reads only own properties: a __proto__ key cannot supply a field", () => {
    const text = line(entry()).replace('"type":"response"', '"__proto__":{"type":"response"}');
    expect(parse(text)).toEqual({ kind: "malformed", reason: "bad_shape" });
    const auth = line(entry()).replace('"display_name":"token-app1"', '"__proto__":{"display_name":"x"}');
    expect(parse(auth)).toEqual({ kind: "malformed", reason: "bad_identity" });
    expect(({} as Record<string, unknown>)["type"]).toBeUndefined();
  });

  it("cuts labels to 128 characters of a safe set", () => {
    const r = parse(entry({}, { display_name: `${"é<script>".repeat(40)}`, entity_id: "e1" }));
    expect(r.kind).toBe("kept");
    if (r.kind !== "kept") return;
    expect(r.read.label.length).toBeLessThanOrEqual(128);
    expect(r.read.label).toMatch(/^[A-Za-z0-9 ._@:/+=()-]+$/);
  });

  it("never throws and answers only with known verdicts on arbitrary and mutated lines", () => {
    const reasons = new Set<string>([...AUDIT_SKIP_REASONS, ...AUDIT_MALFORMED_REASONS]);
    const check = (text: string) => {
      const r = parseAuditLine(text, FILTER, NOW);
      if (r.kind === "kept") {
        expect(r.read.path.startsWith("api-credentials/")).toBe(true);
        expect(r.read.path.split("/")).not.toContain("..");
        expect(Number.isSafeInteger(r.read.version) && r.read.version > 0).toBe(true);
        expect(r.read.label).toMatch(/^[A-Za-z0-9 ._@:/+=()-]{1,128}$/);
        expect(r.read.readerId).toMatch(
          /^(entity:[A-Za-z0-9-]{1,64}|token:[A-Za-z0-9 ._@:/+=()-]*:[0-9a-f]{64})$/,
        );
      } else expect(reasons.has(r.reason)).toBe(true);
    };
    fc.assert(fc.property(fc.string({ maxLength: 300 }), check), { numRuns: 2000 });
    fc.assert(fc.property(fc.json({ maxDepth: 4 }), check), { numRuns: 2000 });
    // Mutations of a genuine entry: any field replaced by any JSON value, or any path/name string.
    const base = entry();
    const fields: [string, string][] = [
      ["", "type"],
      ["", "time"],
      ["", "error"],
      ["", "auth"],
      ["", "request"],
      ["", "response"],
      ["auth", "display_name"],
      ["auth", "entity_id"],
      ["auth", "accessor"],
      ["auth", "metadata"],
      ["request", "operation"],
      ["request", "path"],
      ["request", "namespace"],
    ];
    fc.assert(
      fc.property(
        fc.constantFrom(...fields),
        fc.oneof(fc.jsonValue(), fc.string(), fc.constantFrom("__proto__", "constructor", "../..", "%00")),
        ([parent, key], value) => {
          const copy = structuredClone(base) as Record<string, Record<string, unknown>>;
          if (parent === "") (copy as Record<string, unknown>)[key] = value;
          else (copy[parent] as Record<string, unknown>)[key] = value;
          check(JSON.stringify(copy));
        },
      ),
      { numRuns: 3000 },
    );
  });
});
