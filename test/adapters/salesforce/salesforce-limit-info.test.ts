import { describe, expect, it } from "vitest";
import { parseLimitInfo } from "../../../src/adapters/salesforce/salesforce-http.ts";

describe("parseLimitInfo", () => {
  it("reads api-usage and ignores the other entries", () => {
    expect(parseLimitInfo("api-usage=25/15000")).toEqual({ used: 25, max: 15000 });
    expect(parseLimitInfo("per-app-api-usage=2/250(appName=x), api-usage=18/5000")).toEqual({
      used: 18,
      max: 5000,
    });
    expect(parseLimitInfo(["api-bursts=1/2", "api-usage=3/4"])).toEqual({ used: 3, max: 4 });
  });

  it("gives undefined for a missing or malformed header", () => {
    expect(parseLimitInfo(undefined)).toBeUndefined();
    expect(parseLimitInfo("per-app-api-usage=2/250(appName=x)")).toBeUndefined();
    expect(parseLimitInfo("api-usage=lots")).toBeUndefined();
  });
});
