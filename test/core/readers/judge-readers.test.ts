import { describe, expect, it } from "vitest";
import { judgeReaders, type ReaderSeen } from "../../../src/core/readers/readers.ts";

const T = new Date("2026-12-05T10:00:00Z");
const HOUR = 3_600_000;
const at = (hoursFromT: number) => new Date(T.getTime() + hoursFromT * HOUR);
const reader = (label: string, version: number, hoursFromT: number): ReaderSeen => ({
  id: `entity:${label}`,
  label,
  version,
  at: at(hoursFromT),
});

describe("judgeReaders", () => {
  it("waits for a reader whose latest read still returned a version older than the published one", () => {
    const j = judgeReaders([reader("billing", 8, 1), reader("sync", 7, -2)], 8, T, 7 * 24 * HOUR);
    expect(j.moved.map((r) => r.label)).toEqual(["billing"]);
    expect(j.lagging.map((r) => r.label)).toEqual(["sync"]);
    expect(j.allMoved).toBe(false);
  });

  it("counts a read of a later version as moved, and a reader back on an old version as lagging", () => {
    const j = judgeReaders([reader("a", 9, 2), reader("b", 7, 3)], 8, T, 7 * 24 * HOUR);
    expect(j.moved.map((r) => r.label)).toEqual(["a"]);
    expect(j.lagging.map((r) => r.label)).toEqual(["b"]);
  });

  it("ignores readers last seen before the window and has nobody to wait for when nobody was seen", () => {
    const j = judgeReaders([reader("gone", 7, -8 * 24)], 8, T, 7 * 24 * HOUR);
    expect(j.lagging).toEqual([]);
    expect(j.allMoved).toBe(true);
    expect(judgeReaders([], 8, T, HOUR).allMoved).toBe(true);
  });

  it("sorts each list by label so chat and the status page read the same every time", () => {
    const j = judgeReaders([reader("z", 8, 1), reader("a", 8, 1), reader("m", 6, 0)], 8, T, HOUR);
    expect(j.moved.map((r) => r.label)).toEqual(["a", "z"]);
  });
});
