// Time, as the rotator reads, writes and waits for it: durations, RFC 3339 timestamps and the clock ports.
//
// Durations as operators write them in custom_metadata (`90d`, `12h`, `30m`) and as people read them in
// reports (`3d 4h`). Pure; never throws.
//
// Grammar (documented in docs/configuration.md):
//   one or more `<digits><unit>` parts, units in descending order, each unit at most once, no spaces
//   inside: `90d`, `2w`, `1d12h`, `1h30m`. Units: w (7 days), d, h, m, s. Lower-case only.
//   Leading/trailing ASCII spaces and tabs are ignored; anything else (other whitespace, signs, decimals,
//   upper-case units, non-ASCII look-alikes) is rejected.
// A duration is at most 10 years (3650d): larger values are almost always typos and would make a
// credential look healthy forever.

export const SECOND_MS = 1_000;
export const MINUTE_MS = 60 * SECOND_MS;
export const HOUR_MS = 60 * MINUTE_MS;
export const DAY_MS = 24 * HOUR_MS;
export const WEEK_MS = 7 * DAY_MS;
export const MAX_DURATION_MS = 3650 * DAY_MS;

const UNIT_MS: Readonly<Record<string, number>> = {
  w: WEEK_MS,
  d: DAY_MS,
  h: HOUR_MS,
  m: MINUTE_MS,
  s: SECOND_MS,
};
const UNIT_ORDER = "wdhms";
const FORMAT_HINT = "a duration like 90d, 12h, 30m, 45s, 2w or 1d12h";
// Bounded so the regex stays linear and the numbers stay exact; 12 digits is far past the 10-year cap.
const WHOLE = /^(?:[0-9]{1,12}[wdhms]){1,5}$/;
const PART = /([0-9]{1,12})([wdhms])/g;

export type DurationResult =
  | { readonly ok: true; readonly ms: number }
  | { readonly ok: false; readonly reason: string };

export interface ParseDurationOptions {
  /** Accept `0s`/`0d` (e.g. a warning window of zero). Default false: a period must be positive. */
  readonly allowZero?: boolean;
  /** Upper bound in ms; default MAX_DURATION_MS (10 years). */
  readonly maxMs?: number;
}

/** Parses an operator-written duration. The reason never repeats the input (it may be long or odd). */
export function parseDuration(text: unknown, opts: ParseDurationOptions = {}): DurationResult {
  if (typeof text !== "string") return fail("must be a string");
  const trimmed = text.replace(/^[ \t]+|[ \t]+$/g, "");
  if (trimmed === "") return fail(`is empty; expected ${FORMAT_HINT}`);
  if (trimmed.startsWith("-")) return fail("must not be negative");
  if (!WHOLE.test(trimmed)) return fail(`must be ${FORMAT_HINT}`);

  let total = 0;
  let lastUnitIndex = -1;
  for (const match of trimmed.matchAll(PART)) {
    const digits = match[1] ?? "";
    const unit = match[2] ?? "";
    const unitIndex = UNIT_ORDER.indexOf(unit);
    if (unitIndex <= lastUnitIndex) return fail("must list units once each, largest first (w, d, h, m, s)");
    lastUnitIndex = unitIndex;
    total += Number(digits) * (UNIT_MS[unit] ?? 0);
  }

  const maxMs = opts.maxMs ?? MAX_DURATION_MS;
  if (total > maxMs) return fail(`is too long; the maximum is ${formatDuration(maxMs)}`);
  if (total === 0 && opts.allowZero !== true) return fail("must be greater than zero");
  return { ok: true, ms: total };
}

/**
 * For people: the two most significant non-zero units, truncated, e.g. `3d 4h`, `4h 5m`, `45s`, `0s`.
 * Negative values get a leading `-`. Weeks are shown as days (`21d` reads better than `3w`).
 */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return "?";
  const sign = ms < 0 ? "-" : "";
  // Unit by unit without arrays: a scan formats one of these for every credential it decides on.
  let rest = Math.floor(Math.abs(ms) / SECOND_MS);
  const d = Math.floor(rest / 86_400);
  rest -= d * 86_400;
  const h = Math.floor(rest / 3_600);
  rest -= h * 3_600;
  const m = Math.floor(rest / 60);
  const s = rest - m * 60;
  // Two parts at most; a zero second part is dropped ("3d", not "3d 0h").
  if (d > 0) return `${sign}${d}d${h > 0 ? ` ${h}h` : ""}`;
  if (h > 0) return `${sign}${h}h${m > 0 ? ` ${m}m` : ""}`;
  if (m > 0) return `${sign}${m}m${s > 0 ? ` ${s}s` : ""}`;
  return s > 0 ? `${sign}${s}s` : "0s";
}

/** Exact, in the syntax parseDuration reads: 90000 → "1m30s", 1_209_600_000 → "14d", 0 → "0s". */
export function formatExactDuration(ms: number): string {
  const parts = splitDuration(Math.round(ms / SECOND_MS)).filter(([n]) => n > 0);
  return parts.length === 0 ? "0s" : parts.map(([n, unit]) => `${n}${unit}`).join("");
}

/** Whole seconds → [count, unit] for days, hours, minutes and seconds, largest first. */
function splitDuration(totalSeconds: number): Array<[number, string]> {
  let rest = totalSeconds;
  return (
    [
      ["d", 86_400],
      ["h", 3_600],
      ["m", 60],
      ["s", 1],
    ] as const
  ).map(([unit, size]) => {
    const n = Math.floor(rest / size);
    rest -= n * size;
    return [n, unit];
  });
}

/** Sub-second precision where it matters (outages, fast rotations), whole units above a minute. */
export function formatPreciseDuration(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  return formatDuration(ms);
}

/** Relative to now, for tables: `in 12d`, `3d 4h ago`, `now`. msFromNow > 0 means in the future. */
export function formatRelative(msFromNow: number): string {
  if (!Number.isFinite(msFromNow)) return "?";
  if (Math.abs(msFromNow) < SECOND_MS) return "now";
  return msFromNow > 0 ? `in ${formatDuration(msFromNow)}` : `${formatDuration(-msFromNow)} ago`;
}

function fail(reason: string): DurationResult {
  return { ok: false, reason };
}

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

/** Time is injected everywhere so due-date maths and schedules are deterministic in tests. */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

/** A clock for tests and for the report's "as of" time: returns a fixed instant until moved. */
export class FixedClock implements Clock {
  #ms: number;
  constructor(at: Date | string) {
    this.#ms = new Date(at).getTime();
  }
  now(): Date {
    return new Date(this.#ms);
  }
  advance(ms: number): void {
    this.#ms += ms;
  }
}

/**
 * Timers, injected like the clock: background work (lease renewal) is scheduled here so tests can run it on a
 * FixedClock. `fn`'s promise, when it returns one, is the work the timer started.
 */
export interface Scheduler {
  schedule(fn: () => void | Promise<void>, delayMs: number): TimerHandle;
  cancel(handle: TimerHandle): void;
}

export type TimerHandle = { readonly __timer: unique symbol };

/** Node's timers, unref'd: a pending timer never keeps the process alive on its own. */
export const systemScheduler: Scheduler = {
  schedule(fn, delayMs) {
    // The work handles its own failures; a rejection that still escapes must not end the process.
    const t = setTimeout(
      () => {
        Promise.resolve()
          .then(fn)
          .catch(() => undefined);
      },
      Math.max(0, delayMs),
    );
    t.unref();
    return t as unknown as TimerHandle;
  },
  cancel(handle) {
    clearTimeout(handle as unknown as NodeJS.Timeout);
  },
};
