// provider=manual: credentials with no rotation API. A person rotates them at the provider and writes the new
// value to KV; the rotator notices the new KV version in its scan and records it. Pure: scanned items in, the
// metadata patches to make out. A scan reads metadata only, and so does this: never a secret.
//
// The rule (docs/metadata.md, "Manual credentials"): rotation_verified_at of a manual credential is the creation time of the
// newest KV version the rotator has accounted for.
// - record: rotation_verified_at is set and the current version was created after it. An operator wrote a new
//   value: last_rotated = rotation_verified_at = that version's created_time, next_rotation_due from it, and
//   rotation_state idle with rotate, rotate_reason and last_rotation_error cleared. Announced in chat.
// - adopt: rotation_verified_at is absent (the first scan that sees the credential). The current version is
//   accounted for without claiming a rotation: rotation_verified_at = its created_time, and last_rotated too
//   unless an operator already set it (their knowledge of the last rotation wins). Not announced.
// - nothing otherwise. Metadata patches make no KV version, so they never trigger either; an entry whose current
//   version is deleted or destroyed is `invalid` and left alone; after a stamp the version is no longer newer,
//   so running the rule again changes nothing (and two replicas stamping the same values is harmless).
// So for manual credentials `unverified` (last_rotated later than rotation_verified_at) means: someone recorded
// a rotation by hand, but no new value has reached KV since.
import type { InventoryItem } from "../inventory/inventory-item.ts";

type ManualActionKind = "record" | "adopt";

export interface ManualAction {
  readonly kind: ManualActionKind;
  readonly path: string;
  /** The KV version accounted for. */
  readonly version: number;
  /** Its created_time (millisecond precision), the value stamped. */
  readonly versionCreated: Date;
  /** custom_metadata merge patch: null removes a key. */
  readonly patch: Readonly<Record<string, string | null>>;
  /** The item as scanned (consumers, contact, trigger), for the chat message and the log. */
  readonly item: InventoryItem;
}

export const MANUAL_PROVIDER = "manual";

/** What `rotate PATH`, a rotate flag or POST /rotate answers for a manual credential. */
export const MANUAL_ROTATE_MESSAGE =
  "provider manual has no rotation API: rotate it at the provider, then write the new value to KV; the rotator records it";

/** Why a rotation of a credential of `provider` is not started (rotate PATH, a flag, POST /rotate, run --once). */
export function notRotatedMessage(provider: string | undefined): string {
  return provider === MANUAL_PROVIDER
    ? MANUAL_ROTATE_MESSAGE
    : `provider ${provider ?? "?"} is not rotated in this release`;
}

export function manualActions(items: readonly InventoryItem[]): ManualAction[] {
  const actions: ManualAction[] = [];
  for (const item of items) {
    const action = manualAction(item);
    if (action !== undefined) actions.push(action);
  }
  return actions;
}

export function manualAction(item: InventoryItem): ManualAction | undefined {
  if (item.provider !== MANUAL_PROVIDER) return undefined;
  // invalid covers bad metadata and a deleted or destroyed current version; unmanaged has no provider anyway.
  if (item.state === "invalid" || item.state === "unmanaged") return undefined;
  const created = item.versionCreated;
  const version = item.currentVersion;
  if (created === undefined || Number.isNaN(created.getTime()) || version === undefined || version < 1) {
    return undefined;
  }
  // Vault's created_time has sub-millisecond digits; stamps and comparisons use milliseconds, so a stamped
  // version compares equal to itself and is never recorded twice.
  const at = new Date(created.getTime());
  const stamp = at.toISOString();
  const verified = item.verifiedAt;
  if (verified === undefined) {
    const lastRotated = item.lastRotated ?? at;
    return {
      kind: "adopt",
      path: item.path,
      version,
      versionCreated: at,
      item,
      patch: {
        rotation_verified_at: stamp,
        ...(item.lastRotated === undefined ? { last_rotated: stamp } : {}),
        ...nextDue(item, lastRotated),
      },
    };
  }
  if (at.getTime() <= verified.getTime()) return undefined;
  return {
    kind: "record",
    path: item.path,
    version,
    versionCreated: at,
    item,
    patch: {
      last_rotated: stamp,
      rotation_verified_at: stamp,
      ...nextDue(item, at),
      rotation_state: "idle",
      rotate: null,
      rotate_reason: null,
      last_rotation_error: null,
    },
  };
}

/** next_rotation_due = last rotation + period, capped by expires_at (as deadline.ts counts it). */
function nextDue(item: InventoryItem, lastRotated: Date): { next_rotation_due?: string } {
  if (item.periodMs === undefined) return {};
  const scheduled = lastRotated.getTime() + item.periodMs;
  const expiry = item.expiresAt?.getTime();
  const due = expiry !== undefined && expiry < scheduled ? expiry : scheduled;
  return { next_rotation_due: new Date(due).toISOString() };
}
