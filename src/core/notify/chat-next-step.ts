// The concrete next step each chat message ends with: a command a person can paste, naming the credential. Users
// of other rotators complain most about alerts that say something broke but not what to do about it.
import { isRotatedByEngine } from "../providers/provider-registry.ts";
import type {
  ChatCredential,
  DeadlineChatEvent,
  RotationChatEvent,
  WeeklyReportChatEvent,
} from "./chat-event.ts";
import { formatUtc, listText, oneLine } from "./chat-text.ts";

function kvPath(mount: string, path: string): string {
  return oneLine(`${mount}/${path}`, 240);
}

function rotateNowCommand(mount: string, path: string): string {
  return `vault kv metadata patch -custom-metadata=rotate=now ${kvPath(mount, path)}`;
}

/**
 * The engine's providers are rotated by the rotator (sfmc assisted: a person stages and activates in Setup, the
 * rotator verifies, publishes and proves the old secret dead); for the others a person rotates at the provider.
 */
function isRotatable(c: ChatCredential): boolean {
  return c.provider === undefined || isRotatedByEngine(c.provider);
}

export function rotationNextStep(e: RotationChatEvent, mount: string): string {
  const c = e.credential;
  const kv = kvPath(mount, c.path);
  const path = oneLine(c.path, 200);
  const consumers = listText(c.consumers);
  switch (e.kind) {
    case "rotation.completed":
      return consumers === undefined
        ? `Nothing to do. If a consumer fails to log in, make it re-read ${kv} from Vault (and record it in the consumers metadata key).`
        : `Nothing to do. If a consumer (${consumers}) fails to log in, make it re-read ${kv} from Vault.`;
    case "rotation.emergency":
      return `The old pair is dead: restart ${consumers ?? "every consumer"} now so they read the new pair from ${kv}, then close the incident.`;
    case "rotation.failed":
      if (c.provider === "sfmc") {
        // Never rolled back by the rotator, and a refused paste is only tried again after a new paste.
        return (
          `Check last_rotation_error (vault kv metadata get ${kv}). If Marketing Cloud refused the pasted secret, ` +
          "stage a new one in Setup, wait 5 minutes and paste it into pending_api_key (the next scan picks it up); " +
          `otherwise fix the cause, then resume: ${rotateNowCommand(mount, c.path)}`
        );
      }
      return (
        `Check last_rotation_error (vault kv metadata get ${kv}), fix the cause, then run ` +
        `\`eca-rotator rotate ${path}\` to resume or \`eca-rotator rollback ${path}\` to undo (before promotion only).`
      );
    case "rotation.retrying":
      return (
        `Nothing to do while Salesforce recovers: the rotator tries again by itself. If the error is not an outage, ` +
        `check last_rotation_error (vault kv metadata get ${kv}) and fix the cause; \`eca-rotator rotate ${path}\` tries at once.`
      );
    case "rotation.rolled_back":
      return `Check last_rotation_error (vault kv metadata get ${kv}), fix the cause, then try again: ${rotateNowCommand(mount, c.path)}`;
    case "rotation.action_needed":
      return actionNextStep(c, mount);
  }
}

/** The rotation waits for a person: what they do, then the flag that tells the rotator it is done. */
function actionNextStep(c: ChatCredential, mount: string): string {
  const kv = kvPath(mount, c.path);
  const flag = rotateNowCommand(mount, c.path);
  switch (c.provider) {
    case "sfmc":
      return (
        `Activate the staged secret (now api_key in ${kv}) in Setup → Installed Packages, then run: ${flag} ` +
        "(the rotator then proves the old secret is refused and clears previous_key)."
      );
    case "generated":
      return (
        `Update the sender to sign with current_secret from ${kv} (receivers accept current_secret and ` +
        `previous_secret meanwhile), then end the overlap: ${flag}`
      );
    default:
      return `Do what the summary asks, then tell the rotator it is done: ${flag}`;
  }
}

export function deadlineNextStep(e: DeadlineChatEvent, mount: string): string {
  const c = e.credential;
  const kv = kvPath(mount, c.path);
  if (c.provider === "manual") return manualDeadlineNextStep(e, kv);
  if (c.provider === "sfmc") return sfmcDeadlineNextStep(e, mount);
  if (!isRotatable(c)) {
    const provider = oneLine(c.provider ?? "", 40);
    return `Rotate it at the provider (${provider}) before ${formatUtc(e.deadline)}, write the new value to ${kv} and record last_rotated.`;
  }
  if (e.kind === "credential.overdue") return `Rotate now: ${rotateNowCommand(mount, c.path)}`;
  return (
    `The rotator rotates it in its rotate_window when it falls due (unless auto_rotate is false). ` +
    `To rotate it now: ${rotateNowCommand(mount, c.path)}`
  );
}

/**
 * provider=sfmc: the schedule never starts one (Marketing Cloud stages secrets in Setup only); the scan picks up a
 * secret pasted into pending_api_key, and rotate=now starts at once.
 */
function sfmcDeadlineNextStep(e: DeadlineChatEvent, mount: string): string {
  const when = e.kind === "credential.overdue" ? "now" : `before ${formatUtc(e.deadline)}`;
  return (
    `Stage a new secret in Setup → Installed Packages ${when}, wait 5 minutes, then paste it into pending_api_key ` +
    `(vault kv patch ${kvPath(mount, e.credential.path)} pending_api_key=- reads it from stdin). The rotator ` +
    `verifies and publishes it at its next scan (${rotateNowCommand(mount, e.credential.path)} starts at once), ` +
    "then asks you to activate it in Setup."
  );
}

/** provider=manual: the rotator has no API for it; the owner rotates by hand and the rotator records the write. */
function manualDeadlineNextStep(e: DeadlineChatEvent, kv: string): string {
  const when = e.kind === "credential.overdue" ? "now" : `before ${formatUtc(e.deadline)}`;
  return (
    `The rotator has no API for this provider: rotate it by hand at the provider ${when}, then write the new ` +
    `value to Vault (vault kv patch ${kv} FIELD=NEW_VALUE, or vault kv put with every field). The rotator records ` +
    "the new KV version at its next scan (last_rotated, rotation_verified_at); do not set last_rotated yourself."
  );
}

export function weeklyNextStep(e: WeeklyReportChatEvent, mount: string): string {
  if (e.totals.needingAttention === 0) return "Nothing needs attention this week.";
  const first = e.topItems[0];
  const example = first === undefined ? `${mount}/PATH` : kvPath(mount, first.path);
  return (
    "Run `eca-rotator report` for the full list. Rotate overdue credentials first, e.g. " +
    `vault kv metadata patch -custom-metadata=rotate=now ${example}`
  );
}
