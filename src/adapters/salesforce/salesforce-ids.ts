// Salesforce record ids come in a case-sensitive 15-character form and an 18-character form that appends a
// case-insensitive checksum. The usage listing returns 15-character app ids while URLs
// embed 18-character ones, so ids are compared by their first 15 characters, case-sensitively.
import { RotatorError } from "../../core/errors.ts";

const ID_PATTERN = /^[a-zA-Z0-9]{15}(?:[a-zA-Z0-9]{3})?$/;
const CHECKSUM_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";

export function isSalesforceId(value: string): boolean {
  return ID_PATTERN.test(value);
}

/** The 18-character form: each 5-character chunk's upper-case letters form a bit mask → one checksum letter. */
export function to18(id: string): string {
  if (!isSalesforceId(id)) throw notAnId("id");
  if (id.length === 18) return id;
  let suffix = "";
  for (let chunk = 0; chunk < 3; chunk++) {
    let bits = 0;
    for (let i = 0; i < 5; i++) {
      const c = id.charAt(chunk * 5 + i);
      if (c >= "A" && c <= "Z") bits |= 1 << i;
    }
    suffix += CHECKSUM_ALPHABET.charAt(bits);
  }
  return id + suffix;
}

export function to15(id: string): string {
  if (!isSalesforceId(id)) throw notAnId("id");
  return id.slice(0, 15);
}

/** Same record? 15- and 18-character forms of one id match; anything that is not an id matches nothing. */
export function sameSalesforceId(a: string, b: string): boolean {
  return isSalesforceId(a) && isSalesforceId(b) && a.slice(0, 15) === b.slice(0, 15);
}

/** Guards an id before it goes into a URL path (no "../", no query tricks). The value itself is not echoed. */
export function requireSalesforceId(value: string, what: string): string {
  if (!isSalesforceId(value)) throw notAnId(what);
  return value;
}

function notAnId(what: string): RotatorError {
  return new RotatorError("USAGE", `${what} is not a Salesforce id (15 or 18 letters and digits)`, {
    context: { what },
  });
}
