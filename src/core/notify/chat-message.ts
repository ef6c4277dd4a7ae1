// A chat event → one service-neutral message: title, summary, facts and a next step, every piece one bounded,
// safe line. The Slack, Teams and webhook adapters only lay it out. A message names the credential, its
// consumers and contact, never a secret: events carry none, and free text is the engine's public words.
import type {
  ChatCredential,
  ChatEvent,
  ChatEventKind,
  DeadlineChatEvent,
  RotationChatEvent,
  TestChatEvent,
  WeeklyReportChatEvent,
} from "./chat-event.ts";
import { deadlineNextStep, rotationNextStep, weeklyNextStep } from "./chat-next-step.ts";
import { formatDeadline, formatUtc, listText, oneLine } from "./chat-text.ts";

type ChatSeverity = "info" | "warning" | "critical";

interface ChatFact {
  readonly label: string;
  readonly value: string;
}

export interface ChatMessage {
  readonly kind: ChatEventKind;
  readonly severity: ChatSeverity;
  readonly title: string;
  readonly summary: string;
  readonly facts: readonly ChatFact[];
  readonly nextStep: string | undefined;
  /** The same event about the same credential (or period) gives the same key: one message per key. */
  readonly dedupKey: string;
}

export interface ChatMessageOptions {
  /** The KV mount, for the commands in next steps. Default "secret". */
  readonly mount?: string;
}

/** Bounds on every piece, well inside Slack's (header 150, text 3000, field 2000) and Teams' limits. */
export const CHAT_LIMITS = {
  title: 150,
  summary: 1000,
  factLabel: 40,
  factValue: 300,
  nextStep: 600,
  facts: 10,
} as const;

const TITLE_PREFIX: Readonly<Record<RotationChatEvent["kind"] | DeadlineChatEvent["kind"], string>> = {
  "rotation.completed": "Rotated",
  "rotation.failed": "Rotation failed",
  "rotation.retrying": "Rotation retrying",
  "rotation.emergency": "Emergency rotation completed",
  "rotation.rolled_back": "Rotation rolled back",
  "rotation.action_needed": "Action needed",
  "credential.due_soon": "Rotation due soon",
  "credential.overdue": "Rotation overdue",
};

const ROTATION_SEVERITY: Readonly<Record<RotationChatEvent["kind"], ChatSeverity>> = {
  "rotation.completed": "info",
  "rotation.failed": "critical",
  "rotation.retrying": "warning",
  "rotation.emergency": "critical",
  "rotation.rolled_back": "warning",
  "rotation.action_needed": "warning",
};

export function buildChatMessage(event: ChatEvent, opts: ChatMessageOptions = {}): ChatMessage {
  const mount = opts.mount ?? "secret";
  switch (event.kind) {
    case "rotation.completed":
    case "rotation.failed":
    case "rotation.retrying":
    case "rotation.emergency":
    case "rotation.rolled_back":
    case "rotation.action_needed":
      return rotationMessage(event, mount);
    case "credential.due_soon":
    case "credential.overdue":
      return deadlineMessage(event, mount);
    case "report.weekly":
      return weeklyMessage(event, mount);
    case "test":
      return testMessage(event);
  }
}

function rotationMessage(e: RotationChatEvent, mount: string): ChatMessage {
  const facts = credentialFacts(e.credential, e.at);
  facts.push({ label: "Rotation", value: e.rotationId });
  if (e.mode !== undefined) facts.push({ label: "Mode", value: e.mode });
  if (e.errorCode !== undefined) facts.push({ label: "Error", value: e.errorCode });
  const text = oneLine(e.text, CHAT_LIMITS.summary);
  return finish({
    kind: e.kind,
    // An emergency that cannot finish leaves a leaked pair alive, or consumers without a working one.
    severity:
      e.kind === "rotation.retrying" && e.mode === "emergency" ? "critical" : ROTATION_SEVERITY[e.kind],
    title: `${TITLE_PREFIX[e.kind]}: ${e.credential.path}`,
    summary: text === "" ? `Rotation ${e.rotationId} of ${e.credential.path}: ${e.kind}.` : text,
    facts,
    nextStep: e.nextStep ?? rotationNextStep(e, mount),
    dedupKey: `${e.kind}:${e.credential.path}:${e.rotationId}`,
  });
}

function deadlineMessage(e: DeadlineChatEvent, mount: string): ChatMessage {
  const c = e.credential;
  const when = formatDeadline(e.deadline, e.at);
  const reminder =
    e.kind === "credential.overdue" && e.reminder !== undefined && e.reminder > 0 ? e.reminder : 0;
  const summary =
    e.kind === "credential.overdue"
      ? `${c.path} passed its rotation deadline ${when} and has not been rotated` +
        (reminder > 0 ? ` (reminder ${reminder}: repeated while it stays overdue).` : ".")
      : `${c.path} must be rotated by ${when}.`;
  return finish({
    kind: e.kind,
    severity: e.kind === "credential.overdue" ? "critical" : "warning",
    title: `${TITLE_PREFIX[e.kind]}: ${c.path}`,
    summary,
    facts: credentialFacts({ ...c, deadline: e.deadline }, e.at),
    nextStep: deadlineNextStep(e, mount),
    // One message per credential and deadline, and one per overdue reminder period after it.
    dedupKey: `${e.kind}:${c.path}:${e.deadline.toISOString()}${reminder > 0 ? `:${reminder}` : ""}`,
  });
}

function weeklyMessage(e: WeeklyReportChatEvent, mount: string): ChatMessage {
  const t = e.totals;
  const severity: ChatSeverity =
    t.overdue > 0 || t.failed > 0 ? "critical" : t.needingAttention > 0 ? "warning" : "info";
  const facts: ChatFact[] = [
    { label: "Overdue", value: String(t.overdue) },
    { label: "Due soon", value: String(t.dueSoon) },
    { label: "Failed", value: String(t.failed) },
    { label: "Need attention", value: String(t.needingAttention) },
  ];
  for (const item of e.topItems.slice(0, CHAT_LIMITS.facts - facts.length)) {
    const deadline = item.deadline === undefined ? "" : `, deadline ${formatDeadline(item.deadline, e.at)}`;
    facts.push({ label: item.path, value: `${item.state}${deadline}` });
  }
  return finish({
    kind: "report.weekly",
    severity,
    title: `Weekly credential report ${e.period}`,
    summary:
      `${t.all} credentials (${t.managed} managed): ${t.overdue} overdue, ${t.dueSoon} due soon, ` +
      `${t.failed} failed; ${t.needingAttention} need attention.` +
      (e.readers === undefined
        ? ""
        : ` Readers: ${e.readers.noReader} with no reader in the window, ${e.readers.lagging} read on an old ` +
          `version, ${e.readers.discovery} read beside their declared consumers.`),
    facts,
    nextStep: weeklyNextStep(e, mount),
    dedupKey: `report.weekly:${e.period}`,
  });
}

function testMessage(e: TestChatEvent): ChatMessage {
  return finish({
    kind: "test",
    severity: "info",
    title: "Test message from eca-rotator",
    summary: `A test of the chat target "${e.target}". If you can read this, eca-rotator's notifications reach this channel.`,
    facts: [
      { label: "Target", value: e.target },
      { label: "Sent at", value: formatUtc(e.at) },
    ],
    nextStep: "Nothing to do: this target works.",
    // Never deduplicated: every test is sent.
    dedupKey: `test:${e.target}:${e.at.toISOString()}`,
  });
}

/** Credential, provider, consumers, contact, deadline and state: who is affected and who to tell. */
function credentialFacts(c: ChatCredential, now: Date): ChatFact[] {
  const facts: ChatFact[] = [{ label: "Credential", value: c.path }];
  if (c.provider !== undefined) facts.push({ label: "Provider", value: c.provider });
  facts.push({
    label: "Consumers",
    value: listText(c.consumers) ?? "none recorded (set the consumers metadata key)",
  });
  const contact = c.contact?.trim() ?? "";
  facts.push({ label: "Contact", value: contact === "" ? "none recorded (set rotation_contact)" : contact });
  if (c.deadline !== undefined) facts.push({ label: "Deadline", value: formatDeadline(c.deadline, now) });
  if (c.state !== undefined) facts.push({ label: "State", value: c.state });
  return facts;
}

/** Every piece one safe line within CHAT_LIMITS. */
function finish(m: ChatMessage): ChatMessage {
  return {
    kind: m.kind,
    severity: m.severity,
    title: oneLine(m.title, CHAT_LIMITS.title),
    summary: oneLine(m.summary, CHAT_LIMITS.summary),
    facts: m.facts.slice(0, CHAT_LIMITS.facts).map((f) => ({
      label: oneLine(f.label, CHAT_LIMITS.factLabel),
      value: oneLine(f.value, CHAT_LIMITS.factValue),
    })),
    nextStep: m.nextStep === undefined ? undefined : oneLine(m.nextStep, CHAT_LIMITS.nextStep),
    dedupKey: m.dedupKey,
  };
}
