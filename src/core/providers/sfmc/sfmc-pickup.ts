// provider=sfmc: the scan starts a rotation when an operator pastes a newly staged secret into
// `pending_api_key`, without a flag. The scan reads metadata only, so this decides from metadata which entries
// are worth one data read (a new KV version the rotator has not acted on), and from that read whether to start.
// A refused secret leaves rotation_state=failed; it is tried again only after a new paste (a newer KV
// version), never every scan: the rotator does not retry the same refused secret on its own.
import type { InventoryItem } from "../../inventory/inventory-item.ts";
import type { ProviderPickup } from "../../rotation/engine-deps.ts";
import type { StoredCredential } from "../../rotation/rotation-ports.ts";
import { PENDING_API_KEY, pendingSecret } from "./sfmc-fields.ts";

/**
 * Whether the entry may hold a pasted secret the rotator has not acted on: an sfmc credential with no rotation
 * under way and no flag (a flag starts it anyway), whose current KV version was written after the rotator's
 * last word on it. `hasJournal`: an unfinished (or parked) rotation exists; it is resumed, never restarted.
 */
export function mayHoldNewPending(item: InventoryItem, hasJournal: boolean): boolean {
  if (item.provider !== "sfmc" || hasJournal || item.trigger !== undefined) return false;
  if (item.state === "invalid" || item.state === "unmanaged") return false;
  const written = item.versionCreated?.getTime();
  if (written === undefined) return false;
  switch (item.rotationState) {
    case "in_progress":
    case "awaiting_promotion":
      return false;
    case "failed":
      // The failure patched the metadata (updated_time); a paste after it is a KV write, which sets
      // updated_time to the new version's created_time.
      return item.updatedTime !== undefined && written >= item.updatedTime.getTime();
    default: {
      const last = Math.max(
        item.verifiedAt?.getTime() ?? -Infinity,
        item.lastRotated?.getTime() ?? -Infinity,
      );
      return written > last;
    }
  }
}

/** The decision for an entry mayHoldNewPending picked, once its data is read; undefined: nothing pasted. */
export function pendingDecision(cred: StoredCredential): ReturnType<ProviderPickup["decide"]> {
  if (pendingSecret(cred) === undefined) return undefined;
  return {
    mode: "standard",
    reason: `a staged secret was pasted into ${PENDING_API_KEY} (KV version ${cred.version})`,
  };
}

export const sfmcPickup: ProviderPickup = {
  looksFor: PENDING_API_KEY,
  mayHaveWork: mayHoldNewPending,
  decide: pendingDecision,
};
