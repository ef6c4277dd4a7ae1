import { describe, expect, it } from "vitest";
import { applyBudget, budgetLevel } from "../../../src/core/rotation/rotation-decision.ts";

const budget = { slowAt: 0.5, stopAt: 0.9 };

describe("budgetLevel", () => {
  it("is normal without usage data and below the slow point, slow from it, stop from the stop point", () => {
    expect(budgetLevel(undefined, budget)).toBe("normal");
    expect(budgetLevel({ used: 4_999, max: 10_000 }, budget)).toBe("normal");
    expect(budgetLevel({ used: 5_000, max: 10_000 }, budget)).toBe("slow");
    expect(budgetLevel({ used: 8_999, max: 10_000 }, budget)).toBe("slow");
    expect(budgetLevel({ used: 9_000, max: 10_000 }, budget)).toBe("stop");
    expect(budgetLevel({ used: 12_000, max: 10_000 }, budget)).toBe("stop");
  });
});

describe("applyBudget", () => {
  const levels: Record<string, "normal" | "slow" | "stop"> = { a: "normal", b: "slow", c: "stop" };
  const levelOf = (c: string | undefined) => levels[c ?? "a"] ?? "normal";

  it("starts everything on a connection with room", () => {
    const r = applyBudget(
      [
        { connection: "a", emergency: false },
        { connection: undefined, emergency: false },
        { connection: "a", emergency: false },
      ],
      levelOf,
    );
    expect(r.start).toEqual([0, 1, 2]);
    expect(r.held.size).toBe(0);
  });

  it("starts one new rotation per slow connection and holds the rest with the reason", () => {
    const r = applyBudget(
      [
        { connection: "b", emergency: false },
        { connection: "b", emergency: false },
        { connection: "a", emergency: false },
        { connection: "b", emergency: false },
      ],
      levelOf,
    );
    expect(r.start).toEqual([0, 2]);
    expect([...r.held.keys()]).toEqual([1, 3]);
    expect(r.held.get(1)).toMatch(/slow_at/);
  });

  it("holds every standard rotation on a stopped connection but still starts emergencies", () => {
    const r = applyBudget(
      [
        { connection: "c", emergency: false },
        { connection: "c", emergency: true },
        { connection: "c", emergency: true },
      ],
      levelOf,
    );
    expect(r.start).toEqual([1, 2]);
    expect(r.held.get(0)).toMatch(/stop_at/);
  });

  it("counts an emergency on a slow connection as that cycle's one rotation", () => {
    const r = applyBudget(
      [
        { connection: "b", emergency: true },
        { connection: "b", emergency: false },
      ],
      levelOf,
    );
    expect(r.start).toEqual([0]);
    expect(r.held.has(1)).toBe(true);
  });
});
