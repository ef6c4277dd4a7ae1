// A small realistic inventory, classified at NOW, used by the report model and formatter tests.

import { classifyEntry } from "../../src/core/inventory/classify.ts";
import type { InventoryItem } from "../../src/core/inventory/inventory-item.ts";
import { buildExpiryReport, type ExpiryReport } from "../../src/core/report/expiry-report.ts";
import { DAY_MS, HOUR_MS, MINUTE_MS } from "../../src/core/time.ts";
import { kvEntry } from "../fakes/kv-entry-builder.ts";

export const NOW = new Date("2026-05-04T09:00:00Z");
const DEFAULTS = { warningWindowMs: 14 * DAY_MS, stuckAfterMs: HOUR_MS, soakMs: 15 * MINUTE_MS };

const ago = (days: number): string => new Date(NOW.getTime() - days * DAY_MS).toISOString();
const ECA = { provider: "salesforce-eca", eca_app_name: "App", rotation_period: "30d" };
const rotated = (days: number) => ({ last_rotated: ago(days), rotation_verified_at: ago(days) });

export function fixtureItems(): InventoryItem[] {
  const entries = [
    kvEntry("api/overdue-a", {
      ...ECA,
      ...rotated(40),
      consumers: "billing, crm",
      rotation_contact: "#billing",
    }),
    kvEntry("api/overdue-b", { ...ECA, ...rotated(35) }),
    kvEntry("api/due-soon", { ...ECA, ...rotated(25), rotation_contact: "ops@example.com" }),
    kvEntry("api/failed", {
      ...ECA,
      ...rotated(10),
      rotation_state: "failed",
      last_rotation_error: "SALESFORCE_NOT_FOUND: app gone",
    }),
    kvEntry("api/unverified", { ...ECA, last_rotated: ago(2) }),
    kvEntry("api/stuck", { ...ECA, ...rotated(10), rotation_state: "in_progress" }, { updatedTime: ago(1) }),
    kvEntry(
      "api/running",
      { ...ECA, ...rotated(10), rotation_state: "awaiting_promotion" },
      { updatedTime: ago(0) },
    ),
    kvEntry("api/flagged", { ...ECA, ...rotated(1), rotate: "emergency", rotate_reason: "INC-9" }),
    kvEntry("api/invalid-z", { ...ECA, rotation_period: "banana" }),
    kvEntry("api/invalid-a", { ...ECA, risk: "extreme" }),
    kvEntry("api/fine", { ...ECA, ...rotated(1) }),
    kvEntry("api/other-team", { owner: "team-x" }),
  ];
  return entries.map((e) => classifyEntry(e, NOW, DEFAULTS));
}

export function fixtureReport(items: InventoryItem[] = fixtureItems()): ExpiryReport {
  return buildExpiryReport(items, NOW);
}
