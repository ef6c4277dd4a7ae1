// The JSON shape of one credential, shared by `scan --json` and `report --format json`. Stable: keys are
// snake_case like the custom_metadata keys, every key is always present (null when unknown), dates are
// ISO 8601 UTC with milliseconds, durations are whole seconds. Values are the raw ones (JSON escapes them).

import type {
  CredentialState,
  InventoryItem,
  ReaderRow,
  ReadersSummary,
} from "../core/inventory/inventory-item.ts";
import { isoOrNull } from "./report-cells.ts";

export interface InventoryItemJson {
  readonly path: string;
  readonly state: CredentialState;
  readonly reason: string | null;
  readonly provider: string | null;
  readonly credential_type: string | null;
  readonly risk: string | null;
  readonly deadline: string | null;
  readonly seconds_to_deadline: number | null;
  readonly deadline_basis: string | null;
  readonly period_seconds: number | null;
  readonly period_source: string | null;
  readonly capped_by_expiry: boolean | null;
  /** expires_at: the hard expiry the provider enforces (an sfmc secret's 180 days), when known. */
  readonly expires_at: string | null;
  readonly warning_window_seconds: number | null;
  readonly last_rotated: string | null;
  readonly rotation_verified_at: string | null;
  readonly rotation_state: string | null;
  readonly last_rotation_error: string | null;
  readonly auto_rotate: boolean | null;
  readonly consumers: readonly string[];
  readonly rotation_contact: string | null;
  readonly trigger: { readonly mode: string; readonly reason: string | null } | null;
  readonly stuck: boolean;
  readonly current_version: number | null;
  readonly updated_time: string | null;
  /** Who read it in readers.window; null without a reader feed (or when its entries could not be read). */
  readonly readers: ReadersJson | null;
}

export interface ReaderRowJson {
  readonly label: string;
  readonly version: number;
  readonly last_read_at: string | null;
  /** The version read is the credential's current KV version. */
  readonly current: boolean;
  /** The label matches a declared consumer. */
  readonly declared: boolean;
}

export function readerRowToJson(x: ReaderRow): ReaderRowJson {
  return {
    label: x.label,
    version: x.version,
    last_read_at: isoOrNull(new Date(x.lastReadMs)),
    current: x.current,
    declared: x.declared,
  };
}

interface ReadersJson {
  readonly total: number;
  readonly on_current: number;
  /** At most 50: those on an old version first (latest read first), then by label. */
  readonly listed: readonly ReaderRowJson[];
  /** Declared consumers that no reader in the window matches. */
  readonly unseen_consumers: readonly string[];
}

function readersToJson(r: ReadersSummary | undefined): ReadersJson | null {
  if (r === undefined) return null;
  return {
    total: r.total,
    on_current: r.onCurrent,
    listed: r.listed.map(readerRowToJson),
    unseen_consumers: [...r.unseenConsumers],
  };
}

export function itemToJson(item: InventoryItem): InventoryItemJson {
  const seconds = (ms: number | undefined): number | null =>
    ms === undefined ? null : Math.floor(ms / 1000);
  return {
    path: item.path,
    state: item.state,
    reason: item.reason ?? null,
    provider: item.provider ?? null,
    credential_type: item.credentialType ?? null,
    risk: item.risk ?? null,
    deadline: isoOrNull(item.deadline),
    seconds_to_deadline: item.secondsToDeadline ?? null,
    deadline_basis: item.deadlineBasis ?? null,
    period_seconds: seconds(item.periodMs),
    period_source: item.periodSource ?? null,
    capped_by_expiry: item.cappedByExpiry ?? null,
    expires_at: isoOrNull(item.expiresAt),
    warning_window_seconds: seconds(item.warningWindowMs),
    last_rotated: isoOrNull(item.lastRotated),
    rotation_verified_at: isoOrNull(item.verifiedAt),
    rotation_state: item.rotationState ?? null,
    last_rotation_error: item.lastError ?? null,
    auto_rotate: item.autoRotate ?? null,
    consumers: [...item.consumers],
    rotation_contact: item.contact ?? null,
    trigger:
      item.trigger === undefined ? null : { mode: item.trigger.mode, reason: item.trigger.reason ?? null },
    stuck: item.stuck,
    current_version: item.currentVersion ?? null,
    updated_time: isoOrNull(item.updatedTime),
    readers: readersToJson(item.readers),
  };
}
