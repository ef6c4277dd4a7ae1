// Salesforce's 15/18-character ids: the suffix the simulator computes matches the ids a published hands-on transcript shows.
import { describe, expect, it } from "vitest";
import { newId15, to15, to18 } from "../../src/simulator/salesforce/sim-ids.ts";

describe("simulator ids", () => {
  it("computes the case-safe suffix of the ids of that transcript", () => {
    expect(to18("0xIWt0000003lOz")).toBe("0xIWt0000003lOzMAI");
    expect(to18("0ugWt00000000w5")).toBe("0ugWt00000000w5IAA");
    expect(to18("888Wt000000O8CX")).toBe("888Wt000000O8CXIA0");
    expect(to18("00DWt00000B2V4b")).toBe("00DWt00000B2V4bMAF");
  });

  it("maps both forms to the 15-char id, ignores the suffix's case, and rejects a wrong suffix", () => {
    expect(to15("0xIWt0000003lOz")).toBe("0xIWt0000003lOz");
    expect(to15("0xIWt0000003lOzMAI")).toBe("0xIWt0000003lOz");
    expect(to15("0xIWt0000003lOzmai")).toBe("0xIWt0000003lOz");
    expect(to15("0xIWt0000003lOzAAA")).toBeUndefined();
    expect(to15("0xI-bad")).toBeUndefined();
  });

  it("mints distinct 15-char ids with the kind's prefix", () => {
    const ids = new Set(Array.from({ length: 500 }, (_, i) => newId15("staged", i)));
    expect(ids.size).toBe(500);
    for (const id of ids) expect(id).toMatch(/^0ug[A-Za-z0-9]{12}$/);
  });
});
