// The concrete next step each chat message ends with: a command a person can paste, naming the credential. Users
// of other rotators complain most about alerts that say something broke but not what to do about it.
import { PROVIDERS } from "../providers/provider-registry.ts";
import type { ProviderSet } from "../rotation/engine-deps.ts";
import type {
  ChatCredential,
  DeadlineChatEvent,
  RotationChatEvent,
  WeeklyReportChatEvent,
} from "./chat-event.ts";
import { formatUtc, kvPath, listText, oneLine, rotateNowCommand } from "./chat-text.ts";

/**
 * The engine's providers are rotated by the rotator (sfmc assisted: a person stages and activates in Setup, the
 * rotator verifies, publishes and proves the old secret dead); for the others a person rotates at the provider.
 */
function isRotatable(c: ChatCredential, providers: ProviderSet): boolean {
  return c.provider === undefined || providers.rotates(c.provider);
}

/** Each provider may word a step its own way (its profile's chatNextStep); the generic words otherwise. */
export function rotationNextStep(
  e: RotationChatEvent,
  mount: string,
  providers: ProviderSet = PROVIDERS,
): string {
  const c = e.credential;
  const own = providers.profile(c.provider)?.chatNextStep?.(e, mount);
  if (own !== undefined) return own;
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
      // The rotation waits for a person: what they do, then the flag that tells the rotator it is done.
      return `Do what the summary asks, then tell the rotator it is done: ${rotateNowCommand(mount, c.path)}`;
  }
}

export function deadlineNextStep(
  e: DeadlineChatEvent,
  mount: string,
  providers: ProviderSet = PROVIDERS,
): string {
  const c = e.credential;
  const kv = kvPath(mount, c.path);
  const own = providers.profile(c.provider)?.chatNextStep?.(e, mount);
  if (own !== undefined) return own;
  if (!isRotatable(c, providers)) {
    const provider = oneLine(c.provider ?? "", 40);
    return `Rotate it at the provider (${provider}) before ${formatUtc(e.deadline)}, write the new value to ${kv} and record last_rotated.`;
  }
  if (e.kind === "credential.overdue") return `Rotate now: ${rotateNowCommand(mount, c.path)}`;
  return (
    `The rotator rotates it in its rotate_window when it falls due (unless auto_rotate is false). ` +
    `To rotate it now: ${rotateNowCommand(mount, c.path)}`
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
