// Headers on every response, JSON and HTML alike. The CSP allows exactly the status page's own inline
// stylesheet (by hash) and nothing else: no scripts, no images, no frames, no forms.

import { STATUS_PAGE_CSS_HASH } from "./status-page-style.ts";

export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  `style-src '${STATUS_PAGE_CSS_HASH}'`,
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  "content-security-policy": CONTENT_SECURITY_POLICY,
  "x-content-type-options": "nosniff",
  "cache-control": "no-store",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
  "cross-origin-resource-policy": "same-origin",
};
