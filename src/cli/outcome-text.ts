// Rotation outcomes and plans in plain words, for `rotate`, `rollback` and `run --once`. Outcomes carry ids,
// codes, public messages and fingerprints only, so nothing here can print a secret.
import type { CycleRow } from "../app/rotation-cycle.ts";
import { PROVIDERS } from "../core/providers/provider-registry.ts";
import type { ProviderSet } from "../core/rotation/engine-deps.ts";
import type { RotationOutcome } from "../core/rotation/rotation-outcome.ts";
import type { RotationPlan } from "../core/rotation/rotation-plan.ts";
import { formatDuration, formatPreciseDuration, formatRelative } from "../core/time.ts";
import { renderTextTable } from "../report/format-table.ts";

/**
 * One line: what happened to the credential and what comes next. The outcome's provider words it where its
 * profile says so (outcomeText); the words below are the staged-pair flow's (an outcome without a provider).
 */
export function describeOutcome(
  o: RotationOutcome,
  now: Date = new Date(),
  providers: ProviderSet = PROVIDERS,
): string {
  const own = providers.profile(o.provider)?.outcomeText?.(o, now);
  if (own !== undefined) return own;
  switch (o.kind) {
    case "completed": {
      const outage =
        o.outageMs === undefined
          ? ""
          : `; outage ${formatPreciseDuration(o.outageMs)} (from revoking the old pair to publishing the new one)`;
      return (
        `completed: ${o.path}: rotated (${o.mode ?? "standard"}) in ${formatPreciseDuration(o.durationMs)}; ` +
        `new pair published as KV version ${o.kvVersion ?? "?"}, key fingerprint ${o.keyFingerprint ?? "?"}; ` +
        `the old pair is proven dead${outage}`
      );
    }
    case "waiting":
      if (o.waiting === "readers") {
        return (
          `waiting: ${o.path}: the new pair is published and both work; ${o.detail ?? "waiting for readers"} ` +
          `(next look ${formatRelative(o.until.getTime() - now.getTime())})`
        );
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
export function describeCycle(
  rows: readonly CycleRow[],
  now: Date,
  providers: ProviderSet = PROVIDERS,
): string[] {
  const table = renderTextTable(
    [
      { header: "PATH", maxWidth: 70 },
      { header: "ACTION", maxWidth: 24 },
      { header: "RESULT", maxWidth: 160 },
    ],
    rows.map((r) => [r.path, actionText(r), resultText(r, now, providers)]),
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

function resultText(r: CycleRow, now: Date, providers: ProviderSet): string {
  const o = r.outcome;
  if (o === undefined) return r.reason;
  const own = providers.profile(o.provider)?.cycleResultText?.(o, now);
  if (own !== undefined) return own;
  switch (o.kind) {
    case "completed":
      return (
        `completed: KV version ${o.kvVersion ?? "?"}, key ${o.keyFingerprint ?? "?"}, ` +
        `${formatPreciseDuration(o.durationMs)}${o.outageMs === undefined ? "" : `, outage ${formatPreciseDuration(o.outageMs)}`}`
      );
    case "waiting":
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
