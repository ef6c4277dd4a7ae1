import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  isSalesforceId,
  parseApiVersion,
  requireSalesforceId,
  requireStagedSupport,
  sameSalesforceId,
  to15,
  to18,
} from "../../../src/adapters/salesforce/salesforce-client.ts";
import { isRotatorError } from "../../../src/core/errors.ts";

describe("Salesforce ids", () => {
  it("computes the 18-character forms seen on the wire in a published transcript", () => {
    expect(to18("0xIWt0000003lOz")).toBe("0xIWt0000003lOzMAI");
    expect(to18("0ugWt00000000w5")).toBe("0ugWt00000000w5IAA");
    expect(to18("0ugWt00000000xh")).toBe("0ugWt00000000xhIAA");
    expect(to18("00DWt00000B2V4b")).toBe("00DWt00000B2V4bMAF");
    expect(to18("005Wt000004d0fN")).toBe("005Wt000004d0fNIAQ");
  });

  it("leaves an 18-character id as it is and cuts it back to 15", () => {
    expect(to18("888Wt000000O8CXIA0")).toBe("888Wt000000O8CXIA0");
    expect(to15("888Wt000000O8CXIA0")).toBe("888Wt000000O8CX");
  });

  it("matches 15- and 18-character forms of one id, case-sensitively", () => {
    expect(sameSalesforceId("0xIWt0000003lOz", "0xIWt0000003lOzMAI")).toBe(true);
    expect(sameSalesforceId("0xIWt0000003lOzMAI", "0xIWt0000003lOz")).toBe(true);
    expect(sameSalesforceId("0xIWt0000003loz", "0xIWt0000003lOz")).toBe(false);
    expect(sameSalesforceId("not-an-id", "not-an-id")).toBe(false);
  });

  it("gives every 15-character id an 18-character form that matches it", () => {
    const id15 = fc.stringMatching(/^[a-zA-Z0-9]{15}$/);
    fc.assert(
      fc.property(id15, (id) => {
        const long = to18(id);
        return long.length === 18 && long.startsWith(id) && sameSalesforceId(id, long);
      }),
    );
  });

  it("refuses anything that could escape a URL path segment", () => {
    for (const bad of ["../../../etc", "0xIWt0000003lOz?x=1", "0xIWt0000003lO", "", "0xIWt0000003lOz/x"]) {
      expect(isSalesforceId(bad)).toBe(false);
      expect(() => requireSalesforceId(bad, "app id")).toThrow(/app id is not a Salesforce id/);
    }
  });
});

describe("api version", () => {
  it("accepts v65.0, 65.0 and 65", () => {
    expect(parseApiVersion("v65.0")).toEqual({ major: 65, segment: "v65.0" });
    expect(parseApiVersion("65.0").segment).toBe("v65.0");
    expect(parseApiVersion("66").segment).toBe("v66.0");
  });

  it("rejects versions that are not one", () => {
    for (const bad of ["latest", "v65.1", "v6", ""]) {
      expect(() => parseApiVersion(bad)).toThrow(/api_version/);
    }
  });

  it("refuses staged calls below v65.0 with SALESFORCE_NOT_ENABLED naming both versions", () => {
    let caught: unknown;
    try {
      requireStagedSupport(parseApiVersion("v64.0"), "create staged");
    } catch (err) {
      caught = err;
    }
    expect(isRotatorError(caught, "SALESFORCE_NOT_ENABLED")).toBe(true);
    expect(String((caught as Error).message)).toMatch(/v65\.0 or later \(configured v64\.0\)/);
    expect(() => requireStagedSupport(parseApiVersion("v65.0"), "create staged")).not.toThrow();
  });
});
