// The status page's only stylesheet, inline. Its SHA-256 goes into the Content-Security-Policy, so the
// page needs neither 'unsafe-inline' nor any external resource. Under 640px the tables become stacked
// cards (each cell labelled from data-label), so a phone never scrolls sideways.

import { createHash } from "node:crypto";

export const STATUS_PAGE_CSS = `
:root{--fg:#1b1f24;--muted:#57606a;--line:#d0d7de;--bg:#fff;--head:#f6f8fa}
*{box-sizing:border-box}
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;padding:1rem 1.25rem;color:var(--fg);background:var(--bg);line-height:1.4}
h1{font-size:1.4rem;margin:0 0 .25rem}h2{font-size:1.1rem;margin:1.5rem 0 .5rem}
.meta{color:var(--muted);margin:0 0 .75rem}
.totals{display:flex;flex-wrap:wrap;gap:.4rem;list-style:none;padding:0;margin:.5rem 0 1rem}
.totals li{border:1px solid var(--line);border-radius:1rem;padding:.1rem .6rem;font-size:.9rem}
.empty{padding:1rem;border:1px dashed var(--line);border-radius:.5rem;color:var(--muted)}
table{border-collapse:collapse;width:100%}
th,td{border-bottom:1px solid var(--line);padding:.4rem .5rem;text-align:left;vertical-align:top;font-size:.92rem}
th{background:var(--head);font-weight:600}
td.path{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;min-width:14ch}
td{overflow-wrap:break-word}
td:empty::after{content:"\\2014";color:var(--muted)}
time{white-space:nowrap}
.rel,.reason{display:block;color:var(--muted);font-size:.85rem}
.state{display:inline-block;border-radius:.3rem;padding:.05rem .45rem;font-weight:600;font-size:.85rem;white-space:nowrap}
.tone-red{background:#ffebe9;color:#a40e26;border:1px solid #ff8182}
.tone-amber{background:#fff8c5;color:#7d4e00;border:1px solid #d4a72c}
.tone-blue{background:#ddf4ff;color:#0550ae;border:1px solid #54aeff}
.tone-green{background:#dafbe1;color:#116329;border:1px solid #4ac26b}
.tone-grey{background:#f6f8fa;color:#57606a;border:1px solid #d0d7de}
tr.row-red td:first-child{box-shadow:inset 4px 0 #cf222e}
tr.row-amber td:first-child{box-shadow:inset 4px 0 #d4a72c}
footer{margin-top:2rem;color:var(--muted);font-size:.85rem}
@media (max-width:640px){
body{padding:.75rem}
table,thead,tbody,tr,th,td{display:block;width:100%}
thead{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}
tr{border:1px solid var(--line);border-radius:.5rem;margin:0 0 .75rem;padding:.25rem .5rem}
tr.row-red{border-left:4px solid #cf222e}tr.row-amber{border-left:4px solid #d4a72c}
tr.row-red td:first-child,tr.row-amber td:first-child{box-shadow:none}
td{border:0;padding:.2rem 0;overflow-wrap:anywhere}
td:empty{display:none}
time{white-space:normal}
td::before{content:attr(data-label);display:block;color:var(--muted);font-size:.75rem;text-transform:uppercase;letter-spacing:.03em}
}
`;

export const STATUS_PAGE_CSS_HASH = `sha256-${createHash("sha256").update(STATUS_PAGE_CSS, "utf8").digest("base64")}`;
