import { createVerify, generateKeyPairSync } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadPrivateKey, signJwtAssertion } from "../../../src/adapters/salesforce/salesforce-jwt.ts";
import { FixedClock } from "../../../src/core/time.ts";

describe("JWT bearer assertion", () => {
  let dir = "";
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "eca-jwt-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("signs RS256 with iss, sub, aud and exp three minutes ahead", async () => {
    const file = path.join(dir, "key.pem");
    await writeFile(file, privateKey.export({ type: "pkcs8", format: "pem" }));
    const clock = new FixedClock("2026-03-01T10:00:00Z");
    const jwt = signJwtAssertion(
      { issuer: "3MVG9key", subject: "admin@example.com", audience: "https://login.salesforce.com" },
      await loadPrivateKey(file),
      clock,
    );
    expect(String(jwt)).toBe("[redacted]");
    const [h, p, s] = jwt.reveal().split(".");
    expect(JSON.parse(Buffer.from(h ?? "", "base64url").toString())).toEqual({ alg: "RS256", typ: "JWT" });
    expect(JSON.parse(Buffer.from(p ?? "", "base64url").toString())).toEqual({
      iss: "3MVG9key",
      sub: "admin@example.com",
      aud: "https://login.salesforce.com",
      exp: Date.parse("2026-03-01T10:03:00Z") / 1000,
    });
    const verifier = createVerify("RSA-SHA256");
    verifier.update(`${h}.${p}`);
    expect(verifier.verify(publicKey, Buffer.from(s ?? "", "base64url"))).toBe(true);
  });

  it("names a missing or unusable key file without quoting its contents", async () => {
    await expect(loadPrivateKey(path.join(dir, "absent.pem"))).rejects.toThrow(/cannot read .*\(ENOENT\)/);
    const junk = path.join(dir, "junk.pem");
    await writeFile(junk, "test-secret-canary-not-a-key");
    const err = (await loadPrivateKey(junk).then(
      () => new Error("expected a rejection"),
      (e: unknown) => e,
    )) as Error;
    expect(err.message).toMatch(/does not hold an RSA private key/);
    expect(err.message).not.toContain("canary");
  });
});
