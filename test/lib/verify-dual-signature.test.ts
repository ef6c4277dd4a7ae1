import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { verifyDualSignature } from "../../src/lib/verify-dual-signature.ts";

const CURRENT = "a".repeat(64);
const PREVIOUS = "b".repeat(64);
const BODY = '{"event":"invoice.paid","id":42}';
const sign = (secret: string, body = BODY, alg = "sha256", enc: "hex" | "base64" = "hex") =>
  createHmac(alg, secret).update(body).digest(enc);

describe("verifyDualSignature", () => {
  it("accepts a signature made with the current secret", () => {
    expect(
      verifyDualSignature({ body: BODY, signature: sign(CURRENT), secrets: [CURRENT, PREVIOUS] }),
    ).toEqual({
      valid: true,
      secretIndex: 0,
    });
  });

  it("accepts a signature made with the previous secret during the overlap, and says so", () => {
    expect(
      verifyDualSignature({ body: BODY, signature: sign(PREVIOUS), secrets: [CURRENT, PREVIOUS] }),
    ).toEqual({
      valid: true,
      secretIndex: 1,
    });
  });

  it("refuses the previous secret once the overlap is over and previous_secret is empty", () => {
    expect(verifyDualSignature({ body: BODY, signature: sign(PREVIOUS), secrets: [CURRENT, ""] })).toEqual({
      valid: false,
    });
  });

  it("refuses a tampered body, an unknown secret, garbage and a truncated signature", () => {
    const secrets = [CURRENT, PREVIOUS];
    expect(verifyDualSignature({ body: `${BODY} `, signature: sign(CURRENT), secrets }).valid).toBe(false);
    expect(verifyDualSignature({ body: BODY, signature: sign("c".repeat(64)), secrets }).valid).toBe(false);
    expect(verifyDualSignature({ body: BODY, signature: "not hex at all", secrets }).valid).toBe(false);
    expect(verifyDualSignature({ body: BODY, signature: sign(CURRENT).slice(0, 40), secrets }).valid).toBe(
      false,
    );
    expect(verifyDualSignature({ body: BODY, signature: "", secrets }).valid).toBe(false);
    expect(verifyDualSignature({ body: BODY, signature: sign(CURRENT), secrets: [] }).valid).toBe(false);
  });

  it("takes a sha256= prefix, upper-case hex, raw bytes, base64 and sha512", () => {
    const secrets = [CURRENT, PREVIOUS];
    expect(verifyDualSignature({ body: BODY, signature: `sha256=${sign(CURRENT)}`, secrets }).valid).toBe(
      true,
    );
    expect(verifyDualSignature({ body: BODY, signature: sign(CURRENT).toUpperCase(), secrets }).valid).toBe(
      true,
    );
    expect(verifyDualSignature({ body: Buffer.from(BODY), signature: sign(PREVIOUS), secrets }).valid).toBe(
      true,
    );
    const b64 = sign(CURRENT, BODY, "sha256", "base64");
    expect(verifyDualSignature({ body: BODY, signature: b64, secrets, encoding: "base64" }).valid).toBe(true);
    const s512 = sign(PREVIOUS, BODY, "sha512");
    expect(verifyDualSignature({ body: BODY, signature: s512, secrets, algorithm: "sha512" })).toEqual({
      valid: true,
      secretIndex: 1,
    });
    // A sha256 signature is not a sha512 one.
    expect(
      verifyDualSignature({ body: BODY, signature: sign(CURRENT), secrets, algorithm: "sha512" }).valid,
    ).toBe(false);
  });
});
