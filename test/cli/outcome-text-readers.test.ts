// What run --once and rotate print for a soak that waits for its readers (soak_until=readers).
import { describe, expect, it } from "vitest";
import { describeCycle, describeOutcome } from "../../src/cli/outcome-text.ts";
import type { RotationOutcome } from "../../src/core/rotation/rotation-outcome.ts";

const NOW = new Date("2026-03-02T10:00:00.000Z");
const waiting = (extra: Partial<RotationOutcome> = {}): RotationOutcome =>
  ({
    kind: "waiting",
    path: "api-credentials/team-a/crm",
    rotationId: "rot-1",
    mode: "standard",
    sinkFailures: 0,
    step: "published",
    waiting: "readers",
    until: new Date(NOW.getTime() + 60_000),
    detail: "waiting for readers: 3 of 4 moved; waiting for token-billing-sync, last read v7 5m ago",
    ...extra,
  }) as RotationOutcome;

describe("outcome text for soak_until=readers", () => {
  it("says who has moved and who not, and when it looks again", () => {
    expect(describeOutcome(waiting(), NOW)).toBe(
      "waiting: api-credentials/team-a/crm: the new pair is published and both work; waiting for readers: 3 of 4 " +
        "moved; waiting for token-billing-sync, last read v7 5m ago (next look in 1m)",
    );
    expect(describeOutcome(waiting({ provider: "generated" }), NOW)).toContain("the new secret is published");
  });

  it("puts the same words in the run --once row", () => {
    const lines = describeCycle(
      [
        {
          path: "api-credentials/team-a/crm",
          action: "resume",
          reason: "unfinished rotation",
          outcome: waiting(),
        },
      ],
      NOW,
    );
    expect(lines.join("\n")).toContain("waiting for readers: 3 of 4 moved; waiting for token-billing-sync");
  });
});
