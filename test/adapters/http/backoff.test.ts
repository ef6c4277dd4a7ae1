import { describe, expect, it } from "vitest";
import {
  backoffDelayMs,
  isNotSentCode,
  parseRetryAfter,
  transportErrorCode,
} from "../../../src/adapters/http/http-client.ts";
import { FixedClock } from "../../../src/core/time.ts";

describe("backoffDelayMs", () => {
  it("doubles per attempt, keeps half of the delay fixed and caps the growth", () => {
    const opts = { baseMs: 100, capMs: 1_000 };
    expect(backoffDelayMs(0, { ...opts, random: () => 0 })).toBe(50);
    expect(backoffDelayMs(0, { ...opts, random: () => 0.999999 })).toBeCloseTo(100, 2);
    expect(backoffDelayMs(3, { ...opts, random: () => 0 })).toBe(400);
    expect(backoffDelayMs(10, { ...opts, random: () => 0.5 })).toBe(750);
  });
});

describe("parseRetryAfter", () => {
  it("reads seconds and HTTP dates and ignores nonsense", () => {
    const clock = new FixedClock("2026-01-01T00:00:00Z");
    expect(parseRetryAfter("3", clock)).toBe(3_000);
    expect(parseRetryAfter("Thu, 01 Jan 2026 00:00:10 GMT", clock)).toBe(10_000);
    expect(parseRetryAfter("soon", clock)).toBeUndefined();
    expect(parseRetryAfter(undefined, clock)).toBeUndefined();
  });
});

describe("transport error classification", () => {
  it("finds the code on the error, its cause or an aggregate", () => {
    expect(transportErrorCode({ cause: { code: "ECONNRESET" } })).toBe("ECONNRESET");
    expect(transportErrorCode(new AggregateError([{ code: "ECONNREFUSED" }]))).toBe("ECONNREFUSED");
    expect(transportErrorCode({ name: "TimeoutError" })).toBe("ABORT_ERR");
  });

  it("tells failures before sending from failures after sending", () => {
    expect(isNotSentCode("ECONNREFUSED")).toBe(true);
    expect(isNotSentCode("UND_ERR_CONNECT_TIMEOUT")).toBe(true);
    expect(isNotSentCode("UND_ERR_SOCKET")).toBe(false);
    expect(isNotSentCode("UND_ERR_HEADERS_TIMEOUT")).toBe(false);
  });
});
