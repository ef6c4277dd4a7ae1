import { describe, expect, it } from "vitest";
import {
  type CredentialPolicy,
  parseCredentialPolicy,
} from "../../../src/core/inventory/credential-policy.ts";
import { PROVIDERS } from "../../../src/core/providers/provider-registry.ts";
import { DAY_MS, HOUR_MS, MINUTE_MS } from "../../../src/core/time.ts";

const ECA = { provider: "salesforce-eca", eca_app_id: "0xIWt0000003lOz" };

function managed(metadata: Record<string, string>): CredentialPolicy {
  const result = parseCredentialPolicy(metadata, PROVIDERS);
  if (result.kind !== "managed") throw new Error(`expected managed, got ${JSON.stringify(result)}`);
  return result.policy;
}

function reasonFor(metadata: Record<string, string>): string {
  const result = parseCredentialPolicy(metadata, PROVIDERS);
  if (result.kind !== "invalid") throw new Error(`expected invalid, got ${result.kind}`);
  return result.reason;
}

describe("parseCredentialPolicy", () => {
  it("calls an entry without a provider key unmanaged, whatever else it holds", () => {
    expect(parseCredentialPolicy({}, PROVIDERS)).toEqual({ kind: "unmanaged" });
    expect(
      parseCredentialPolicy({ owner: "team-a", rotate: "now", Provider: "salesforce-eca" }, PROVIDERS),
    ).toEqual({
      kind: "unmanaged",
    });
  });

  it("applies the documented defaults to a minimal salesforce-eca entry", () => {
    expect(managed(ECA)).toEqual({
      provider: "salesforce-eca",
      credentialType: "oauth_client_secret",
      risk: "standard",
      rotationPeriodMs: undefined,
      warningWindowMs: undefined,
      soakMs: undefined,
      rotateWindow: undefined,
      autoRotate: true,
      consumers: [],
      rotationContact: undefined,
      expiresAt: undefined,
      ecaAppId: "0xIWt0000003lOz",
      ecaAppName: undefined,
      ecaConsumerId: undefined,
      sfConnection: undefined,
      trigger: undefined,
      lastRotated: undefined,
      rotationVerifiedAt: undefined,
      nextRotationDue: undefined,
      rotationState: "idle",
      lastRotationError: undefined,
    });
  });

  it("reads every documented key", () => {
    const policy = managed({
      provider: "salesforce-eca",
      sf_connection: "prod",
      eca_app_id: "0xIWt0000003lOzMAI",
      eca_app_name: "My_ECA",
      eca_consumer_id: "888Wt000000O8CXIA0",
      credential_type: "api_key",
      risk: "high",
      rotation_period: "30d",
      warning_window: "7d",
      soak: "1h",
      rotate_window: "22:00-02:30",
      auto_rotate: "false",
      consumers: " billing-api, crm-sync,,billing-api , ",
      rotation_contact: " Zoë <zoe@example.com> ",
      expires_at: "2026-09-01T00:00:00Z",
      rotate: "emergency",
      rotate_reason: "INC-42",
      last_rotated: "2026-03-01T10:00:00Z",
      rotation_verified_at: "2026-03-01T10:20:00Z",
      next_rotation_due: "2026-03-31T10:00:00Z",
      rotation_state: "awaiting_promotion",
      last_rotation_error: "SALESFORCE_RATE_LIMITED: retry later",
      owner_team: "ignored",
    });
    expect(policy).toEqual({
      provider: "salesforce-eca",
      credentialType: "api_key",
      risk: "high",
      rotationPeriodMs: 30 * DAY_MS,
      warningWindowMs: 7 * DAY_MS,
      soakMs: HOUR_MS,
      rotateWindow: { startMinute: 22 * 60, endMinute: 2 * 60 + 30 },
      autoRotate: false,
      consumers: ["billing-api", "crm-sync"],
      rotationContact: "Zoë <zoe@example.com>",
      expiresAt: new Date("2026-09-01T00:00:00Z"),
      ecaAppId: "0xIWt0000003lOzMAI",
      ecaAppName: "My_ECA",
      ecaConsumerId: "888Wt000000O8CXIA0",
      sfConnection: "prod",
      trigger: { mode: "emergency", reason: "INC-42" },
      lastRotated: new Date("2026-03-01T10:00:00Z"),
      rotationVerifiedAt: new Date("2026-03-01T10:20:00Z"),
      nextRotationDue: new Date("2026-03-31T10:00:00Z"),
      rotationState: "awaiting_promotion",
      lastRotationError: "SALESFORCE_RATE_LIMITED: retry later",
    });
  });

  it.each([["sfmc"], ["generated"], ["manual"]])("accepts provider %s without Salesforce ids", (provider) => {
    expect(managed({ provider }).provider).toBe(provider);
  });

  it.each([
    ["an app id", { eca_app_id: "0xIWt0000003lOz" }],
    ["an 18-character app id", { eca_app_id: "0xIWt0000003lOzMAI" }],
    ["an app name", { eca_app_name: "CRM_Integration" }],
    ["a namespaced app name", { eca_app_name: "acme__CRM_Integration" }],
  ])("accepts a salesforce-eca entry with %s", (_what, keys) => {
    expect(managed({ provider: "salesforce-eca", ...keys }).provider).toBe("salesforce-eca");
  });

  it.each([
    ["zero warning window", { warning_window: "0s" }, { warningWindowMs: 0 }],
    ["zero soak", { soak: "0m" }, { soakMs: 0 }],
    [
      "a same-day rotate window",
      { rotate_window: "01:00-05:00" },
      { rotateWindow: { startMinute: 60, endMinute: 300 } },
    ],
    ["auto_rotate true", { auto_rotate: "true" }, { autoRotate: true }],
    ["rotate=now without a reason", { rotate: "now" }, { trigger: { mode: "now", reason: undefined } }],
    [
      "an empty rotate_reason as no reason",
      { rotate: "now", rotate_reason: "" },
      { trigger: { mode: "now", reason: undefined } },
    ],
    ["an empty consumers list", { consumers: "" }, { consumers: [] }],
    ["an empty last_rotation_error as none", { last_rotation_error: " " }, { lastRotationError: undefined }],
    [
      "an expiry with an offset",
      { expires_at: "2026-09-01T02:00:00+02:00" },
      { expiresAt: new Date("2026-09-01T00:00:00Z") },
    ],
    ["a 15-minute period", { rotation_period: "15m" }, { rotationPeriodMs: 15 * MINUTE_MS }],
  ])("reads %s", (_what, keys, expected) => {
    expect(managed({ ...ECA, ...keys })).toMatchObject(expected);
  });

  it.each([
    [
      "an unknown provider",
      { provider: "sfdc" },
      'provider must be one of salesforce-eca, sfmc, generated, manual (got "sfdc")',
    ],
    ["an empty provider", { provider: "" }, "provider is empty; expected one of"],
    ["an upper-case provider", { ...ECA, provider: "Salesforce-ECA" }, "provider must be one of"],
    [
      "an unknown credential type",
      { ...ECA, credential_type: "password" },
      'credential_type must be one of api_key, oauth_client_secret, service_account_token, database, webhook_secret (got "password")',
    ],
    ["an unknown risk", { ...ECA, risk: "critical" }, 'risk must be one of standard, high (got "critical")'],
    ["a banana period", { ...ECA, rotation_period: "banana" }, "rotation_period must be a duration like 90d"],
    ["a negative period", { ...ECA, rotation_period: "-3d" }, "rotation_period must not be negative"],
    ["a zero period", { ...ECA, rotation_period: "0d" }, "rotation_period must be greater than zero"],
    [
      "an absurd period",
      { ...ECA, rotation_period: "999999999d" },
      "rotation_period is too long; the maximum is 3650d",
    ],
    ["a bad warning window", { ...ECA, warning_window: "two weeks" }, "warning_window must be a duration"],
    ["a bad soak", { ...ECA, soak: "-1m" }, "soak must not be negative"],
    [
      "a rotate window without minutes",
      { ...ECA, rotate_window: "1-5" },
      "rotate_window must be a UTC window HH:MM-HH:MM",
    ],
    [
      "a rotate window at 24:00",
      { ...ECA, rotate_window: "22:00-24:00" },
      "rotate_window must be a UTC window",
    ],
    [
      "an empty rotate window",
      { ...ECA, rotate_window: "03:00-03:00" },
      "rotate_window must have different start and end times",
    ],
    ["auto_rotate yes", { ...ECA, auto_rotate: "yes" }, 'auto_rotate must be true or false (got "yes")'],
    ["auto_rotate TRUE", { ...ECA, auto_rotate: "TRUE" }, "auto_rotate must be true or false"],
    [
      "a bad expiry date",
      { ...ECA, expires_at: "2026-02-30T00:00:00Z" },
      "expires_at must be an RFC 3339 time",
    ],
    ["a date-only expiry", { ...ECA, expires_at: "2026-09-01" }, "expires_at must be an RFC 3339 time"],
    ["an empty expiry", { ...ECA, expires_at: "" }, "expires_at is empty; expected an RFC 3339 time"],
    ["a bad last_rotated", { ...ECA, last_rotated: "yesterday" }, "last_rotated must be an RFC 3339 time"],
    [
      "a bad rotation_verified_at",
      { ...ECA, rotation_verified_at: "0" },
      "rotation_verified_at must be an RFC 3339 time",
    ],
    [
      "a bad next_rotation_due",
      { ...ECA, next_rotation_due: "soon" },
      "next_rotation_due must be an RFC 3339 time",
    ],
    [
      "an unknown rotation_state",
      { ...ECA, rotation_state: "done" },
      'rotation_state must be one of idle, in_progress, awaiting_promotion, failed (got "done")',
    ],
    ["an unknown trigger", { ...ECA, rotate: "later" }, 'rotate must be one of now, emergency (got "later")'],
    ["a yes trigger", { ...ECA, rotate: "yes" }, "rotate must be one of now, emergency"],
    ["an empty trigger", { ...ECA, rotate: "" }, "rotate is empty; expected one of now, emergency"],
    [
      "a salesforce-eca entry without an app",
      { provider: "salesforce-eca" },
      "salesforce-eca needs eca_app_id or eca_app_name",
    ],
    [
      "an app id with the wrong prefix",
      { provider: "salesforce-eca", eca_app_id: "0CiSb000000XXXXXXX" },
      "eca_app_id must be a 15- or 18-character ECA id starting 0xI",
    ],
    [
      "a 16-character app id",
      { provider: "salesforce-eca", eca_app_id: "0xIWt0000003lOzM" },
      "eca_app_id must be a 15- or 18-character",
    ],
    [
      "an app name with spaces",
      { provider: "salesforce-eca", eca_app_name: "My ECA" },
      "eca_app_name must be a Salesforce developer name",
    ],
    [
      "a consumer id with the wrong prefix",
      { ...ECA, eca_consumer_id: "999Wt000000O8CXIA0" },
      "eca_consumer_id must be a 15- or 18-character OAuth consumer id starting 888",
    ],
    [
      "a connection name with a slash",
      { ...ECA, sf_connection: "prod/eu" },
      "sf_connection must be a connection name",
    ],
    [
      "a contact with an escape sequence",
      { ...ECA, rotation_contact: "\u001b[2Jops" },
      "rotation_contact must not contain control",
    ],
    [
      "consumers with a bidi override",
      { ...ECA, consumers: "a,\u202eb" },
      "consumers must not contain control",
    ],
    [
      "a rotate_reason with a newline",
      { ...ECA, rotate: "now", rotate_reason: "a\nb" },
      "rotate_reason must not contain control",
    ],
    [
      "a huge contact",
      { ...ECA, rotation_contact: "x".repeat(513) },
      "rotation_contact must be at most 512 characters",
    ],
  ])("marks %s invalid with a reason naming the key", (_what, metadata, reason) => {
    expect(reasonFor(metadata)).toContain(reason);
  });

  it("reads soak_until, soak_max and on_soak_max, and leaves them to the config when absent", () => {
    expect(
      managed({ ...ECA, soak_until: "readers", soak: "30m", soak_max: "6h", on_soak_max: "hold" }),
    ).toMatchObject({
      soakUntil: "readers",
      soakMs: 30 * MINUTE_MS,
      soakMaxMs: 6 * HOUR_MS,
      onSoakMax: "hold",
    });
    const plain = managed(ECA);
    expect(plain.soakUntil).toBeUndefined();
    expect(plain.soakMaxMs).toBeUndefined();
    expect(plain.onSoakMax).toBeUndefined();
    expect(managed({ ...ECA, soak_max: "14d" }).soakMaxMs).toBe(14 * DAY_MS);
  });

  it.each([
    [{ soak_until: "evidence" }, 'soak_until must be one of time, readers (got "evidence")'],
    [{ on_soak_max: "wait" }, 'on_soak_max must be one of promote, hold (got "wait")'],
    [{ soak_max: "15d" }, "soak_max"],
    [{ soak_max: "0s" }, "soak_max"],
    [{ soak_max: "soon" }, "soak_max"],
    [{ soak: "2h", soak_max: "1h" }, "soak_max must be at least soak"],
  ])("marks malformed soak keys invalid, naming the key: %j", (extra, reason) => {
    const got = reasonFor({ ...ECA, ...extra });
    expect(got).toContain(reason);
    // One problem, about that key only.
    expect(got.startsWith(reason.split(" ")[0] ?? "")).toBe(true);
    expect(got).not.toContain("and 1 more");
  });

  it("lists several problems in the documented key order", () => {
    const reason = reasonFor({ ...ECA, rotate: "later", risk: "critical", rotation_period: "banana" });
    expect(reason.indexOf("risk")).toBeLessThan(reason.indexOf("rotation_period"));
    expect(reason.indexOf("rotation_period")).toBeLessThan(reason.indexOf("rotate must"));
  });

  it("keeps the reason short when every key is wrong", () => {
    const everythingWrong = Object.fromEntries(
      [
        "sf_connection",
        "eca_app_id",
        "eca_app_name",
        "eca_consumer_id",
        "credential_type",
        "risk",
        "rotation_period",
        "warning_window",
        "soak",
        "rotate_window",
        "auto_rotate",
        "expires_at",
        "rotate",
        "last_rotated",
        "rotation_verified_at",
        "next_rotation_due",
        "rotation_state",
      ].map((key) => [key, "!!"]),
    );
    const reason = reasonFor({ provider: "salesforce-eca", ...everythingWrong });
    expect(reason.length).toBeLessThan(300);
    expect(reason).toMatch(/; and \d+ more problems$/);
  });

  it("does not echo long, odd or non-ASCII values", () => {
    expect(reasonFor({ provider: "x".repeat(100) })).not.toContain("xxxxx");
    expect(reasonFor({ provider: "<script>alert(1)</script>" })).not.toContain("<script>");
    expect(reasonFor({ provider: "prövider" })).not.toContain("prövider");
  });

  it("keeps the provider, consumers and contact of an invalid entry for the report", () => {
    const result = parseCredentialPolicy(
      {
        ...ECA,
        rotation_period: "banana",
        consumers: "a, b",
        rotation_contact: "#ops",
      },
      PROVIDERS,
    );
    expect(result).toMatchObject({
      kind: "invalid",
      hints: { provider: "salesforce-eca", consumers: ["a", "b"], rotationContact: "#ops" },
    });
  });

  it("reads only own keys, never the prototype's", () => {
    const metadata = Object.create({ provider: "salesforce-eca", eca_app_name: "Inherited" }) as Record<
      string,
      string
    >;
    expect(parseCredentialPolicy(metadata, PROVIDERS)).toEqual({ kind: "unmanaged" });
    const withProtoKey = JSON.parse(
      '{"provider":"manual","__proto__":{"risk":"high"},"constructor":"x"}',
    ) as Record<string, string>;
    expect(managed(withProtoKey).risk).toBe("standard");
  });

  it.each([
    ["null", null],
    ["an array", ["provider"]],
    ["a string", "provider=salesforce-eca"],
    ["a number", 7],
  ])("calls %s as custom_metadata invalid without throwing", (_what, metadata) => {
    expect(parseCredentialPolicy(metadata, PROVIDERS)).toMatchObject({
      kind: "invalid",
      reason: "custom_metadata is not a map of strings",
    });
  });

  it("calls a non-string value invalid", () => {
    expect(reasonFor({ ...ECA, risk: 5 } as unknown as Record<string, string>)).toContain(
      "risk must be one of",
    );
    expect(reasonFor({ ...ECA, rotation_period: 5 } as unknown as Record<string, string>)).toContain(
      "rotation_period must be a string",
    );
  });
});
