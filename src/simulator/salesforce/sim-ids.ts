// Salesforce-shaped identifiers for the simulator: 15/18-character record ids, consumer keys, secrets, tokens.
import { randomBytes } from "node:crypto";

const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const SUFFIX_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";
const ID15 = /^[a-zA-Z0-9]{15}$/;
const ID18 = /^[a-zA-Z0-9]{18}$/;

/** Key prefixes seen on the wire, plus the usual org and user prefixes. */
const ID_PREFIX = { org: "00D", user: "005", app: "0xI", consumer: "888", staged: "0ug" } as const;
export type IdKind = keyof typeof ID_PREFIX;

/** Salesforce's case-safe suffix: one character per 5-char chunk, a bit for each upper-case letter. */
export function to18(id15: string): string {
  let suffix = "";
  for (let chunk = 0; chunk < 3; chunk++) {
    let bits = 0;
    for (let i = 0; i < 5; i++) {
      const c = id15.charAt(chunk * 5 + i);
      if (c >= "A" && c <= "Z") bits |= 1 << i;
    }
    suffix += SUFFIX_ALPHABET.charAt(bits);
  }
  return id15 + suffix;
}

/** The 15-char form of a 15- or 18-char id, or undefined when it is neither (or the suffix does not match). */
export function to15(id: string): string | undefined {
  if (ID15.test(id)) return id;
  if (!ID18.test(id)) return undefined;
  const base = id.slice(0, 15);
  // The suffix is case-insensitive; a wrong one means a mangled id, which Salesforce treats as unknown.
  return to18(base).slice(15) === id.slice(15).toUpperCase() ? base : undefined;
}

/** A new 15-char id: prefix, a two-letter "pod" and a base-62 serial (mixed case, so the suffix matters). */
export function newId15(kind: IdKind, serial: number): string {
  let n = serial;
  let digits = "";
  do {
    digits = BASE62.charAt(n % 62) + digits;
    n = Math.floor(n / 62);
  } while (n > 0);
  return `${ID_PREFIX[kind]}Sm${digits.padStart(10, "0")}`;
}

/** ~85 chars like a real consumer key: `3MVG9` then letters, digits, dots and underscores. */
export function newConsumerKey(): string {
  const alphabet = `${BASE62}._`;
  const bytes = randomBytes(80);
  let out = "3MVG9";
  for (const b of bytes) out += alphabet.charAt(b % alphabet.length);
  return out;
}

/** 64 upper-case hex characters, the documented consumer-secret format. */
export function newConsumerSecret(): string {
  return randomBytes(32).toString("hex").toUpperCase();
}

/** Opaque access token shaped `<orgId15>!<opaque>` like every published example. */
export function newAccessToken(orgId15: string): string {
  return `${orgId15}!AQ${randomBytes(72).toString("base64url")}`;
}
