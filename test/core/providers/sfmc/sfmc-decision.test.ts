import { describe, expect, it } from "vitest";
import { selectStarts } from "../../../../src/app/rotation-cycle.ts";
import { classifyEntry, DEFAULT_CLASSIFY_DEFAULTS } from "../../../../src/core/inventory/classify.ts";
import { PROVIDERS } from "../../../../src/core/providers/provider-registry.ts";
import { decideRotation } from "../../../../src/core/rotation/rotation-decision.ts";
import { kvEntry } from "../../../fakes/kv-entry-builder.ts";

const NOW = new Date("2026-06-15T12:00:00Z");

function item(path: string, meta: Record<string, string>) {
  return classifyEntry(kvEntry(path, meta), NOW, DEFAULT_CLASSIFY_DEFAULTS);
}

describe("decisions for provider=sfmc", () => {
  it("never starts on the schedule, even past expires_at: deadlines only remind", () => {
    const d = decideRotation(
      item("api-credentials/mc", { provider: "sfmc", expires_at: "2026-06-01T00:00:00Z" }),
      NOW,
      PROVIDERS,
    );
    expect(d).toMatchObject({ act: false });
    expect(d.reason).toContain("assisted rotation");
  });

  it("starts on an operator's rotate=now", () => {
    const sel = selectStarts([item("api-credentials/mc", { provider: "sfmc", rotate: "now" })], NOW);
    expect(sel.starts.map((s) => s.item.path)).toEqual(["api-credentials/mc"]);
  });

  it("treats rotate=now while published as the operator's word that Setup activated the new secret", () => {
    const d = decideRotation(
      item("api-credentials/mc", { provider: "sfmc", rotation_state: "awaiting_promotion", rotate: "now" }),
      NOW,
      PROVIDERS,
    );
    expect(d).toMatchObject({ act: true, mode: "standard", trigger: "flag" });
  });
});
