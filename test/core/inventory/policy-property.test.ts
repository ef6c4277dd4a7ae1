// Thousands of generated custom_metadata maps (known keys with plausible, garbage, huge, non-ASCII and
// empty values; random keys; prototype-looking keys) at the parser and the classifier.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { classifyEntry } from "../../../src/core/inventory/classify.ts";
import { parseCredentialPolicy } from "../../../src/core/inventory/credential-policy.ts";
import { CREDENTIAL_STATES, type CredentialState } from "../../../src/core/inventory/inventory-item.ts";
import { PROVIDERS } from "../../../src/core/providers/provider-registry.ts";

// The registered providers' keys and the generic ones, as the scan reads them.
const POLICY_KEYS = PROVIDERS.policyKeys;
const POLICY_FIELDS = PROVIDERS.policyFields;

import { DAY_MS, HOUR_MS } from "../../../src/core/time.ts";

const plausible = fc.constantFrom(
  "salesforce-eca",
  "sfmc",
  "generated",
  "manual",
  "api_key",
  "webhook_secret",
  "high",
  "standard",
  "90d",
  "12h",
  "30m",
  "0d",
  "0s",
  "-3d",
  "999999999d",
  "banana",
  "now",
  "emergency",
  "true",
  "false",
  "idle",
  "in_progress",
  "awaiting_promotion",
  "failed",
  "2026-04-01T00:00:00Z",
  "2026-02-30T00:00:00Z",
  "2018-03-22T02:24:06.945319214Z",
  "22:00-02:00",
  "03:00-03:00",
  "0xIWt0000003lOz",
  "888Wt000000O8CXIA0",
  "My_ECA",
  "prod",
  "",
  " ",
  "\u0000",
  "\u202e",
  "a,b,,c",
);
const huge = fc
  .tuple(fc.constantFrom("x", "é", "\u202e", "<", "9", "d", "運"), fc.integer({ min: 41, max: 5000 }))
  .map(([ch, n]) => ch.repeat(n));
const garbage = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: "grapheme", maxLength: 60 }),
  fc.string({ unit: "binary", maxLength: 60 }),
  fc.string({ minLength: 41, maxLength: 300 }),
  huge,
);
const isoDate = fc
  .date({ min: new Date("1970-01-01T00:00:00Z"), max: new Date("2100-01-01T00:00:00Z"), noInvalidDate: true })
  .map((d) => d.toISOString());
// Well-formed maps use times near ANCHOR, and `now` is mostly near it too, so every state is reachable.
const ANCHOR_MS = Date.parse("2026-05-04T09:00:00Z");
const nearDate = fc
  .integer({ min: -400 * 86_400, max: 400 * 86_400 })
  .map((s) => new Date(ANCHOR_MS + s * 1000).toISOString());
const value = fc.oneof(
  { weight: 4, arbitrary: plausible },
  { weight: 3, arbitrary: garbage },
  { weight: 2, arbitrary: isoDate },
);
const key = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom(...POLICY_KEYS) },
  { weight: 1, arbitrary: fc.string({ maxLength: 20 }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom("__proto__", "constructor", "toString", "Provider", "hasOwnProperty"),
  },
);
const provider = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom("salesforce-eca", "sfmc", "generated", "manual") },
  { weight: 1, arbitrary: value },
);
const noisy = fc
  .tuple(fc.option(provider, { nil: undefined }), fc.dictionary(key, value, { maxKeys: 25 }))
  .map(([p, rest]): Record<string, string> => (p === undefined ? rest : { ...rest, provider: p }));
// Mostly well-formed maps, so generated entries also reach every state past the parser.
const wellFormed = fc.record(
  {
    provider: fc.constantFrom("salesforce-eca", "sfmc", "generated", "manual"),
    eca_app_name: fc.constant("My_ECA"),
    credential_type: fc.constantFrom("api_key", "oauth_client_secret", "database", "webhook_secret"),
    risk: fc.constantFrom("standard", "high"),
    rotation_period: fc.constantFrom("1d", "30d", "90d", "400d", "3650d"),
    warning_window: fc.constantFrom("0s", "7d", "14d", "60d"),
    soak: fc.constantFrom("0s", "15m", "2h"),
    consumers: fc.constantFrom("a", "a, b", ""),
    rotation_contact: fc.constantFrom("#ops", "Zoë"),
    expires_at: nearDate,
    rotate: fc.constantFrom("now", "emergency"),
    last_rotated: nearDate,
    rotation_verified_at: nearDate,
    rotation_state: fc.constantFrom("idle", "in_progress", "awaiting_promotion", "failed"),
  },
  { requiredKeys: ["provider", "eca_app_name"] },
);
const metadata = fc.oneof(
  { weight: 2, arbitrary: noisy },
  { weight: 2, arbitrary: wellFormed },
  {
    weight: 1,
    arbitrary: fc
      .tuple(wellFormed, fc.dictionary(key, value, { maxKeys: 2 }))
      .map(([base, extra]): Record<string, string> => ({ ...base, ...extra })),
  },
);
const time = fc.oneof(
  { weight: 4, arbitrary: nearDate },
  { weight: 1, arbitrary: isoDate },
  { weight: 1, arbitrary: value },
);
const entry = fc.record({
  path: fc.string({ maxLength: 80 }),
  currentVersion: fc.integer({ min: 0, max: 1_000_000 }),
  createdTime: time,
  updatedTime: time,
  currentVersionCreatedTime: fc.option(time, { nil: undefined }),
  currentVersionDeleted: fc.oneof(
    { weight: 9, arbitrary: fc.constant(false) },
    { weight: 1, arbitrary: fc.constant(true) },
  ),
  customMetadata: metadata,
});
const now = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.integer({ min: -30 * 86_400, max: 30 * 86_400 }).map((s) => new Date(ANCHOR_MS + s * 1000)),
  },
  {
    weight: 1,
    arbitrary: fc.date({
      min: new Date("2000-01-01T00:00:00Z"),
      max: new Date("2100-01-01T00:00:00Z"),
      noInvalidDate: true,
    }),
  },
);
const defaults = fc.record({
  warningWindowMs: fc.integer({ min: 0, max: 400 * DAY_MS }),
  stuckAfterMs: fc.integer({ min: 0, max: 48 * HOUR_MS }),
});

/** No 41-character stretch of any input value shows up in the text. */
function echoesLongInput(text: string, values: readonly string[]): boolean {
  for (const v of values) {
    if (v.length <= 40) continue;
    const windows = new Set<string>();
    for (let i = 0; i + 41 <= Math.min(v.length, 1_000); i += 1) windows.add(v.slice(i, i + 41));
    for (const w of windows) if (text.includes(w)) return true;
  }
  return false;
}

describe("custom_metadata under generated input", () => {
  it("parseCredentialPolicy never throws and gives short reasons that do not echo long values", () => {
    fc.assert(
      fc.property(metadata, (md) => {
        const result = parseCredentialPolicy(md, PROVIDERS);
        expect(["managed", "invalid", "unmanaged"]).toContain(result.kind);
        if (!Object.hasOwn(md, "provider")) expect(result.kind).toBe("unmanaged");
        if (result.kind === "invalid") {
          expect(result.reason.length).toBeGreaterThan(0);
          expect(result.reason.length).toBeLessThan(300);
          expect(echoesLongInput(result.reason, Object.values(md))).toBe(false);
        }
      }),
      { numRuns: 3_000 },
    );
  });

  it("classifyEntry never throws and always gives a state from the closed set", () => {
    const seen = new Set<CredentialState>();
    fc.assert(
      fc.property(entry, now, defaults, (e, at, d) => {
        const item = classifyEntry(e, at, d);
        seen.add(item.state);
        expect(CREDENTIAL_STATES).toContain(item.state);
        expect(item.path).toBe(e.path);
        expect(Array.isArray(item.consumers)).toBe(true);
        if (item.state === "invalid") expect(item.reason ?? "").not.toBe("");
        if (item.reason !== undefined) {
          expect(item.reason.length).toBeLessThan(300);
          expect(echoesLongInput(item.reason, Object.values(e.customMetadata))).toBe(false);
        }
        if (item.deadline !== undefined) expect(Number.isNaN(item.deadline.getTime())).toBe(false);
        if (item.stuck) expect(["in_progress", "awaiting_promotion"]).toContain(item.state);
      }),
      { numRuns: 3_000 },
    );
    // The generator must reach past the parser, or the property proves little.
    expect([...seen].sort()).toEqual([...CREDENTIAL_STATES].sort());
  });

  it("reads every key's value with its plain parser exactly as its schema does", () => {
    // The plain parsers read the common all-valid entry without zod; they must accept exactly what the schema
    // accepts and give the same value, or a scan and an invalid-entry report would disagree.
    const { schemas, fast, refused } = POLICY_FIELDS;
    fc.assert(
      fc.property(
        fc.constantFrom(...POLICY_KEYS),
        fc.oneof(value, nearDate, fc.constant("a, b ,a,,")),
        (k, v) => {
          const bySchema = (schemas[k] as NonNullable<(typeof schemas)[string]>).safeParse(v);
          const plain = (fast[k] as (text: string) => unknown)(v);
          if (bySchema.success) expect(plain).toEqual(bySchema.data);
          else expect(plain).toBe(refused);
        },
      ),
      { numRuns: 20_000 },
    );
  });
});
