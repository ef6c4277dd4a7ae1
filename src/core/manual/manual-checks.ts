// `check` for provider=manual: reminders need a person to name (rotation_contact) and a deadline to count to.
// Reads metadata only, like the rest of provider=manual.
import { type CheckFinding, type CredentialFacts, fail, warn } from "../providers/credential-facts.ts";

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
