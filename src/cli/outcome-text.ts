// Rotation outcomes and plans in plain words, for `rotate`, `rollback` and `run --once`. Outcomes carry ids,
// codes, public messages and fingerprints only, so nothing here can print a secret.
import type { CycleRow } from "../app/rotation-cycle.ts";
import type { RotationOutcome } from "../core/rotation/rotation-outcome.ts";
import type { RotationPlan } from "../core/rotation/rotation-plan.ts";
import { formatDuration, formatRelative } from "../core/time.ts";
import { renderTextTable } from "../report/format-table.ts";

/** One line: what happened to the credential and what comes next. */
export function describeOutcome(o: RotationOutcome, now: Date = new Date()): string {
  switch (o.kind) {
    case "completed": {
      if (o.provider === "sfmc") {
        return (
          `completed: ${o.path}: rotated (${o.mode ?? "standard"}) in ${preciseDuration(o.durationMs)}; ` +
          `the staged Marketing Cloud secret is api_key (KV version ${o.kvVersion ?? "?"}); the old one is refused and previous_key is cleared`
        );
      }
      if (o.provider === "generated") {
        return (
          `completed: ${o.path}: rotated (${o.mode ?? "standard"}) in ${preciseDuration(o.durationMs)}; ` +
          `new generated secret published as KV version ${o.kvVersion ?? "?"}; previous_secret is cleared`
        );
      }
      const outage =
        o.outageMs === undefined
          ? ""
          : `; outage ${preciseDuration(o.outageMs)} (from revoking the old pair to publishing the new one)`;
      return (
        `completed: ${o.path}: rotated (${o.mode ?? "standard"}) in ${preciseDuration(o.durationMs)}; ` +
        `new pair published as KV version ${o.kvVersion ?? "?"}, key fingerprint ${o.keyFingerprint ?? "?"}; ` +
        `the old pair is proven dead${outage}`
      );
    }
    case "waiting":
      if (o.provider === "sfmc") {
        return o.waiting === "confirm"
          ? `waiting: ${o.path}: the new secret is published; the old one still gets tokens: activate the staged ` +
              "secret in Setup (Installed Packages), then set rotate=now (or run rotate PATH again)"
          : `waiting: ${o.path}: the new secret is published (api_key, old one in previous_key); activate it in ` +
              `Setup after the soak at ${o.until.toISOString()} (${formatRelative(o.until.getTime() - now.getTime())})`;
      }
      if (o.waiting === "readers") {
        const what = o.provider === "generated" ? "secret" : "pair";
        return (
          `waiting: ${o.path}: the new ${what} is published and both work; ${o.detail ?? "waiting for readers"} ` +
          `(next look ${formatRelative(o.until.getTime() - now.getTime())})`
        );
      }
      if (o.provider === "generated") {
        return o.waiting === "confirm"
          ? `waiting: ${o.path}: the new secret is published and both secrets are accepted (dual-accept); ` +
              "once the sender uses the new secret, set rotate=now (or run rotate PATH again) to end the overlap"
          : `waiting: ${o.path}: the new secret is published and both secrets are accepted (dual-accept) until ` +
              `${o.until.toISOString()} (${formatRelative(o.until.getTime() - now.getTime())})`;
      }
      if (o.waiting === "retry") {
        return (
          `waiting: ${o.path}: the last attempt failed at step ${o.step}; the next one runs after ` +
          `${o.until.toISOString()} (${formatRelative(o.until.getTime() - now.getTime())})`
        );
      }
      return o.waiting === "soak"
        ? `waiting: ${o.path}: the new pair is published and both pairs work; promotion after the soak at ` +
            `${o.until.toISOString()} (${formatRelative(o.until.getTime() - now.getTime())})`
        : `waiting: ${o.path}: promoted; the old pair is retired at ${o.until.toISOString()} ` +
            `(${formatRelative(o.until.getTime() - now.getTime())})`;
    case "failed": {
      const at = o.step === undefined ? "" : ` at step ${o.step}`;
      const next = o.willRetry
        ? o.retryAt === undefined
          ? ` (attempt ${o.attempts}; the next run tries again)`
          : ` (attempt ${o.attempts}; tried again after ${o.retryAt.toISOString()}, ${formatRelative(o.retryAt.getTime() - now.getTime())})`
        : o.attempts > 0
          ? ` (after ${o.attempts} ${o.attempts === 1 ? "attempt" : "attempts"}; fix the cause, then set rotate=now)`
          : "";
      return `failed: ${o.path}: ${o.code}${at}: ${o.message}${next}`;
    }
    case "rolled_back": {
      if (o.provider === "generated") {
        const restored =
          o.kvVersion === undefined
            ? "nothing had been published"
            : `the old secret is current_secret again (KV version ${o.kvVersion})`;
        return `rolled back: ${o.path}: ${restored}; ${o.message}`;
      }
      const kv =
        o.kvVersion === undefined
          ? "nothing had been published"
          : `KV holds the old pair again (KV version ${o.kvVersion})`;
      const cause = o.code === undefined ? o.message : `${o.code}: ${o.message.replace(/^[A-Z_]+: /, "")}`;
      return `rolled back: ${o.path}: the staged pair is deleted and ${kv}; ${cause}`;
    }
    case "skipped":
      return `skipped: ${o.path}: ${o.reason}`;
  }
}

export function describePlan(plan: RotationPlan): string {
  const failedChecks = plan.checks.filter((c) => !c.ok).length;
  const rows = plan.checks.map((c) => [c.ok ? "ok" : "FAIL", c.name, c.detail]);
  const table = renderTextTable(
    [
      { header: "CHECK", maxWidth: 4 },
      { header: "TOPIC", maxWidth: 10 },
      { header: "DETAIL", maxWidth: 160 },
    ],
    rows,
  );
  return [
    `dry run: rotate ${plan.path} (${plan.mode}); nothing was changed`,
    ...table.map((l) => `  ${l}`),
    `steps: ${plan.steps.join(" → ")}`,
    plan.resumesFrom === undefined
      ? undefined
      : `resumes the unfinished rotation after step ${plan.resumesFrom}`,
    plan.waitText ?? `soak: ${formatDuration(plan.soakMs)}`,
    plan.wouldRotate ? "would rotate: yes" : `would rotate: no (${failedChecks} check(s) failed)`,
  ]
    .filter((l): l is string => l !== undefined)
    .join("\n");
}

/** The `run --once` table: one row per credential with what was done and how it ended. */
export function describeCycle(rows: readonly CycleRow[], now: Date): string[] {
  const table = renderTextTable(
    [
      { header: "PATH", maxWidth: 70 },
      { header: "ACTION", maxWidth: 24 },
      { header: "RESULT", maxWidth: 160 },
    ],
    rows.map((r) => [r.path, actionText(r), resultText(r, now)]),
  );
  return table;
}

function actionText(r: CycleRow): string {
  if (r.action === "none") return "-";
  if (r.action === "resume") return "resume";
  switch (r.started?.trigger) {
    case "flag":
      return r.started.mode === "emergency" ? "rotate (emergency flag)" : "rotate (flag)";
    case "pending":
      return "rotate (pasted secret)";
    default:
      return "rotate (schedule)";
  }
}

function resultText(r: CycleRow, now: Date): string {
  const o = r.outcome;
  if (o === undefined) return r.reason;
  switch (o.kind) {
    case "completed":
      if (o.provider === "sfmc") {
        return `completed: staged Marketing Cloud secret, KV version ${o.kvVersion ?? "?"}, ${preciseDuration(o.durationMs)}`;
      }
      if (o.provider === "generated") {
        return `completed: new generated secret, KV version ${o.kvVersion ?? "?"}, ${preciseDuration(o.durationMs)}`;
      }
      return (
        `completed: KV version ${o.kvVersion ?? "?"}, key ${o.keyFingerprint ?? "?"}, ` +
        `${preciseDuration(o.durationMs)}${o.outageMs === undefined ? "" : `, outage ${preciseDuration(o.outageMs)}`}`
      );
    case "waiting":
      if (o.waiting === "confirm" && o.provider === "sfmc") {
        return "waiting: activate the staged secret in Setup, then set rotate=now";
      }
      if (o.waiting === "confirm") return "waiting for an operator's rotate=now (dual-accept overlap)";
      if (o.waiting === "readers") return o.detail ?? "waiting for readers";
      if (o.waiting === "retry") {
        return `backing off after a failed attempt at ${o.step}: next attempt after ${o.until.toISOString()} (${formatRelative(o.until.getTime() - now.getTime())})`;
      }
      return `waiting for the ${o.waiting === "soak" ? "soak" : "retirement"} until ${o.until.toISOString()} (${formatRelative(o.until.getTime() - now.getTime())})`;
    case "failed": {
      // Before the message, which the table may cut short: when it is tried again matters most.
      const retry =
        o.willRetry && o.retryAt !== undefined
          ? ` (attempt ${o.attempts}, next after ${o.retryAt.toISOString()})`
          : "";
      return `FAILED ${o.code}${o.step === undefined ? "" : ` at ${o.step}`}${retry}: ${o.message}`;
    }
    case "rolled_back":
      return `ROLLED BACK: ${o.message}`;
    case "skipped":
      return `skipped: ${o.reason}`;
  }
}

/** Sub-second precision where it matters (outages, fast rotations), whole units above a minute. */
function preciseDuration(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  return formatDuration(ms);
}
