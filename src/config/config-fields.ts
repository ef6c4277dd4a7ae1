// Field schemas shared by config-schema.ts. Every message names the problem and never repeats the input:
// the input may be a secret pasted into the wrong key.
import { Cron } from "croner";
import { z } from "zod";
import { type ParseDurationOptions, parseDuration } from "../core/time.ts";

/** "is required" for a missing value, else `must be <what>`: the value itself is never shown. */
function expected(what: string): (issue: { input?: unknown }) => string {
  return (issue) => (issue.input === undefined ? "is required" : `must be ${what}`);
}

export function text(): z.ZodString {
  return z
    .string({ error: expected("a string") })
    .trim()
    .min(1, { error: "must not be empty" });
}

/** A local file path (a token file, a CA bundle, a key): only its shape is checked here. */
export function filePath(): z.ZodString {
  return text();
}

export function bool(): z.ZodBoolean {
  return z.boolean({ error: expected("true or false") });
}

export function wholeNumber(min: number, max: number): z.ZodNumber {
  const message = `must be a whole number from ${min} to ${max}`;
  return z
    .number({ error: expected(`a whole number from ${min} to ${max}`) })
    .int({ error: message })
    .min(min, { error: message })
    .max(max, { error: message });
}

export function oneOf<const T extends readonly [string, ...string[]]>(
  values: T,
): z.ZodEnum<{ [K in T[number]]: K }> {
  return z.enum(values, { error: expected(`one of ${values.join(", ")}`) });
}

/** A duration string (`10s`, `15m`, `14d`, `1h30m`) parsed by the core grammar into milliseconds. */
export function duration(opts: ParseDurationOptions = {}) {
  return z.string({ error: expected("a duration such as 10s, 15m or 14d") }).transform((s, ctx) => {
    const parsed = parseDuration(s, opts);
    if (!parsed.ok) {
      ctx.addIssue({ code: "custom", message: parsed.reason });
      return z.NEVER;
    }
    return parsed.ms;
  });
}

const KV_PATH_HINT =
  "must be a KV path such as api-credentials/team-a (no empty, . or .. segments, no * or +)";

/**
 * A mount or a path inside one, normalised without leading or trailing slashes. Globs are refused because
 * these paths are pasted into policy paths and capability probes, where `*` and `+` mean something else.
 */
export function kvPath() {
  return text().transform((s, ctx) => {
    const trimmed = s.replace(/^\/+|\/+$/g, "");
    const segments = trimmed.split("/");
    const bad =
      trimmed === "" ||
      segments.some((seg) => seg === "" || seg === "." || seg === "..") ||
      /[*+\s\p{Cc}]/u.test(trimmed);
    if (bad) {
      ctx.addIssue({ code: "custom", message: KV_PATH_HINT });
      return z.NEVER;
    }
    return trimmed;
  });
}

const LOOPBACK_HOST = /^(localhost|127(\.\d{1,3}){3}|\[::1\])$/i;

/**
 * An http(s) origin without credentials, path, query or fragment (any of those could carry a secret, and the
 * clients append their own paths). `http:` only when `allowHttp` says so for the host.
 */
export function originUrl(opts: { allowHttp: (hostname: string) => boolean; httpHint: string }) {
  return text().transform((s, ctx) => {
    const fail = (message: string) => {
      ctx.addIssue({ code: "custom", message });
      return z.NEVER;
    };
    if (!URL.canParse(s)) return fail("must be a URL such as https://vault.example.com:8200");
    const url = new URL(s);
    if (url.protocol !== "https:" && url.protocol !== "http:")
      return fail("must be an http:// or https:// URL");
    if (url.protocol === "http:" && !opts.allowHttp(url.hostname)) return fail(opts.httpHint);
    if (url.username !== "" || url.password !== "") return fail("must not contain a user name or password");
    if (url.search !== "" || url.hash !== "") return fail("must not contain a query or fragment");
    if (url.pathname !== "/" && url.pathname !== "")
      return fail("must be scheme://host[:port] without a path");
    return `${url.protocol}//${url.host}`;
  });
}

export function isLoopbackHost(hostname: string): boolean {
  return LOOPBACK_HOST.test(hostname);
}

/**
 * Plain http:// to a host that is not loopback: whatever is sent (a token, a secret, a webhook URL) can be read
 * and changed by anyone on the network path. Refused unless that target's `allow_insecure_http` says otherwise.
 */
export function isPlainHttpToRemote(url: string): boolean {
  if (!URL.canParse(url)) return false;
  const u = new URL(url);
  return u.protocol === "http:" && !isLoopbackHost(u.hostname);
}

/** The refusal of plain http to a remote host. `exposes`: what would cross the network in clear. */
export function plainHttpRefusal(exposes: string, optOutKey: string): string {
  return (
    `is plain http:// to a host that is not loopback, which would send ${exposes} in clear: ` +
    `use https://, or set ${optOutKey}: true (only on a network you trust)`
  );
}

export function apiVersion() {
  return text().regex(/^v[1-9][0-9]{0,2}\.[0-9]$/, { error: "must look like v65.0" });
}

export function listenAddress() {
  return text().refine(
    (s) => {
      const match = /^(\[[0-9a-fA-F:.]+\]|[^\s:[\]]+):([0-9]{1,5})$/.exec(s);
      const port = Number(match?.[2] ?? "0");
      return match !== null && port >= 1 && port <= 65_535;
    },
    { error: "must be host:port, such as 127.0.0.1:8080 or [::1]:8080" },
  );
}

/** Five cron fields (minute hour day-of-month month day-of-week), evaluated in UTC; checked by croner itself. */
export function cronSchedule() {
  return text().refine(
    (s) => {
      if (s.split(/\s+/).length !== 5) return false;
      try {
        // UTC as the fixed offset 0, as weekly-report.ts evaluates it (croner's time-zone path would load ICU).
        return new Cron(s, { utcOffset: 0, paused: true }).nextRun() !== null;
      } catch {
        return false;
      }
    },
    { error: 'must be a 5-field cron expression in UTC that fires, such as "0 9 * * 1"' },
  );
}
