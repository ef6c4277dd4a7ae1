import { describe, expect, it } from "vitest";
import { parseRfc3339 } from "../../src/core/rfc3339.ts";

describe("parseRfc3339", () => {
  it.each([
    ["2026-04-01T00:00:00Z", "2026-04-01T00:00:00.000Z"],
    ["2026-04-01t00:00:00z", "2026-04-01T00:00:00.000Z"],
    ["2026-04-01 00:00:00Z", "2026-04-01T00:00:00.000Z"],
    ["2018-03-22T02:24:06.945319214Z", "2018-03-22T02:24:06.945Z"],
    ["2026-04-01T02:00:00+02:00", "2026-04-01T00:00:00.000Z"],
    ["2026-03-31T19:30:00-04:30", "2026-04-01T00:00:00.000Z"],
    ["2024-02-29T12:00:00.5Z", "2024-02-29T12:00:00.500Z"],
    ["2000-02-29T00:00:00Z", "2000-02-29T00:00:00.000Z"],
  ])("reads %j as %s", (text, iso) => {
    expect(parseRfc3339(text)?.toISOString()).toBe(iso);
  });

  it.each([
    ["a date without a time", "2026-04-01"],
    ["a time without a zone", "2026-04-01T00:00:00"],
    ["February 30th", "2025-02-30T00:00:00Z"],
    ["February 29th in a common year", "2025-02-29T00:00:00Z"],
    ["February 29th in 1900-style century years", "2100-02-29T00:00:00Z"],
    ["April 31st", "2026-04-31T00:00:00Z"],
    ["month 13", "2026-13-01T00:00:00Z"],
    ["hour 24", "2026-04-01T24:00:00Z"],
    ["a leap second", "2026-06-30T23:59:60Z"],
    ["a zone offset of 25 hours", "2026-04-01T00:00:00+25:00"],
    ["a year before 1970", "1969-12-31T23:59:59Z"],
    ["a Unix timestamp", "1775001600"],
    ["free text", "next tuesday"],
    ["an empty string", ""],
    ["trailing whitespace", "2026-04-01T00:00:00Z "],
    ["non-ASCII digits", "２０２６-04-01T00:00:00Z"],
    ["ten fractional digits", "2026-04-01T00:00:00.1234567890Z"],
  ])("refuses %s", (_what, text) => {
    expect(parseRfc3339(text)).toBeUndefined();
  });

  it("refuses values that are not strings", () => {
    expect(parseRfc3339(undefined)).toBeUndefined();
    expect(parseRfc3339(1_775_001_600_000)).toBeUndefined();
  });
});
