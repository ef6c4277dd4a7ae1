// Shared by the chat adapter tests: a message, target options pointing at a loopback receiver, and a sleep that
// records the delays instead of waiting them out.

import type { ChatTargetOptions } from "../../../src/adapters/chat/chat-target.ts";
import { buildChatMessage, type ChatMessage } from "../../../src/core/notify/chat-message.ts";
import { SecretValue } from "../../../src/core/secret-value.ts";

export const URL_CANARY = "test-secret-canary-webhook-url-7f3a";
export const SIGNING_CANARY = "test-secret-canary-signing-key-91bd";

export function failedMessage(): ChatMessage {
  return buildChatMessage({
    kind: "rotation.failed",
    credential: {
      path: "api-credentials/team-a/crm",
      provider: "salesforce-eca",
      consumers: ["billing-api", "crm-sync"],
      contact: "#team-a-oncall",
    },
    rotationId: "rot-42",
    mode: "standard",
    text: "Rotation of api-credentials/team-a/crm (standard) failed at publish: VAULT_CAS_CONFLICT: someone wrote first.",
    errorCode: "VAULT_CAS_CONFLICT",
    at: new Date("2026-03-02T09:00:00.000Z"),
  });
}

export interface SleepLog {
  readonly delays: number[];
  sleep(ms: number): Promise<void>;
}

export function sleepLog(): SleepLog {
  const delays: number[] = [];
  return {
    delays,
    sleep: async (ms) => {
      delays.push(ms);
    },
  };
}

/** Options for a target posting to `<receiverUrl>/hooks/<canary>?token=<canary>`, with recorded sleeps. */
export function targetOptions(
  receiverUrl: string,
  log: SleepLog,
  over: Partial<ChatTargetOptions> = {},
): ChatTargetOptions {
  return {
    name: "ops-alerts",
    url: SecretValue.of(`${receiverUrl}/hooks/${URL_CANARY}?token=${URL_CANARY}`),
    secret: SecretValue.of(SIGNING_CANARY),
    timeoutMs: 2_000,
    sleep: log.sleep,
    random: () => 0.5,
    ...over,
  };
}
