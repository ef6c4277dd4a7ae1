import { describe, expect, it } from "vitest";
import { classifyScanItem, DEFAULT_CLASSIFY_DEFAULTS } from "../../../src/core/inventory/classify.ts";
import { credentialFacts } from "../../../src/core/providers/credential-facts.ts";
import { checkCredential, needsSecretData } from "../../../src/core/providers/provider-checks.ts";
import { SecretValue } from "../../../src/core/secret-value.ts";
import { CTX, factsOf, NOW } from "./check-kit.ts";

describe("checkCredential", () => {
  it("fails invalid metadata with the scan's reason", () => {
    const facts = factsOf({ provider: "sfmc", rotation_period: "soon" });
    const [finding, ...rest] = checkCredential(facts, CTX);
    expect(rest).toEqual([]);
    expect(finding?.mark).toBe("FAIL");
    expect(finding?.text).toMatch(/^invalid: rotation_period /);
  });

  it("fails an entry the token may not read, naming the error", () => {
    const item = classifyScanItem(
      { kind: "unreadable", path: "api-credentials/x", code: "VAULT_PERMISSION_DENIED", message: "403" },
      NOW,
      DEFAULT_CLASSIFY_DEFAULTS,
    );
    expect(checkCredential(credentialFacts(item), CTX)).toEqual([
      { mark: "FAIL", text: "invalid: unreadable (VAULT_PERMISSION_DENIED): 403" },
    ]);
  });

  it("dispatches on the provider", () => {
    expect(checkCredential(factsOf({ provider: "generated" }, {}), CTX)).toEqual([
      { mark: "warn", text: "no current_secret yet: the first rotation generates one" },
    ]);
    expect(checkCredential(factsOf({ provider: "manual", rotation_contact: "ops" }), CTX)).toEqual([]);
  });

  it("does not check unmanaged entries", () => {
    expect(checkCredential(factsOf({ owner: "someone" }), CTX)).toEqual([]);
  });
});

describe("needsSecretData", () => {
  it("reads data only for providers whose checks use it, and never for invalid entries", () => {
    expect(needsSecretData(factsOf({ provider: "sfmc" }).item)).toBe(true);
    expect(needsSecretData(factsOf({ provider: "generated" }).item)).toBe(true);
    expect(needsSecretData(factsOf({ provider: "salesforce-eca", eca_app_name: "Sync" }).item)).toBe(true);
    expect(needsSecretData(factsOf({ provider: "manual" }).item)).toBe(false);
    expect(needsSecretData(factsOf({ provider: "sfmc", risk: "extreme" }).item)).toBe(false);
    expect(needsSecretData(factsOf({ owner: "someone" }).item)).toBe(false);
  });
});

describe("credentialFacts", () => {
  it("keeps only whether a secret field is set, and the values of plain fields", () => {
    const item = factsOf({ provider: "sfmc" }).item;
    const facts = credentialFacts(item, {
      version: 3,
      data: {
        client_id: "mc-1",
        api_key: SecretValue.of("test-secret-canary-facts-77c1"),
        pending_api_key: SecretValue.of(""),
      },
      customMetadata: { provider: "sfmc" },
    });
    expect([...facts.present].sort()).toEqual(["api_key", "client_id"]);
    expect(facts.plain).toEqual({ client_id: "mc-1" });
    expect(JSON.stringify({ ...facts, present: [...facts.present] })).not.toContain("test-secret-canary");
  });
});
