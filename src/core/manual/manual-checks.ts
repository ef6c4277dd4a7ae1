// provider=manual as the rest of the program sees it (the engine never rotates it): its `check` (reminders need a
// person to name, rotation_contact, and a deadline to count to) and its chat deadline step. Reads metadata only,
// like the rest of provider=manual.
import { formatUtc, kvPath } from "../notify/chat-text.ts";
import { type CheckFinding, type CredentialFacts, fail, warn } from "../providers/credential-facts.ts";
import type { ProviderProfile } from "../rotation/engine-deps.ts";
import { MANUAL_PROVIDER } from "./manual-actions.ts";

export const manualProvider: ProviderProfile = {
  name: MANUAL_PROVIDER,
  checks: { needsSecretData: false, run: checkManual },
  chatNextStep(e, mount) {
    if (e.kind !== "credential.due_soon" && e.kind !== "credential.overdue") return undefined;
    // The rotator has no API for it; the owner rotates by hand and the rotator records the write.
    const when = e.kind === "credential.overdue" ? "now" : `before ${formatUtc(e.deadline)}`;
    return (
      `The rotator has no API for this provider: rotate it by hand at the provider ${when}, then write the new ` +
      `value to Vault (vault kv patch ${kvPath(mount, e.credential.path)} FIELD=NEW_VALUE, or vault kv put with every field). The rotator records ` +
      "the new KV version at its next scan (last_rotated, rotation_verified_at); do not set last_rotated yourself."
    );
  },
};

export function checkManual(facts: CredentialFacts): CheckFinding[] {
  const findings: CheckFinding[] = [];
  if (facts.item.contact === undefined) {
    findings.push(
      warn("no rotation_contact: reminders have nobody to name; set it to the owner (a team or a person)"),
    );
  }
  if (facts.item.deadline === undefined || facts.item.deadlineBasis === undefined) {
    findings.push(fail("no deadline: no last_rotated and no creation time of the current KV version"));
  }
  return findings;
}
