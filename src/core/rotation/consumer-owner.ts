// One KV path per external consumer. Whoever can write a path under the prefixes controls its metadata and data,
// so a path could name another team's Salesforce app (or Marketing Cloud package) and have the rotator rotate
// it and publish the new secret to that path. Two rules close that:
//   - proof of possession: before anything is changed, the secret currently in the path's KV must work (a
//     Salesforce login with the pair; a Marketing Cloud token with the client id), so a path can only rotate
//     what it already holds;
//   - one owner: the first path that proves possession of a consumer is recorded as its owner under the state
//     prefix (which only the rotator writes); any other path naming the same consumer is refused with
//     POLICY_CONSUMER_OWNED, even one that somehow holds the secret too. Moving a consumer to another path is
//     the explicit, audited `eca-rotator adopt PATH`, which proves possession again.
// An owner is keyed by what identifies the consumer at its issuer, which each provider says (its consumer
// identity, built with safeSegment / toHex below, under its own name as the first segment).
import { isRotatorError, RotatorError } from "../errors.ts";
import type { RotationEngineDeps } from "./engine-deps.ts";
import type { ConsumerIdentity, ConsumerOwner } from "./rotation-ports.ts";

/** The owner record of one consumer. Never a secret: ids and a KV path. */

/** POLICY_CONSUMER_OWNED when `owner` is another path than `path`. */
export function ownedElsewhere(owner: ConsumerOwner | undefined, path: string): RotatorError | undefined {
  if (owner === undefined || owner.path === path) return undefined;
  return new RotatorError(
    "POLICY_CONSUMER_OWNED",
    `consumer already managed at ${owner.path} (${owner.subject}); a consumer is rotated from one path only. To move it here, run: eca-rotator adopt ${path}`,
    { context: { path, owner: owner.path } },
  );
}

/**
 * Records `path` as the owner of `consumer` when nobody owns it yet (cas 0); a path that already owns it is left
 * alone. Returns true when this call made `path` the owner. Throws POLICY_CONSUMER_OWNED when another path
 * owns it, including one that won a race to create the record. `known`: the owner record as the caller has
 * read it in this engine call (the read is not repeated: the create's cas 0 fails if one was written since).
 */
export async function recordOwner(
  deps: Pick<RotationEngineDeps, "state" | "clock">,
  consumer: ConsumerIdentity,
  path: string,
  guard: () => Promise<void>,
  known?: { readonly owner: ConsumerOwner | undefined },
): Promise<boolean> {
  const found = known === undefined ? (await deps.state.readOwner(consumer.key))?.value : known.owner;
  const refused = ownedElsewhere(found, path);
  if (refused !== undefined) throw refused;
  if (found !== undefined) return false;
  await guard();
  try {
    await deps.state.writeOwner(
      consumer.key,
      { path, since: deps.clock.now(), subject: consumer.subject },
      0,
    );
    return true;
  } catch (err) {
    if (!isRotatorError(err, "VAULT_CAS_CONFLICT")) throw err;
    const winner = await deps.state.readOwner(consumer.key);
    const lost = ownedElsewhere(winner?.value, path);
    if (lost !== undefined) throw lost;
    return false;
  }
}

/**
 * ROTATION_POSSESSION_UNPROVEN: the secret in the path's KV does not work, so the rotator does not touch the
 * consumer. Retryable: a pair created minutes ago may not work yet (a new app takes up to ten minutes to
 * propagate), so later cycles ask again, up to rotation.max_attempts; then the rotation ends, having changed
 * nothing.
 */
export function possessionUnproven(path: string, what: string, refusal: string): RotatorError {
  return new RotatorError(
    "ROTATION_POSSESSION_UNPROVEN",
    `${what} (${refusal}): nothing was changed; the rotator rotates only a consumer whose working secret this path holds. Put the secret that works now into KV, then set rotate=now`,
    { retryable: true, context: { path, refusal } },
  );
}

/** A consumer-key path segment: `s` itself when plainly safe, its hex otherwise. */
export function safeSegment(s: string): string {
  return /^[A-Za-z0-9_.-]{1,128}$/.test(s) && s !== "." && s !== ".." ? s : toHex(s);
}

/** Any text as one safe path segment (hex of its UTF-8). */
export function toHex(s: string): string {
  let out = "";
  for (const b of new TextEncoder().encode(s)) out += b.toString(16).padStart(2, "0");
  return out === "" ? "00" : out;
}
