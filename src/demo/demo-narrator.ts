// Plain words for what the daemon does, from its two outputs the demo watches: the audit file (one event per
// step) and the JSON log (outcomes, chat messages it would have sent). Pure: a record in, a line or nothing out.

const time = (iso: unknown) => (typeof iso === "string" ? iso.slice(11, 19) : "?");

/** One audit event (a parsed line of the hash-chained file). */
export function narrateAudit(e: Record<string, unknown>): string | undefined {
  const path = String(e["path"]);
  switch (e["type"]) {
    case "rotation.started":
      return `▶ ${path}: rotation started (${e["mode"]}, ${e["trigger"] === "flag" ? "an operator set rotate" : `by ${e["trigger"]}`}${e["reason"] ? `: ${e["reason"]}` : ""})`;
    case "rotation.resumed":
      return `  ${path}: picked up again from its journal`;
    case "rotation.staged":
      return `  ${path}: Salesforce staged a second key/secret pair; the old pair still works`;
    case "rotation.verified":
      return e["step"] === "verified_main"
        ? `  ${path}: the new pair logs in as Salesforce's main pair; rotation_verified_at written to the metadata`
        : `  ${path}: the new pair logs in`;
    case "rotation.published":
      return `  ${path}: KV version ${e["kvVersion"]} holds the new pair (api_key) and the old one (previous_key): consumers switch during the soak`;
    case "rotation.promoted":
      return `  ${path}: promoted: Salesforce now treats the new pair as the main one${evidenceWords(e["evidence"])}`;
    case "rotation.held":
      return `⏸ ${path}: held at soak_max: readers still on the old pair; rotate=now promotes`;
    case "rotation.retired":
      return `  ${path}: the old pair is revoked and proven dead`;
    case "rotation.completed":
      return `✔ ${path}: rotated in ${((Number(e["durationMs"]) || 0) / 1000).toFixed(1)} s (key fingerprint ${e["keyFingerprint"]})`;
    case "rotation.failed":
      return `✘ ${path}: rotation failed at ${e["step"]} (${e["errorCode"] ?? "?"})`;
    case "rotation.retrying":
      return `  ${path}: attempt failed at ${e["step"]} (${e["errorCode"] ?? "?"}): tried again after a backoff`;
    case "rotation.rolled_back":
      return `↩ ${path}: rolled back (${e["errorCode"] ?? "asked"}): KV holds the old pair again`;
    default:
      return undefined;
  }
}

/** What a soak_until=readers promotion went by (the audit event's `evidence`), or nothing. */
function evidenceWords(evidence: unknown): string {
  if (typeof evidence !== "object" || evidence === null) return "";
  const e = evidence as {
    decision?: unknown;
    publishedVersion?: unknown;
    moved?: unknown;
    lagging?: unknown;
  };
  const labels = (list: unknown) =>
    Array.isArray(list) ? list.map((r) => String((r as { label?: unknown }).label)).join(", ") : "";
  const moved = labels(e.moved);
  switch (e.decision) {
    case "all-moved":
      return `,\n    the moment the last reader moved: every reader has read v${e.publishedVersion} (${moved || "none seen"})`;
    case "soak-max":
      return `,\n    at soak_max, without ${labels(e.lagging) || "evidence"} (still on the old pair)`;
    case "operator":
      return ",\n    because an operator ended the soak";
    default:
      return "";
  }
}

/** One daemon log record. */
export function narrateLog(r: Record<string, unknown>): string | undefined {
  const msg = r["msg"];
  if (msg === "rotation waiting" && r["waiting"] === "readers" && typeof r["detail"] === "string") {
    return `  ${r["path"]}: both pairs work; ${r["detail"]}`;
  }
  if (msg === "rotation waiting") {
    return `  ${r["path"]}: soaking until ${time(r["until"])} UTC: both pairs are valid, so nothing breaks`;
  }
  if (msg === "chat message (no chat target configured)") {
    const chat = (r["chat"] ?? {}) as Record<string, unknown>;
    const next = chat["next_step"] ? `\n     next: ${chat["next_step"]}` : "";
    return `💬 chat (printed here, since no webhook is configured): ${chat["title"]}\n     ${chat["summary"]}${next}`;
  }
  if (msg === "rotation held by the Salesforce API budget") return `⏸ ${r["path"]}: ${r["reason"]}`;
  if (msg === "scan failed; retrying at the next interval")
    return `! the scan failed (${r["code"]}); retrying`;
  if (r["level"] === "error" && typeof msg === "string")
    return `! ${msg}${r["code"] ? ` (${r["code"]})` : ""}`;
  return undefined;
}
