// GET /: the status page for people. Server-rendered, self-contained (one inline stylesheet allowed by
// hash in the CSP, no scripts, no external resources), refreshed by a meta tag. Every value that came from
// Vault or a request (paths, consumers, contacts, reasons, actors) is cleaned of control characters,
// bounded, and HTML-escaped.

import { formatDuration, formatRelative } from "../core/duration.ts";
import type { InventoryItem } from "../core/inventory/inventory-item.ts";
import { startedByText } from "../core/rotation/audit-events.ts";
import { escapeHtml } from "../report/format-html.ts";
import { cell } from "../report/report-cells.ts";
import { ATTENTION_ORDER, type AttentionGroup, attentionGroup, sortByAttention } from "./attention-order.ts";
import type { InventorySnapshot, RotationView } from "./daemon-view.ts";
import { STATUS_PAGE_CSS } from "./status-page-style.ts";

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

const ATTENTION_GROUPS: ReadonlySet<AttentionGroup> = new Set([
  "failed",
  "invalid",
  "stuck",
  "overdue",
  "unverified",
  "due_soon",
  "flagged",
]);

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
        : credentialsTable(items, now),
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

function credentialsTable(items: readonly InventoryItem[], now: Date): string {
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
      td("Contact", esc(cell(item.contact))),
    ];
    return `<tr class="row-${tone}" data-state="${group}">${cells.join("")}</tr>`;
  });
  return [
    '<table id="credentials">',
    "<thead><tr><th>Path</th><th>State</th><th>Provider</th><th>Deadline</th><th>Last rotation</th><th>Verified</th><th>Consumers</th><th>Contact</th></tr></thead>",
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
