import { describe, expect, it } from "vitest";
import { selectStarts } from "../../../../src/app/rotation-cycle.ts";
import { classifyEntry, DEFAULT_CLASSIFY_DEFAULTS } from "../../../../src/core/inventory/classify.ts";
import { MANUAL_ROTATE_MESSAGE } from "../../../../src/core/manual/manual-actions.ts";
import { PROVIDERS } from "../../../../src/core/providers/provider-registry.ts";
import { decideRotation } from "../../../../src/core/rotation/rotation-decision.ts";
import { kvEntry } from "../../../fakes/kv-entry-builder.ts";

const NOW = new Date("2026-06-15T12:00:00Z");

function item(path: string, meta: Record<string, string>) {
  return classifyEntry(kvEntry(path, meta), NOW, DEFAULT_CLASSIFY_DEFAULTS);
}

describe("decisions for provider=generated", () => {
  it("treats rotate=now during the dual-accept overlap as the operator's go-ahead to end it", () => {
    const d = decideRotation(
      item("api-credentials/hook", {
        provider: "generated",
        rotation_state: "awaiting_promotion",
        rotate: "now",
        rotate_reason: "sender switched",
      }),
      NOW,
      PROVIDERS,
    );
    expect(d).toMatchObject({ act: true, mode: "standard", trigger: "flag" });
    expect(d.reason).toBe("rotate=now during the overlap: sender switched: end it now");
  });

  it("leaves a soaking salesforce-eca rotation alone on rotate=now, as before", () => {
    const d = decideRotation(
      item("api-credentials/eca", {
        provider: "salesforce-eca",
        eca_app_name: "App",
        rotation_state: "awaiting_promotion",
        rotate: "now",
      }),
      NOW,
      PROVIDERS,
    );
    expect(d).toMatchObject({ act: false });
  });

  it("starts flagged generated credentials and still lists other tracked providers as not rotated", () => {
    const sel = selectStarts(
      [
        item("api-credentials/hook", { provider: "generated", rotate: "now" }),
        item("api-credentials/mc", { provider: "manual", rotate: "now" }),
      ],
      NOW,
    );
    expect(sel.starts.map((s) => s.item.path)).toEqual(["api-credentials/hook"]);
    expect(sel.leftAlone).toEqual([
      {
        path: "api-credentials/mc",
        action: "none",
        reason: MANUAL_ROTATE_MESSAGE,
        outcome: undefined,
      },
    ]);
  });
});
