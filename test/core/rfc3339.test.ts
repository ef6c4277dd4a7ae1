import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseRfc3339 } from "../../src/core/time.ts";

// The grammar as one regular expression, with the same range checks: the reader must agree with it.
const GRAMMAR =
  /^([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt ]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,9}))?(?:([Zz])|([+-])([0-9]{2}):([0-9]{2}))$/;

function byGrammar(text: string): number | undefined {
  const m = GRAMMAR.exec(text);
  if (m === null || text.length > 40) return undefined;
  const [y, mo, d, h, mi, s] = [1, 2, 3, 4, 5, 6].map((i) => Number(m[i])) as number[];
  const offH = Number(m[10] ?? 0);
  const offM = Number(m[11] ?? 0);
  const last = new Date(Date.UTC(y ?? 0, mo ?? 0, 0)).getUTCDate();
  if ((y ?? 0) < 1970 || (mo ?? 0) < 1 || (mo ?? 0) > 12 || (d ?? 0) < 1 || (d ?? 0) > last) return undefined;
  if ((h ?? 0) > 23 || (mi ?? 0) > 59 || (s ?? 0) > 59 || offH > 23 || offM > 59) return undefined;
  const ms = Number((m[7] ?? "0").padEnd(3, "0").slice(0, 3));
  const offset = (m[9] === "-" ? -1 : 1) * (offH * 60 + offM);
  return Date.UTC(y ?? 0, (mo ?? 1) - 1, d ?? 0, h ?? 0, mi ?? 0, s ?? 0, ms) - offset * 60_000;
}

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

  it("agrees with the grammar on generated timestamps and near misses", () => {
    const two = (max: number) => fc.integer({ min: 0, max }).map((n) => String(n).padStart(2, "0"));
    const stamp = fc
      .tuple(
        fc.integer({ min: 1960, max: 2110 }).map(String),
        two(13),
        two(32),
        fc.constantFrom("T", "t", " ", "x"),
        two(24),
        two(60),
        two(60),
        fc.option(fc.stringMatching(/^[0-9]{0,11}$/), { nil: undefined }),
        fc.constantFrom("Z", "z", "", "+", "-", "+02:00", "-04:30", "+24:00", "+05:60", "+0200"),
      )
      .map(
        ([y, mo, d, sep, h, mi, s, frac, zone]) =>
          `${y}-${mo}-${d}${sep}${h}:${mi}:${s}${frac === undefined ? "" : `.${frac}`}${zone}`,
      );
    const mutated = fc
      .tuple(stamp, fc.nat(), fc.constantFrom("", "0", ":", "-", "Z", " ", "９"))
      .map(([t, at, c]) => {
        const i = at % (t.length + 1);
        return t.slice(0, i) + c + t.slice(i + 1);
      });
    fc.assert(
      fc.property(fc.oneof(stamp, mutated), (text) => {
        expect(parseRfc3339(text)?.getTime()).toBe(byGrammar(text));
      }),
      { numRuns: 5000 },
    );
  });
});
