// Text that came from Vault (paths, custom_metadata values, error messages) ends up in terminals, chat,
// CSV and HTML. These helpers keep it from carrying control sequences or invisible bidi tricks, and keep
// echoes of odd input short.

// Controls (Cc: C0/C1 incl. ESC, CR, LF, TAB), format characters (Cf: zero-width, bidi overrides, BOM,
// tags) and the Unicode line/paragraph separators.
const UNSAFE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u;
const UNSAFE_GLOBAL = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu;
// Short, plain ASCII: safe to quote back to the operator in a reason.
const ECHOABLE = /^[A-Za-z0-9 _.:+@/-]{1,24}$/;

/** True when `text` is well-formed Unicode without control, zero-width or bidi-override characters. */
export function isSafeText(text: string): boolean {
  return text.isWellFormed() && !UNSAFE.test(text);
}

/** `"value"` when the value is short plain ASCII, else "" — reasons never repeat long or strange input. */
export function quoteIfShort(value: unknown): string {
  return typeof value === "string" && ECHOABLE.test(value) ? `"${value}"` : "";
}

/** For display: unsafe characters become U+FFFD and the text is cut to `max` characters with an ellipsis. */
export function toDisplayText(text: string, max = 200): string {
  const cleaned = text.toWellFormed().replace(UNSAFE_GLOBAL, "\ufffd");
  const chars = Array.from(cleaned);
  return chars.length <= max ? cleaned : `${chars.slice(0, Math.max(0, max - 1)).join("")}…`;
}
