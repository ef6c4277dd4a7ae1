// Following `nextPageUrl`: it is present on every page, the last one too, so a listing
// ends on an empty page. Guards: a page URL already visited or a page with nothing new (a server ignoring the
// page parameter) ends the listing; more than MAX_PAGES pages is an error; a nextPageUrl that is not a relative
// path is refused, so the bearer token never travels to another host.
import type { z } from "zod";
import { callOf, parseAnswer } from "./salesforce-answer.ts";
import { unexpectedResponse } from "./salesforce-errors.ts";
import type { HttpAnswer, SalesforceLog } from "./salesforce-http.ts";

const MAX_PAGES = 200;

/** Returned URLs are opaque, but must stay on the instance: a path starting with one "/", no scheme or host. */
function relativePath(url: string): string | undefined {
  return /^\/(?!\/)[^\s\\]*$/.test(url) ? url : undefined;
}

interface PageItems<T> {
  /** Each item with its id (compared by the first 15 characters). */
  readonly items: ReadonlyArray<{ readonly key: string; readonly value: T }>;
  readonly next: string | undefined;
}

export interface FollowPagesOptions<S extends z.ZodType, T> {
  readonly step: string;
  readonly first: string;
  readonly schema: S;
  /** One authenticated GET of a relative path (query included), 2xx only. */
  readonly fetch: (target: string) => Promise<HttpAnswer>;
  readonly read: (page: z.output<S>) => PageItems<T>;
  readonly log: SalesforceLog;
}

export async function followPages<S extends z.ZodType, T>(opts: FollowPagesOptions<S, T>): Promise<T[]> {
  const { step } = opts;
  const out: T[] = [];
  const seenKeys = new Set<string>();
  const seenUrls = new Set<string>();
  let target = opts.first;
  for (let n = 0; ; n++) {
    const call = callOf(step, "GET", target.split("?")[0] ?? target, true);
    if (n >= MAX_PAGES) {
      throw unexpectedResponse(call, 200, `more than ${MAX_PAGES} pages; the listing never ended`);
    }
    seenUrls.add(target);
    const answer = await opts.fetch(target);
    const { items, next } = opts.read(parseAnswer(answer, call, opts.schema));
    if (items.length === 0) return out;
    let fresh = 0;
    for (const item of items) {
      const k = item.key.slice(0, 15);
      if (seenKeys.has(k)) continue;
      seenKeys.add(k);
      out.push(item.value);
      fresh++;
    }
    if (!next) return out;
    const rel = relativePath(next);
    if (!rel) throw unexpectedResponse(call, answer.status, "nextPageUrl is not a relative path");
    if (fresh === 0 || seenUrls.has(rel)) {
      opts.log.warn({ step, pages: n + 1 }, "salesforce paging repeats itself; stopping");
      return out;
    }
    target = rel;
  }
}
