// zod schemas for the single custom_metadata values. Each turns one string into a
// typed value or an issue whose message starts with a verb phrase ("must be ..."), so the caller can
// prefix the key: "rotation_period must not be negative". Messages never repeat long or odd input.

import { z } from "zod";
import { isSafeText, quoteIfShort } from "../display-text.ts";
import { type ParseDurationOptions, parseDuration, parseRfc3339 } from "../time.ts";

export const CREDENTIAL_TYPES = [
  "api_key",
  "oauth_client_secret",
  "service_account_token",
  "database",
  "webhook_secret",
] as const;
export type CredentialType = (typeof CREDENTIAL_TYPES)[number];

export const RISKS = ["standard", "high"] as const;
export type Risk = (typeof RISKS)[number];

export const ROTATION_STATES = ["idle", "in_progress", "awaiting_promotion", "failed"] as const;
export type RotationState = (typeof ROTATION_STATES)[number];

export const TRIGGER_MODES = ["now", "emergency"] as const;
export type TriggerMode = (typeof TRIGGER_MODES)[number];

/** What ends a standard rotation's soak: its time alone, or every reader having moved to the new pair. */
export const SOAK_UNTIL = ["time", "readers"] as const;
export type SoakUntil = (typeof SOAK_UNTIL)[number];

/** soak_until=readers, when soak_max runs out with readers still on the old pair: promote anyway, or hold. */
export const ON_SOAK_MAX = ["promote", "hold"] as const;
export type OnSoakMax = (typeof ON_SOAK_MAX)[number];

/** Vault's own limit for one custom_metadata value (bytes); characters here, which is never stricter. */
const MAX_VALUE_CHARS = 512;

/** Minutes after 00:00 UTC. start > end wraps midnight ("22:00-02:00"). */
export interface RotateWindow {
  readonly startMinute: number;
  readonly endMinute: number;
}

const NOT_A_STRING = "must be a string";

export function enumField<const T extends readonly [string, ...string[]]>(values: T) {
  return z.enum(values, {
    error: (issue) => {
      const got = quoteIfShort(issue.input);
      if (issue.input === "") return `is empty; expected one of ${values.join(", ")}`;
      return `must be one of ${values.join(", ")}${got === "" ? "" : ` (got ${got})`}`;
    },
  });
}

export function durationField(opts: ParseDurationOptions) {
  return z.string({ error: NOT_A_STRING }).transform((text, ctx) => {
    const parsed = parseDuration(text, opts);
    if (!parsed.ok) {
      ctx.addIssue({ code: "custom", message: parsed.reason });
      return z.NEVER;
    }
    return parsed.ms;
  });
}

export const timeField = z.string({ error: NOT_A_STRING }).transform((text, ctx) => {
  const at = parseRfc3339(text);
  if (at === undefined) {
    ctx.addIssue({
      code: "custom",
      message:
        text === ""
          ? "is empty; expected an RFC 3339 time"
          : "must be an RFC 3339 time like 2026-04-01T00:00:00Z",
    });
    return z.NEVER;
  }
  return at;
});

// The plain parsers below (freeTextValue, consumerNames, rotateWindowValue) are what the zod fields run;
// credential-policy.ts calls them directly for an entry whose every field is valid.

/** The text of a free-text field, trimmed; undefined when empty; the reason when refused. */
export function freeTextValue(text: string): string | undefined | { readonly refused: string } {
  if (text.length > MAX_VALUE_CHARS) return { refused: `must be at most ${MAX_VALUE_CHARS} characters` };
  if (!isSafeText(text))
    return { refused: "must not contain control, zero-width or bidi-override characters" };
  const trimmed = text.trim();
  return trimmed === "" ? undefined : trimmed;
}

/** Free text (contact, reasons, errors): empty means "not set"; control and bidi characters are refused. */
export const freeTextField = z.string({ error: NOT_A_STRING }).transform((text, ctx) => {
  const value = freeTextValue(text);
  if (typeof value === "object") {
    ctx.addIssue({ code: "custom", message: value.refused });
    return z.NEVER;
  }
  return value;
});

/** "billing-api, crm-sync,,": trimmed, empties dropped, duplicates removed (first spelling kept). */
export function consumerNames(text: string | undefined): string[] {
  if (text === undefined) return [];
  const names = text
    .split(",")
    .map((name) => name.trim())
    .filter((name) => name !== "");
  return [...new Set(names)];
}

export const consumersField = freeTextField.transform(consumerNames);

export function patternField(pattern: RegExp, expected: string) {
  return z.string({ error: NOT_A_STRING }).refine((text) => pattern.test(text), {
    error: (issue) => (issue.input === "" ? `is empty; expected ${expected}` : `must be ${expected}`),
  });
}

/** A connection or tenant name from the config. */
export const CONFIG_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export const autoRotateField = z.string({ error: NOT_A_STRING }).transform((text, ctx) => {
  if (text === "true") return true;
  if (text === "false") return false;
  const got = quoteIfShort(text);
  ctx.addIssue({ code: "custom", message: `must be true or false${got === "" ? "" : ` (got ${got})`}` });
  return z.NEVER;
});

const WINDOW = /^([01][0-9]|2[0-3]):([0-5][0-9])-([01][0-9]|2[0-3]):([0-5][0-9])$/;

/** "HH:MM-HH:MM" (UTC) as minutes, or the reason it is refused. */
export function rotateWindowValue(text: string): RotateWindow | { readonly refused: string } {
  const m = WINDOW.exec(text);
  if (m === null) return { refused: "must be a UTC window HH:MM-HH:MM, like 01:00-05:00 or 22:00-02:00" };
  const startMinute = Number(m[1]) * 60 + Number(m[2]);
  const endMinute = Number(m[3]) * 60 + Number(m[4]);
  if (startMinute === endMinute) {
    return { refused: "must have different start and end times (omit it for any time)" };
  }
  return { startMinute, endMinute };
}

export const rotateWindowField = z.string({ error: NOT_A_STRING }).transform((text, ctx): RotateWindow => {
  const value = rotateWindowValue(text);
  if ("refused" in value) {
    ctx.addIssue({ code: "custom", message: value.refused });
    return z.NEVER;
  }
  return value;
});

/** True when `at` (UTC) falls inside the window; start inclusive, end exclusive; wraps midnight. */
export function isInRotateWindow(window: RotateWindow | undefined, at: Date): boolean {
  if (window === undefined) return true;
  const minute = at.getUTCHours() * 60 + at.getUTCMinutes();
  return window.startMinute < window.endMinute
    ? minute >= window.startMinute && minute < window.endMinute
    : minute >= window.startMinute || minute < window.endMinute;
}
