// What every finished rotation must leave behind, checked from the outside (KV through the root token, the
// simulator's own state, the audit file): the rotation's invariants.
import { expect } from "vitest";
import type { Credential, E2eWorld } from "./e2e-kit.ts";

const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/;

/**
 * The credential was rotated exactly once and closed: KV's current pair is Salesforce's main pair, previous_*
 * cleared, the metadata stamped and idle, the old pair dead, journal and lease gone, no secret in any output.
 * `promotionsBefore` is the simulator's promotion counter before the rotation started. With
 * `expiredLeaseMayLinger`, a lease may remain if it has expired: a process killed right after deleting the
 * journal never reached deleteLease, and nothing is left for a successor to do (the next rotation takes it over).
 */
export async function expectRotatedClean(
  w: E2eWorld,
  cred: Credential,
  promotionsBefore: number,
  opts: { expiredLeaseMayLinger?: boolean } = {},
): Promise<{ key: string; secret: string }> {
  const main = w.sim.primaryPair(cred.app.appId, cred.app.consumerId);
  expect(main.key).not.toBe(cred.oldPair.key);
  const kv = await w.entry(cred.path);
  expect(kv?.data).toMatchObject({
    client_id: main.key,
    api_key: main.secret,
    previous_client_id: "",
    previous_key: "",
    rotated_at: expect.stringMatching(RFC3339),
  });
  const meta = kv?.meta ?? {};
  expect(meta["rotation_state"]).toBe("idle");
  for (const k of ["rotation_verified_at", "last_rotated", "next_rotation_due"]) {
    expect(meta[k], k).toMatch(RFC3339);
  }
  expect(meta["rotate"]).toBeUndefined();
  expect(meta["rotate_reason"]).toBeUndefined();
  expect(meta["last_rotation_error"]).toBeUndefined();
  // Only the new pair logs in: the old one is dead, no staged set (active or rotated) is left over.
  expect(w.sim.validPairs(cred.app.appId, cred.app.consumerId).map((p) => p.key)).toEqual([main.key]);
  expect(w.sim.counters().promotions - promotionsBefore).toBe(1);
  expect(await w.journal(cred.path)).toBeUndefined();
  const lease = await w.lease(cred.path);
  if (lease !== undefined && opts.expiredLeaseMayLinger === true) {
    expect(Date.parse(String(lease.data["expires_at"]))).toBeLessThan(Date.now());
  } else {
    expect(lease).toBeUndefined();
  }
  w.expectNoLeak([cred.oldPair.secret, main.secret, w.sim.adminApp.consumerSecret]);
  return main;
}

/** The audit file verifies, and this credential's events end in rotation.completed with one rotation id. */
export function expectCompletedAudit(w: E2eWorld, cred: Credential): string[] {
  const events = w.auditEvents().filter((e) => e.path === cred.path);
  const types = events.map((e) => e.type);
  expect(types[0]).toBe("rotation.started");
  expect(types.at(-1)).toBe("rotation.completed");
  expect(new Set(events.map((e) => e.rotationId)).size).toBe(1);
  const completed = events.at(-1);
  expect(completed?.["keyFingerprint"]).toMatch(/^[0-9a-f]{16}$/);
  return types;
}
