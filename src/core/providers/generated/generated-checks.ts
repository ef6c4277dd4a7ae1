// `check` for provider=generated: a current_secret to hand out, and no dual-accept overlap left open without a
// rotation to close it (previous_secret would stay accepted for good). confirm_by is parsed with the metadata.
import {
  type CheckFinding,
  type CredentialFacts,
  type ProviderCheckContext,
  warn,
} from "../credential-facts.ts";
import {
  CURRENT_SECRET,
  PHASE_COMPLETE,
  PHASE_DUAL_ACCEPT,
  PREVIOUS_SECRET,
  ROTATION_PHASE,
} from "./generated-fields.ts";

export function checkGenerated(facts: CredentialFacts, ctx: ProviderCheckContext): CheckFinding[] {
  const findings: CheckFinding[] = [];
  if (!facts.present.has(CURRENT_SECRET)) {
    findings.push(warn(`no ${CURRENT_SECRET} yet: the first rotation generates one`));
  }
  const idle = facts.item.rotationState === undefined || facts.item.rotationState === "idle";
  if (facts.plain[ROTATION_PHASE] === PHASE_DUAL_ACCEPT && idle) {
    findings.push(
      warn(
        `${ROTATION_PHASE}=${PHASE_DUAL_ACCEPT} with no rotation under way: ${PREVIOUS_SECRET} is still accepted; once every sender uses ${CURRENT_SECRET}: vault kv patch ${ctx.kvMount}/${facts.item.path} ${PREVIOUS_SECRET}= ${ROTATION_PHASE}=${PHASE_COMPLETE}`,
      ),
    );
  }
  return findings;
}
