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
