import { describe, expect, it } from "vitest";
import { claimLease, isFenceCurrent, type Lease, renewDelayMs } from "../../../src/core/rotation/lease.ts";

const T0 = new Date("2026-03-01T10:00:00Z");
const at = (s: number) => new Date(T0.getTime() + s * 1000);
const TTL = 120_000;

describe("claimLease", () => {
  it("grants a free credential with fence 1", () => {
    expect(claimLease(undefined, "replica-a", T0, TTL)).toEqual({
      ok: true,
      lease: { owner: "replica-a", expiresAt: at(120), fence: 1 },
      takeover: false,
    });
  });

  it("refuses a live lease held by someone else, saying who and until when", () => {
    const held: Lease = { owner: "replica-a", expiresAt: at(120), fence: 3 };
    expect(claimLease(held, "replica-b", at(60), TTL)).toEqual({
      ok: false,
      heldBy: "replica-a",
      until: at(120),
    });
  });

  it("renews the owner's own live lease without changing the fence", () => {
    const held: Lease = { owner: "replica-a", expiresAt: at(120), fence: 3 };
    expect(claimLease(held, "replica-a", at(60), TTL)).toEqual({
      ok: true,
      lease: { owner: "replica-a", expiresAt: at(180), fence: 3 },
      takeover: false,
    });
  });

  it("takes over an expired lease with a higher fence, so the old owner's late writes are refused", () => {
    const stale: Lease = { owner: "replica-a", expiresAt: at(120), fence: 3 };
    const claim = claimLease(stale, "replica-b", at(120), TTL);
    expect(claim).toEqual({
      ok: true,
      lease: { owner: "replica-b", expiresAt: at(240), fence: 4 },
      takeover: true,
    });
    if (!claim.ok) throw new Error("unreachable");
    expect(isFenceCurrent(claim.lease, "replica-a", 3, at(121))).toBe(false);
    expect(isFenceCurrent(claim.lease, "replica-b", 4, at(121))).toBe(true);
  });

  it("bumps the fence even when the same owner comes back after its lease expired (it may have been paused)", () => {
    const stale: Lease = { owner: "replica-a", expiresAt: at(120), fence: 3 };
    expect(claimLease(stale, "replica-a", at(500), TTL)).toMatchObject({
      ok: true,
      lease: { fence: 4 },
      takeover: false,
    });
  });
});

describe("isFenceCurrent and renewDelayMs", () => {
  it("refuses writes under an expired lease, or with no lease at all", () => {
    const lease: Lease = { owner: "a", expiresAt: at(10), fence: 2 };
    expect(isFenceCurrent(lease, "a", 2, at(9))).toBe(true);
    expect(isFenceCurrent(lease, "a", 2, at(10))).toBe(false);
    expect(isFenceCurrent(undefined, "a", 2, at(0))).toBe(false);
  });

  it("renews at a third of the time left", () => {
    expect(renewDelayMs({ owner: "a", expiresAt: at(90), fence: 1 }, T0)).toBe(30_000);
    expect(renewDelayMs({ owner: "a", expiresAt: at(-5), fence: 1 }, T0)).toBe(0);
  });
});
