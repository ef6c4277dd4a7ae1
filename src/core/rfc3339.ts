// RFC 3339 timestamps as Vault writes them (`2018-03-22T02:24:06.945319214Z`) and operators type them
// (`2026-04-01T00:00:00+02:00`). Date.parse is too lenient (it rolls 2025-02-30 over to March and accepts
// many non-RFC forms), so the fields are checked by hand. Fractions beyond milliseconds are truncated.

// The grammar, read character by character (a scan parses several per credential, and a regex match allocates
// an array of eleven strings each time):
//   YYYY-MM-DD[Tt ]hh:mm:ss[.f{1,9}](Z|z|[+-]hh:mm)

/** The instant, or undefined unless `text` is an RFC 3339 date-time with a zone, years 1970-9999. Never throws. */
export function parseRfc3339(text: unknown): Date | undefined {
  if (typeof text !== "string" || text.length > 40 || text.length < 20) return undefined;
  const year = num(text, 0, 4);
  const month = num(text, 5, 2);
  const day = num(text, 8, 2);
  const hour = num(text, 11, 2);
  const minute = num(text, 14, 2);
  const second = num(text, 17, 2);
  const sep = text.charCodeAt(10);
  if (
    year < 0 ||
    month < 0 ||
    day < 0 ||
    hour < 0 ||
    minute < 0 ||
    second < 0 ||
    text.charCodeAt(4) !== DASH ||
    text.charCodeAt(7) !== DASH ||
    (sep !== UPPER_T && sep !== LOWER_T && sep !== SPACE) ||
    text.charCodeAt(13) !== COLON ||
    text.charCodeAt(16) !== COLON
  ) {
    return undefined;
  }
  let i = 19;
  let ms = 0;
  if (text.charCodeAt(i) === DOT) {
    const from = i + 1;
    i = from;
    while (i < text.length && isDigit(text.charCodeAt(i))) {
      // Fractions beyond milliseconds are truncated.
      if (i - from < 3) ms = ms * 10 + (text.charCodeAt(i) - ZERO);
      i += 1;
    }
    const count = i - from;
    if (count < 1 || count > 9) return undefined;
    for (let k = count; k < 3; k++) ms *= 10;
  }
  let offsetMinutes = 0;
  const zone = text.charCodeAt(i);
  if (zone === UPPER_Z || zone === LOWER_Z) {
    if (i + 1 !== text.length) return undefined;
  } else if (zone === PLUS || zone === DASH) {
    if (i + 6 !== text.length || text.charCodeAt(i + 3) !== COLON) return undefined;
    const offHour = num(text, i + 1, 2);
    const offMinute = num(text, i + 4, 2);
    if (offHour < 0 || offMinute < 0) return undefined;
    if (offHour > 23 || offMinute > 59) return undefined;
    offsetMinutes = (zone === DASH ? -1 : 1) * (offHour * 60 + offMinute);
  } else {
    return undefined;
  }
  // Years before 1970 are refused: no credential was rotated then, and Date.UTC treats 0-99 as 19xx.
  if (year < 1970 || month < 1 || month > 12) return undefined;
  if (day < 1 || day > daysInMonth(year, month)) return undefined;
  // Second 60 is a leap second in RFC 3339; JavaScript cannot represent it, so it is refused.
  if (hour > 23 || minute > 59 || second > 59) return undefined;
  return new Date(Date.UTC(year, month - 1, day, hour, minute, second, ms) - offsetMinutes * 60_000);
}

const ZERO = 48;
const DASH = 45;
const PLUS = 43;
const COLON = 58;
const DOT = 46;
const SPACE = 32;
const UPPER_T = 84;
const LOWER_T = 116;
const UPPER_Z = 90;
const LOWER_Z = 122;

function isDigit(code: number): boolean {
  return code >= ZERO && code <= ZERO + 9;
}

/** The `count` ASCII digits at `at` as a number, or -1 when any of them is not a digit. */
function num(text: string, at: number, count: number): number {
  let n = 0;
  for (let i = at; i < at + count; i++) {
    const c = text.charCodeAt(i);
    if (!isDigit(c)) return -1;
    n = n * 10 + (c - ZERO);
  }
  return n;
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}
