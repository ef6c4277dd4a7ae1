// GET /: the status page for people. Server-rendered, self-contained (one inline stylesheet allowed by
// hash in the CSP, no scripts, no external resources), refreshed by a meta tag. Every value that came from
// Vault or a request (paths, consumers, contacts, reasons, actors) is cleaned of control characters,
// bounded, and HTML-escaped.

import { createHash } from "node:crypto";
import type { InventoryItem } from "../core/inventory/inventory-item.ts";
import { startedByText } from "../core/rotation/rotation-state.ts";
import { formatDuration, formatRelative } from "../core/time.ts";
import { escapeHtml } from "../report/format-html.ts";
import { cell } from "../report/report-cells.ts";
import type { InventorySnapshot, RotationView } from "./daemon-view.ts";
import type { HttpDeps } from "./http-deps.ts";
import { refuseOtherMethods } from "./http-errors.ts";
import type { Router } from "./http-router.ts";

export interface StatusPageInput {
  readonly snapshot: InventorySnapshot | undefined;
  readonly rotations: readonly RotationView[];
  readonly now: Date;
  readonly refreshSeconds: number;
  readonly version: string;
  readonly kvMount: string;
}

type Tone = "red" | "amber" | "blue" | "green" | "grey";

const GROUP_TONE: Readonly<Record<AttentionGroup, Tone>> = {
  failed: "red",
  invalid: "red",
  stuck: "red",
  overdue: "red",
  unverified: "amber",
  due_soon: "amber",
  flagged: "amber",
  in_progress: "blue",
  awaiting_promotion: "blue",
  ok: "green",
  unmanaged: "grey",
};

const ROTATION_TONE: Readonly<Record<RotationView["status"], Tone>> = {
  failed: "red",
  rolled_back: "red",
  queued: "blue",
  running: "blue",
  waiting: "blue",
  completed: "green",
  skipped: "grey",
  joined: "grey",
};

export function renderStatusPage(input: StatusPageInput): string {
  const { snapshot, now } = input;
  const items = snapshot === undefined ? [] : sortByAttention(snapshot.items);
  const attention = items.filter((i) => ATTENTION_GROUPS.has(attentionGroup(i))).length;
  const title =
    snapshot === undefined
      ? "eca-rotator: waiting for first scan"
      : attention === 0
        ? "eca-rotator: all clear"
        : `eca-rotator: ${attention} need attention`;
  const refresh = Math.max(1, Math.floor(input.refreshSeconds));
  const out = [
    "<!DOCTYPE html>",
    '<html lang="en">',
    "<head>",
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<meta http-equiv="refresh" content="${refresh}">`,
    '<meta name="referrer" content="no-referrer">',
    `<title>${esc(title)}</title>`,
    `<style>${STATUS_PAGE_CSS}</style>`,
    "</head>",
    "<body>",
    "<header>",
    "<h1>Credential rotation status</h1>",
  ];
  if (snapshot === undefined) {
    out.push(`<p class="meta">KV mount <code>${esc(cell(input.kvMount))}</code>.</p>`, "</header>");
    out.push('<main><p class="empty" id="waiting">Waiting for the first scan to finish.</p>');
  } else {
    out.push(
      `<p class="meta">Last scan ${timeHtml(snapshot.scannedAt)} <span>(${esc(formatRelative(snapshot.scannedAt.getTime() - now.getTime()))})</span> · KV mount <code>${esc(cell(input.kvMount))}</code> · ${items.length} credential${items.length === 1 ? "" : "s"}, ${attention} need${attention === 1 ? "s" : ""} attention</p>`,
      totalsHtml(items),
      "</header>",
      "<main>",
      "<h2>Credentials</h2>",
      items.length === 0
        ? '<p class="empty">No credentials under this mount.</p>'
        : credentialsTable(items, now, waitingForReaders(input.rotations)),
    );
  }
  out.push("<h2>Recent rotations</h2>", rotationsTable(input.rotations, now), "</main>");
  out.push(
    `<footer>eca-rotator ${esc(cell(input.version, 40))} · generated ${timeHtml(now)} · refreshes every ${refresh} s</footer>`,
    "</body>",
    "</html>",
  );
  return `${out.join("\n")}\n`;
}

function totalsHtml(items: readonly InventoryItem[]): string {
  const counts = new Map<AttentionGroup, number>();
  for (const item of items) counts.set(attentionGroup(item), (counts.get(attentionGroup(item)) ?? 0) + 1);
  const chips = ATTENTION_ORDER.filter((g) => (counts.get(g) ?? 0) > 0).map(
    (g) => `<li><span class="state tone-${GROUP_TONE[g]}">${groupLabel(g)}</span> ${counts.get(g) ?? 0}</li>`,
  );
  return chips.length === 0 ? "" : `<ul class="totals" aria-label="Totals by state">${chips.join("")}</ul>`;
}

/** Path → what its soak waits for ("waiting for readers: 3 of 4 moved; waiting for …"). */
function waitingForReaders(rotations: readonly RotationView[]): ReadonlyMap<string, string> {
  const out = new Map<string, string>();
  for (const r of rotations) {
    if (r.status === "waiting" && r.waitingFor === "readers" && r.message !== undefined && !out.has(r.path))
      out.set(r.path, r.message);
  }
  return out;
}

/** Readers on the current version of those seen in readers.window, then who lags (the soak's words when waiting). */
function readersHtml(item: InventoryItem, waiting: string | undefined, now: Date): string {
  const r = item.readers;
  const parts: string[] = [];
  if (r !== undefined) {
    parts.push(
      esc(
        r.total === 0
          ? "none in the window"
          : `${r.onCurrent} of ${r.total} on v${item.currentVersion ?? "?"}`,
      ),
    );
    const lagging = r.listed.filter((x) => !x.current);
    for (const x of lagging.slice(0, LAGGARDS_SHOWN)) {
      const ago = formatRelative(x.lastReadMs - now.getTime());
      parts.push(`<span class="reason">${esc(cell(x.label, 128))}: v${x.version}, ${esc(ago)}</span>`);
    }
    const more = r.total - r.onCurrent - Math.min(lagging.length, LAGGARDS_SHOWN);
    if (more > 0) parts.push(`<span class="reason">and ${more} more</span>`);
  }
  if (waiting !== undefined) parts.push(`<span class="reason">${esc(cell(waiting, 300))}</span>`);
  return parts.join("");
}

const LAGGARDS_SHOWN = 3;

function credentialsTable(
  items: readonly InventoryItem[],
  now: Date,
  waiting: ReadonlyMap<string, string>,
): string {
  const withReaders = items.some((i) => i.readers !== undefined) || waiting.size > 0;
  const rows = items.map((item) => {
    const group = attentionGroup(item);
    const tone = GROUP_TONE[group];
    const reasonParts = [item.reason, item.state === "failed" ? item.lastError : undefined].filter(
      (p): p is string => p !== undefined && p !== "",
    );
    const reason =
      reasonParts.length === 0 ? "" : `<span class="reason">${esc(cell(reasonParts.join(": ")))}</span>`;
    const cells = [
      td("Path", pathHtml(item.path), "path"),
      td("State", `<span class="state tone-${tone}">${groupLabel(group)}</span>${reason}`),
      td("Provider", esc(cell(item.provider))),
      td("Deadline", deadlineHtml(item.deadline, now)),
      td("Last rotation", pastHtml(item.lastRotated, now)),
      td("Verified", pastHtml(item.verifiedAt, now)),
      td("Consumers", esc(cell(item.consumers.join(", ")))),
      ...(withReaders ? [td("Readers", readersHtml(item, waiting.get(item.path), now))] : []),
      td("Contact", esc(cell(item.contact))),
    ];
    return `<tr class="row-${tone}" data-state="${group}">${cells.join("")}</tr>`;
  });
  return [
    '<table id="credentials">',
    `<thead><tr><th>Path</th><th>State</th><th>Provider</th><th>Deadline</th><th>Last rotation</th><th>Verified</th><th>Consumers</th>${withReaders ? "<th>Readers</th>" : ""}<th>Contact</th></tr></thead>`,
    `<tbody>${rows.join("\n")}</tbody>`,
    "</table>",
  ].join("\n");
}

function rotationsTable(rotations: readonly RotationView[], now: Date): string {
  if (rotations.length === 0) return '<p class="empty" id="no-rotations">No rotations yet.</p>';
  const rows = rotations.map((r) => {
    const tone = ROTATION_TONE[r.status];
    const outcome = [r.errorCode, r.message]
      .filter((p): p is string => p !== undefined && p !== "")
      .join(": ");
    const until =
      r.status !== "waiting" || r.waitingUntil === undefined
        ? ""
        : r.waitingFor === "confirm"
          ? `for a person; looked at again ${timeHtml(r.waitingUntil)}`
          : `until ${timeHtml(r.waitingUntil)}`;
    const cells = [
      td("Path", pathHtml(r.path), "path"),
      td(
        "Status",
        `<span class="state tone-${tone}">${esc(r.status.replace("_", " "))}</span>${r.step === undefined ? "" : `<span class="reason">step ${esc(cell(r.step, 40))}</span>`}`,
      ),
      td("Mode", esc(cell(r.mode, 20))),
      td(
        "Requested",
        `${pastHtml(r.requestedAt, now)}<span class="reason">${esc(cell(startedByText(r.trigger, r.actor), 120))}</span>`,
      ),
      td("Finished", r.finishedAt === undefined ? until : pastHtml(r.finishedAt, now)),
      td("Outcome", esc(cell(outcome))),
      td("Rotation id", `<code>${esc(cell(r.rotationId, 80))}</code>`),
    ];
    return `<tr class="row-${tone === "red" ? "red" : "none"}">${cells.join("")}</tr>`;
  });
  return [
    '<table id="rotations">',
    "<thead><tr><th>Path</th><th>Status</th><th>Mode</th><th>Requested</th><th>Finished</th><th>Outcome</th><th>Rotation id</th></tr></thead>",
    `<tbody>${rows.join("\n")}</tbody>`,
    "</table>",
  ].join("\n");
}

/** A path may break after each slash (<wbr>), so long paths wrap where a person expects. */
function pathHtml(path: string): string {
  return cell(path, 512).split("/").map(esc).join("/<wbr>");
}

function td(label: string, html: string, cls?: string): string {
  return `<td data-label="${label}"${cls === undefined ? "" : ` class="${cls}"`}>${html}</td>`;
}

function groupLabel(group: AttentionGroup): string {
  return group === "stuck" ? "stuck rotation" : group.replace("_", " ");
}

function deadlineHtml(deadline: Date | undefined, now: Date): string {
  if (!isValidDate(deadline)) return "";
  const ms = deadline.getTime() - now.getTime();
  const rel =
    Math.abs(ms) < 1000 ? "now" : ms > 0 ? `in ${formatDuration(ms)}` : `${formatDuration(-ms)} overdue`;
  return `${timeHtml(deadline)}<span class="rel">${esc(rel)}</span>`;
}

function pastHtml(date: Date | undefined, now: Date): string {
  if (!isValidDate(date)) return "";
  return `${timeHtml(date)}<span class="rel">${esc(formatRelative(date.getTime() - now.getTime()))}</span>`;
}

/** ISO 8601 to the minute for the eye ("2026-04-01T09:30Z"); the full instant in the datetime attribute. */
function timeHtml(date: Date): string {
  if (!isValidDate(date)) return "";
  const iso = date.toISOString();
  return `<time datetime="${iso}">${iso.slice(0, 16)}Z</time>`;
}

function isValidDate(date: Date | undefined): date is Date {
  return date !== undefined && !Number.isNaN(date.getTime());
}

function esc(text: string): string {
  return escapeHtml(text);
}

// The order people should read the inventory in: what is broken first, then what is late, then what will
// be soon, then what is busy, then the calm rest. Within a rank: nearest deadline first, then path.
const ATTENTION_ORDER = [
  "failed",
  "invalid",
  "stuck",
  "overdue",
  "unverified",
  "due_soon",
  "flagged",
  "in_progress",
  "awaiting_promotion",
  "ok",
  "unmanaged",
] as const;
type AttentionGroup = (typeof ATTENTION_ORDER)[number];
/** The groups ranked before the busy ones: what needs a person. */
const ATTENTION_GROUPS: ReadonlySet<AttentionGroup> = new Set(
  ATTENTION_ORDER.slice(0, ATTENTION_ORDER.indexOf("in_progress")),
);

/** The state, except that a stuck rotation (in_progress or awaiting_promotion too long) is its own group. */
function attentionGroup(item: InventoryItem): AttentionGroup {
  if (item.stuck && (item.state === "in_progress" || item.state === "awaiting_promotion")) return "stuck";
  return item.state;
}

function sortByAttention(items: readonly InventoryItem[]): InventoryItem[] {
  const rank = (item: InventoryItem) => ATTENTION_ORDER.indexOf(attentionGroup(item));
  const deadline = (item: InventoryItem) => item.deadline?.getTime() ?? Number.POSITIVE_INFINITY;
  return [...items].sort((a, b) => {
    const byRank = rank(a) - rank(b);
    if (byRank !== 0) return byRank;
    const da = deadline(a);
    const db = deadline(b);
    if (da !== db) return da < db ? -1 : 1;
    return a.path < b.path ? -1 : a.path > b.path ? 1 : 0;
  });
}

// GET /: the status page, rendered per request from the view's last scan.
const RECENT_ROTATIONS = 20;
const DEFAULT_REFRESH_SECONDS = 30;

export function registerStatusPageRoute(app: Router, deps: HttpDeps): void {
  app.get("/", async (_request, reply) => {
    const html = renderStatusPage({
      snapshot: deps.view.inventory(),
      rotations: deps.view.recentRotations(RECENT_ROTATIONS),
      now: deps.now?.() ?? new Date(),
      refreshSeconds: deps.refreshSeconds ?? DEFAULT_REFRESH_SECONDS,
      version: deps.version,
      kvMount: deps.kvMount,
    });
    return reply.type("text/html; charset=utf-8").send(html);
  });
  refuseOtherMethods(app, "/", ["GET"]);
  // Browsers ask for it on every visit; an empty answer keeps the log and the console quiet.
  app.get("/favicon.ico", async (_request, reply) => reply.code(204).send());
}

// The status page's only stylesheet, inline. Its SHA-256 goes into the Content-Security-Policy, so the
// page needs neither 'unsafe-inline' nor any external resource. Under 640px the tables become stacked
// cards (each cell labelled from data-label), so a phone never scrolls sideways.
const STATUS_PAGE_CSS = `
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
