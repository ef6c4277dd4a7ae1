// The JWT bearer grant's assertion: RS256 over {iss: consumer key, sub: user name,
// aud: login host or My Domain, exp: now + 3 min}, signed with node:crypto from a PEM private key file. The key
// and the signed JWT are secrets: file contents and crypto error texts never reach a message.
import { createPrivateKey, createSign, type KeyObject } from "node:crypto";
import { readFile } from "node:fs/promises";
import { RotatorError } from "../../core/errors.ts";
import { SecretValue } from "../../core/secret-value.ts";
import type { Clock } from "../../core/time.ts";

const JWT_LIFETIME_S = 180;

export interface JwtClaims {
  /** Consumer key of the app holding the certificate. */
  readonly issuer: string;
  /** Salesforce user name. */
  readonly subject: string;
  /** https://login.salesforce.com, https://test.salesforce.com or the My Domain URL. */
  readonly audience: string;
}

/** Reads and parses a PEM private key; the error names the file and the failure kind only. */
export async function loadPrivateKey(file: string): Promise<KeyObject> {
  let pem: Buffer;
  try {
    pem = await readFile(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? "read error";
    throw new RotatorError(
      "CONFIG_INVALID",
      `cannot read the Salesforce JWT private key file ${file} (${code})`,
      {
        context: { file, errorCode: code },
      },
    );
  }
  try {
    const key = createPrivateKey(pem);
    if (key.asymmetricKeyType !== "rsa") throw new Error("not rsa");
    return key;
  } catch {
    throw new RotatorError(
      "CONFIG_INVALID",
      `the Salesforce JWT private key file ${file} does not hold an RSA private key in PEM form`,
      { context: { file } },
    );
  }
}

function base64url(data: string | Buffer): string {
  return Buffer.from(data).toString("base64url");
}

export function signJwtAssertion(claims: JwtClaims, key: KeyObject, clock: Clock): SecretValue {
  const header = base64url(JSON.stringify({ alg: "RS256", typ: "JWT" }));
  const exp = Math.floor(clock.now().getTime() / 1000) + JWT_LIFETIME_S;
  const payload = base64url(
    JSON.stringify({ iss: claims.issuer, sub: claims.subject, aud: claims.audience, exp }),
  );
  const signer = createSign("RSA-SHA256");
  signer.update(`${header}.${payload}`);
  const signature = signer.sign(key).toString("base64url");
  return SecretValue.of(`${header}.${payload}.${signature}`);
}
