// What chat is told about: the engine's rotation notices, deadline warnings from the scan, the weekly report and
// a test message. Events carry identifiers, states and the engine's public words only: never a secret value.

/** The kinds a chat target can subscribe to (notifications.targets[].events); `test` is sent on request only. */
export const SUBSCRIBABLE_CHAT_EVENTS = [
  "rotation.completed",
  "rotation.failed",
  "rotation.retrying",
  "rotation.emergency",
  "rotation.rolled_back",
  "rotation.action_needed",
  "credential.due_soon",
  "credential.overdue",
  "report.weekly",
] as const;

export const CHAT_EVENT_KINDS = [...SUBSCRIBABLE_CHAT_EVENTS, "test"] as const;
export type ChatEventKind = (typeof CHAT_EVENT_KINDS)[number];

/** The credential an event is about, as the last scan saw it (consumers and contact come from custom_metadata). */
export interface ChatCredential {
  /** KV path relative to the mount. */
  readonly path: string;
  readonly provider?: string | undefined;
  readonly consumers: readonly string[];
  readonly contact?: string | undefined;
  readonly deadline?: Date | undefined;
  readonly state?: string | undefined;
}

export interface RotationChatEvent {
  /** rotation.action_needed: the rotation waits for a person to act (assisted providers, confirm_by=flag). */
  readonly kind:
    | "rotation.completed"
    | "rotation.failed"
    | "rotation.retrying"
    | "rotation.emergency"
    | "rotation.rolled_back"
    | "rotation.action_needed";
  readonly credential: ChatCredential;
  readonly rotationId: string;
  readonly mode?: "standard" | "emergency" | undefined;
  /** The engine's public words about what happened. */
  readonly text: string;
  readonly errorCode?: string | undefined;
  /** Overrides the next step the message would suggest. */
  readonly nextStep?: string | undefined;
  readonly at: Date;
}

export interface DeadlineChatEvent {
  readonly kind: "credential.due_soon" | "credential.overdue";
  readonly credential: ChatCredential;
  readonly deadline: Date;
  readonly at: Date;
  /**
   * credential.overdue only: which repeat this is (1 = the first reminder one notifications.overdue_repeat after
   * the deadline). Absent or 0: the message at the deadline itself. Each repeat is its own message (dedup key).
   */
  readonly reminder?: number | undefined;
}

interface WeeklyReportTotals {
  readonly all: number;
  readonly managed: number;
  readonly needingAttention: number;
  readonly overdue: number;
  readonly dueSoon: number;
  readonly failed: number;
}

interface WeeklyReportItem {
  readonly path: string;
  readonly state: string;
  readonly deadline?: Date | undefined;
}

export interface WeeklyReportChatEvent {
  readonly kind: "report.weekly";
  readonly at: Date;
  readonly totals: WeeklyReportTotals;
  /** The items a person should look at first, most urgent first. */
  readonly topItems: readonly WeeklyReportItem[];
  /** The report period, e.g. "2026-W48": one message per period. */
  readonly period: string;
  /** Credentials per reader finding (the report lists them); undefined without a reader feed. */
  readonly readers?:
    | { readonly noReader: number; readonly lagging: number; readonly discovery: number }
    | undefined;
}

export interface TestChatEvent {
  readonly kind: "test";
  readonly at: Date;
  /** The name of the target the test goes to. */
  readonly target: string;
}

export type ChatEvent = RotationChatEvent | DeadlineChatEvent | WeeklyReportChatEvent | TestChatEvent;
