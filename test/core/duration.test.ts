import { describe, expect, it } from "vitest";
import {
  DAY_MS,
  formatDuration,
  formatExactDuration,
  formatRelative,
  HOUR_MS,
  MAX_DURATION_MS,
  MINUTE_MS,
  parseDuration,
  SECOND_MS,
  WEEK_MS,
} from "../../src/core/time.ts";

describe("parseDuration", () => {
  it.each([
    ["90d", 90 * DAY_MS],
    ["12h", 12 * HOUR_MS],
    ["30m", 30 * MINUTE_MS],
    ["45s", 45 * SECOND_MS],
    ["2w", 2 * WEEK_MS],
    ["1d12h", DAY_MS + 12 * HOUR_MS],
    ["1h30m", HOUR_MS + 30 * MINUTE_MS],
    ["1w2d3h4m5s", WEEK_MS + 2 * DAY_MS + 3 * HOUR_MS + 4 * MINUTE_MS + 5 * SECOND_MS],
    ["007d", 7 * DAY_MS],
    ["  90d\t", 90 * DAY_MS],
    ["3650d", MAX_DURATION_MS],
    ["87600h", MAX_DURATION_MS],
  ])("reads %j as %d ms", (text, ms) => {
    expect(parseDuration(text)).toEqual({ ok: true, ms });
  });

  it.each([
    ["banana", "must be a duration like"],
    ["-3d", "must not be negative"],
    ["0d", "must be greater than zero"],
    ["0s", "must be greater than zero"],
    ["0d0h", "must be greater than zero"],
    ["999999999d", "is too long; the maximum is 3650d"],
    ["3651d", "is too long"],
    ["522w", "is too long"],
    ["9999999999999d", "must be a duration like"],
    ["", "is empty"],
    ["   ", "is empty"],
    ["90", "must be a duration like"],
    ["d", "must be a duration like"],
    ["90D", "must be a duration like"],
    ["90 d", "must be a duration like"],
    ["1.5d", "must be a duration like"],
    ["+3d", "must be a duration like"],
    ["90days", "must be a duration like"],
    ["12h1d", "largest first"],
    ["1d1d", "largest first"],
    ["\u00a090d", "must be a duration like"],
    ["９０d", "must be a duration like"],
    ["90d\n", "must be a duration like"],
    ["P90D", "must be a duration like"],
  ])("rejects %j with a reason containing %j", (text, expected) => {
    const result = parseDuration(text);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.reason).toContain(expected);
  });

  it("accepts zero only when the caller allows it", () => {
    expect(parseDuration("0s", { allowZero: true })).toEqual({ ok: true, ms: 0 });
    expect(parseDuration("0m").ok).toBe(false);
  });

  it("honours a caller's lower maximum", () => {
    expect(parseDuration("2d", { maxMs: DAY_MS })).toEqual({
      ok: false,
      reason: "is too long; the maximum is 1d",
    });
  });

  it("rejects values that are not strings without throwing", () => {
    expect(parseDuration(90)).toEqual({ ok: false, reason: "must be a string" });
    expect(parseDuration(undefined).ok).toBe(false);
  });

  it("never repeats the input in its reason", () => {
    const weird = `${"x".repeat(500)}d`;
    const result = parseDuration(weird);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.reason).not.toContain("xxxx");
  });
});

describe("formatDuration", () => {
  it.each([
    [0, "0s"],
    [999, "0s"],
    [45 * SECOND_MS, "45s"],
    [5 * MINUTE_MS + 3 * SECOND_MS, "5m 3s"],
    [4 * HOUR_MS + 5 * MINUTE_MS + 59 * SECOND_MS, "4h 5m"],
    [3 * DAY_MS + 4 * HOUR_MS, "3d 4h"],
    [3 * DAY_MS + 5 * MINUTE_MS, "3d"],
    [90 * DAY_MS, "90d"],
    [2 * WEEK_MS, "14d"],
    [-(3 * DAY_MS + 4 * HOUR_MS), "-3d 4h"],
    [Number.NaN, "?"],
  ])("shows %d ms as %j", (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });
});

describe("formatRelative", () => {
  it.each([
    [12 * DAY_MS, "in 12d"],
    [-(3 * DAY_MS), "3d ago"],
    [-(3 * DAY_MS + 4 * HOUR_MS), "3d 4h ago"],
    [500, "now"],
    [0, "now"],
  ])("shows %d ms from now as %j", (ms, text) => {
    expect(formatRelative(ms)).toBe(text);
  });
});

describe("formatExactDuration", () => {
  it.each([
    [0, "0s"],
    [90_000, "1m30s"],
    [14 * 86_400_000, "14d"],
    [86_400_000 + 2 * 3_600_000 + 5_000, "1d2h5s"],
  ])("writes %d ms as %s, which parseDuration reads back exactly", (ms, text) => {
    expect(formatExactDuration(ms)).toBe(text);
    if (ms > 0) expect(parseDuration(text)).toEqual({ ok: true, ms });
  });
});
