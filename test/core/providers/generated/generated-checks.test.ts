import { describe, expect, it } from "vitest";
import { checkGenerated } from "../../../../src/core/providers/generated/generated-checks.ts";
import { CTX, factsOf, PATH } from "../check-kit.ts";

const CANARY = "test-secret-canary-generated-check-8a1f";

describe("checkGenerated", () => {
  it("finds nothing wrong with a current_secret and a completed phase", () => {
    const facts = factsOf({ provider: "generated" }, { current_secret: CANARY, rotation_phase: "complete" });
    expect(checkGenerated(facts, CTX)).toEqual([]);
  });

  it("warns that the first rotation generates current_secret when there is none", () => {
    expect(checkGenerated(factsOf({ provider: "generated" }, {}), CTX)).toEqual([
      { mark: "warn", text: "no current_secret yet: the first rotation generates one" },
    ]);
  });

  it("warns about a dual-accept overlap left open with no rotation under way, and says how to close it", () => {
    const facts = factsOf(
      { provider: "generated" },
      { current_secret: CANARY, previous_secret: `${CANARY}-old`, rotation_phase: "dual-accept" },
    );
    const findings = checkGenerated(facts, CTX);
    expect(findings).toHaveLength(1);
    expect(findings[0]?.mark).toBe("warn");
    expect(findings[0]?.text).toContain(
      "rotation_phase=dual-accept with no rotation under way: previous_secret is still accepted",
    );
    expect(findings[0]?.text).toContain(
      `vault kv patch secret/${PATH} previous_secret= rotation_phase=complete`,
    );
    expect(JSON.stringify(findings)).not.toContain(CANARY);
  });

  it("accepts dual-accept while a rotation waits for its confirmation", () => {
    const facts = factsOf(
      { provider: "generated", confirm_by: "flag", rotation_state: "awaiting_promotion" },
      { current_secret: CANARY, previous_secret: `${CANARY}-old`, rotation_phase: "dual-accept" },
    );
    expect(checkGenerated(facts, CTX)).toEqual([]);
  });
});
