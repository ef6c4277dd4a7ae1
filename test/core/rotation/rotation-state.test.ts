import { describe, expect, it } from "vitest";
import {
  canTransition,
  isPastPromotion,
  nextSteps,
  ROTATION_STATES,
  type RotationMode,
  type RotationStep,
  stepOrder,
  TERMINAL_STATES,
  visibleState,
} from "../../../src/core/rotation/rotation-state.ts";

const MODES: RotationMode[] = ["standard", "emergency"];

describe("rotation state machine", () => {
  it.each(MODES)("%s: walks its order from claimed to closed, one allowed transition at a time", (mode) => {
    const order = stepOrder(mode);
    expect(order[0]).toBe("claimed");
    expect(order.at(-1)).toBe("closed");
    for (let i = 0; i + 1 < order.length; i++)
      expect(canTransition(mode, order[i]!, order[i + 1]!)).toBe(true);
  });

  it("publishes before promoting in standard mode and right after promoting in emergency mode", () => {
    const std = stepOrder("standard");
    expect(std.indexOf("published")).toBeLessThan(std.indexOf("promoting"));
    const em = stepOrder("emergency");
    expect(em).not.toContain("verified");
    // Emergency publishes the promoted pair before anything else can fail: retiring the old pair (which may meet
    // a Salesforce outage) and verifying the new one both come after KV holds what Salesforce accepts.
    expect(em.indexOf("published")).toBe(em.indexOf("promoted") + 1);
    expect(em.indexOf("published")).toBeLessThan(em.indexOf("retired"));
    expect(em.indexOf("retired")).toBeLessThan(em.indexOf("verified_main"));
  });

  // The journal writes one engine call may leave out: never an intent (staging, promoting) or the new pair (staged).
  const SHORTCUTS: Record<RotationMode, string[]> = {
    standard: ["claimed → staging", "staged → published", "staged → promoting", "promoted → retired"],
    emergency: ["claimed → staging"],
  };

  it.each(MODES)("%s: never goes backwards, and skips only the documented shortcuts", (mode) => {
    const order = stepOrder(mode);
    for (const from of order) {
      for (const to of order) {
        const allowed =
          order.indexOf(to) === order.indexOf(from) + 1 || SHORTCUTS[mode].includes(`${from} → ${to}`);
        expect(canTransition(mode, from, to), `${from} → ${to}`).toBe(allowed);
      }
    }
  });

  it.each(MODES)("%s: no shortcut passes over an intent or the journaling of the new pair", (mode) => {
    const order = stepOrder(mode);
    for (const edge of SHORTCUTS[mode]) {
      const [from, to] = edge.split(" → ") as [RotationStep, RotationStep];
      const skipped = order.slice(order.indexOf(from) + 1, order.indexOf(to));
      expect(skipped.length, edge).toBeGreaterThan(0);
      for (const step of ["staging", "staged", "promoting"] as const)
        expect(skipped, edge).not.toContain(step);
    }
  });

  it("allows rollback before promotion in standard mode, and from promoting in both (the promote step's call)", () => {
    const rollbackable: RotationStep[] = ["staging", "staged", "verified", "published", "promoting"];
    for (const from of ROTATION_STATES) {
      expect(canTransition("standard", from, "rolling_back"), from).toBe(rollbackable.includes(from));
      expect(canTransition("emergency", from, "rolling_back"), from).toBe(from === "promoting");
    }
    expect(nextSteps("standard", "rolling_back")).toEqual(["rolled_back", "failed"]);
  });

  it("lets any unfinished state fail, and terminal states go nowhere", () => {
    for (const mode of MODES) {
      for (const from of ROTATION_STATES) {
        if (TERMINAL_STATES.has(from)) expect(nextSteps(mode, from)).toEqual([]);
        else expect(nextSteps(mode, from)).toContain("failed");
      }
    }
  });

  it.each([
    ["standard", "published", false],
    ["standard", "promoting", true],
    ["standard", "retired", true],
    ["emergency", "staged", false],
    ["emergency", "promoting", true],
    ["emergency", "published", true],
  ] as const)("%s: %s is past promotion = %s", (mode, step, past) => {
    expect(isPastPromotion(mode, step)).toBe(past);
  });

  it("shows awaiting_promotion only while a published rotation soaks", () => {
    const now = new Date("2026-01-01T00:10:00Z");
    expect(visibleState("published", new Date("2026-01-01T00:15:00Z"), now)).toBe("awaiting_promotion");
    expect(visibleState("published", new Date("2026-01-01T00:05:00Z"), now)).toBe("in_progress");
    expect(visibleState("staged")).toBe("in_progress");
    expect(visibleState("closed")).toBe("idle");
    expect(visibleState("rolled_back")).toBe("idle");
    expect(visibleState("failed")).toBe("failed");
  });
});
