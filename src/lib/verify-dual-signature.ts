// For webhook receivers of a provider=generated secret: verify an HMAC signature against every secret that is
// valid right now, i.e. current_secret and, during the dual-accept overlap, previous_secret (the
// receiver's side of the overlap). Every secret is tried and compared in constant time, so the answer's timing does
// not tell which secret (or how much of a signature) matched. Empty secrets (previous_secret="" once the
// overlap is over) are skipped.
import { createHmac, timingSafeEqual } from "node:crypto";

type SignatureAlgorithm = "sha256" | "sha512";

export interface DualSignatureInput {
  /** The raw request body, exactly as received (re-serialised JSON will not verify). */
  readonly body: string | Uint8Array;
  /** The signature header's value: hex or base64 digest, optionally prefixed "sha256=" as many senders do. */
  readonly signature: string;
  /** Usually [current_secret, previous_secret]; empty or undefined entries are skipped. */
  readonly secrets: readonly (string | undefined)[];
  /** Default sha256. */
  readonly algorithm?: SignatureAlgorithm | undefined;
  /** How the signature's digest is written; default hex. */
  readonly encoding?: "hex" | "base64" | undefined;
}

/** `secretIndex` says which secret matched: 0 current, 1 previous (the sender has not switched yet). */
export type DualSignatureResult =
  | { readonly valid: true; readonly secretIndex: number }
  | { readonly valid: false };

export function verifyDualSignature(input: DualSignatureInput): DualSignatureResult {
  const algorithm = input.algorithm ?? "sha256";
  const given = decodeSignature(input.signature, algorithm, input.encoding ?? "hex");
  let matched = -1;
  input.secrets.forEach((secret, index) => {
    if (secret === undefined || secret === "") return;
    const expected = createHmac(algorithm, secret).update(input.body).digest();
    // No early exit: every secret costs the same whether an earlier one matched or not.
    const equal = given !== undefined && given.length === expected.length && timingSafeEqual(given, expected);
    if (equal && matched < 0) matched = index;
  });
  return matched < 0 ? { valid: false } : { valid: true, secretIndex: matched };
}

function decodeSignature(
  raw: string,
  algorithm: SignatureAlgorithm,
  encoding: "hex" | "base64",
): Buffer | undefined {
  const text = raw.trim().replace(new RegExp(`^${algorithm}=`, "i"), "");
  if (encoding === "hex") return /^(?:[0-9a-f]{2})+$/i.test(text) ? Buffer.from(text, "hex") : undefined;
  return /^[A-Za-z0-9+/]+={0,2}$/.test(text) ? Buffer.from(text, "base64") : undefined;
}
