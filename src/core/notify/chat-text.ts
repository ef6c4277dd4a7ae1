// Text that goes into chat comes partly from Vault (paths, consumers, contacts) and partly from the engine. These
// helpers make each piece one safe line of bounded length, so an odd or huge metadata value can neither break a
// message's layout nor push it past a chat service's size limits.
import { toDisplayText } from "../display-text.ts";
import { formatRelative } from "../time.ts";

/** Whitespace runs (newlines included) become one space; unsafe characters U+FFFD; at most `max` characters. */
export function oneLine(text: string, max: number): string {
  return toDisplayText(text.replace(/\s+/g, " ").trim(), max);
}

/** The credential's full KV path as one bounded line. */
export function kvPath(mount: string, path: string): string {
  return oneLine(`${mount}/${path}`, 240);
}

/** The command that sets the operator's flag on a credential. */
export function rotateNowCommand(mount: string, path: string): string {
  return `vault kv metadata patch -custom-metadata=rotate=now ${kvPath(mount, path)}`;
}

/** "2026-03-01 10:00 UTC": minutes are precise enough for a deadline and read better than ISO. */
export function formatUtc(at: Date): string {
  if (Number.isNaN(at.getTime())) return "(unknown time)";
  return `${at.toISOString().slice(0, 16).replace("T", " ")} UTC`;
}

/** "2026-03-01 10:00 UTC (in 3d 4h)" relative to `now`. */
export function formatDeadline(deadline: Date, now: Date): string {
  return `${formatUtc(deadline)} (${formatRelative(deadline.getTime() - now.getTime())})`;
}

const MAX_LISTED = 8;

/** "a, b, c" with each item bounded and at most 8 items ("… and 3 more"); undefined when the list is empty. */
export function listText(items: readonly string[], maxItem = 60): string | undefined {
  const cleaned = items.map((s) => oneLine(s, maxItem)).filter((s) => s !== "");
  if (cleaned.length === 0) return undefined;
  const shown = cleaned.slice(0, MAX_LISTED).join(", ");
  const rest = cleaned.length - MAX_LISTED;
  return rest > 0 ? `${shown} and ${rest} more` : shown;
}
