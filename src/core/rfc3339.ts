// RFC 3339 timestamps as Vault writes them (`2018-03-22T02:24:06.945319214Z`) and operators type them
// (`2026-04-01T00:00:00+02:00`). Date.parse is too lenient (it rolls 2025-02-30 over to March and accepts
// many non-RFC forms), so the fields are checked by hand. Fractions beyond milliseconds are truncated.

const RFC3339 =
  /^([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt ]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,9}))?(?:([Zz])|([+-])([0-9]{2}):([0-9]{2}))$/;

/** The instant, or undefined unless `text` is an RFC 3339 date-time with a zone, years 1970-9999. Never throws. */
export function parseRfc3339(text: unknown): Date | undefined {
  if (typeof text !== "string" || text.length > 40) return undefined;
  const m = RFC3339.exec(text);
  if (m === null) return undefined;
  const [year, month, day, hour, minute, second] = [m[1], m[2], m[3], m[4], m[5], m[6]].map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  // Years before 1970 are refused: no credential was rotated then, and Date.UTC treats 0-99 as 19xx.
  if (year < 1970 || month < 1 || month > 12) return undefined;
  if (day < 1 || day > daysInMonth(year, month)) return undefined;
  // Second 60 is a leap second in RFC 3339; JavaScript cannot represent it, so it is refused.
  if (hour > 23 || minute > 59 || second > 59) return undefined;
  const ms = Number((m[7] ?? "0").padEnd(3, "0").slice(0, 3));
  let offsetMinutes = 0;
  if (m[8] === undefined) {
    const offHour = Number(m[10]);
    const offMinute = Number(m[11]);
    if (offHour > 23 || offMinute > 59) return undefined;
    offsetMinutes = (m[9] === "-" ? -1 : 1) * (offHour * 60 + offMinute);
  }
  return new Date(Date.UTC(year, month - 1, day, hour, minute, second, ms) - offsetMinutes * 60_000);
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}
