// buildChatMessage for every event kind: who is affected, who to tell, what to do next; bounded, one-line,
// control-free text whatever the metadata holds; and dedup keys that are stable per event and credential.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CHAT_EVENT_KINDS, type ChatEvent, type ChatEventKind } from "../../../src/core/notify/chat-event.ts";
import { buildChatMessage, CHAT_LIMITS, type ChatMessage } from "../../../src/core/notify/chat-message.ts";

const at = new Date("2026-03-02T09:00:00.000Z");
const deadline = new Date("2026-03-10T12:00:00.000Z");
const credential = {
  path: "api-credentials/team-a/crm",
  provider: "salesforce-eca",
  consumers: ["billing-api", "crm-sync"],
  contact: "#team-a-oncall",
};

function eventOf(kind: ChatEventKind, over: Partial<Record<string, unknown>> = {}): ChatEvent {
  switch (kind) {
    case "rotation.completed":
    case "rotation.failed":
    case "rotation.retrying":
    case "rotation.emergency":
    case "rotation.rolled_back":
    case "rotation.action_needed":
      return {
        kind,
        credential,
        rotationId: "rot-123",
        mode: kind === "rotation.emergency" ? "emergency" : "standard",
        text: `Rotation of ${credential.path} did something.`,
        at,
        ...over,
      } as ChatEvent;
    case "credential.due_soon":
    case "credential.overdue":
      return { kind, credential, deadline, at, ...over } as ChatEvent;
    case "report.weekly":
      return {
        kind,
        at,
        period: "2026-W10",
        totals: { all: 12, managed: 10, needingAttention: 3, overdue: 1, dueSoon: 1, failed: 1 },
        topItems: [
          { path: "api-credentials/team-a/crm", state: "overdue", deadline },
          { path: "api-credentials/team-b/erp", state: "failed" },
        ],
        ...over,
      } as ChatEvent;
    case "test":
      return { kind, at, target: "ops-slack", ...over } as ChatEvent;
  }
}

/** Every text a person sees in the message. */
function allText(m: ChatMessage): string {
  return [m.title, m.summary, m.nextStep ?? "", ...m.facts.flatMap((f) => [f.label, f.value])].join("\n");
}

function expectBounded(m: ChatMessage): void {
  expect(Array.from(m.title).length).toBeLessThanOrEqual(CHAT_LIMITS.title);
  expect(Array.from(m.summary).length).toBeLessThanOrEqual(CHAT_LIMITS.summary);
  expect(Array.from(m.nextStep ?? "").length).toBeLessThanOrEqual(CHAT_LIMITS.nextStep);
  expect(m.facts.length).toBeLessThanOrEqual(CHAT_LIMITS.facts);
  for (const f of m.facts) {
    expect(Array.from(f.label).length).toBeLessThanOrEqual(CHAT_LIMITS.factLabel);
    expect(Array.from(f.value).length).toBeLessThanOrEqual(CHAT_LIMITS.factValue);
  }
  // One line each, no control, zero-width or bidi characters.
  expect(allText(m).split("\n").join("")).not.toMatch(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u);
}

describe("buildChatMessage", () => {
  it.each(CHAT_EVENT_KINDS)("gives %s a title, a summary and a next step", (kind) => {
    const m = buildChatMessage(eventOf(kind));
    expect(m.kind).toBe(kind);
    expect(m.title).not.toBe("");
    expect(m.summary).not.toBe("");
    expect(m.nextStep ?? "").not.toBe("");
    expectBounded(m);
  });

  it.each([
    "rotation.completed",
    "rotation.failed",
    "rotation.retrying",
    "rotation.emergency",
    "rotation.rolled_back",
    "rotation.action_needed",
    "credential.due_soon",
    "credential.overdue",
  ] as const)("names the credential, its consumers and its contact in %s", (kind) => {
    const m = buildChatMessage(eventOf(kind));
    expect(m.title).toContain(credential.path);
    const fact = (label: string) => m.facts.find((f) => f.label === label)?.value;
    expect(fact("Credential")).toBe(credential.path);
    expect(fact("Consumers")).toBe("billing-api, crm-sync");
    expect(fact("Contact")).toBe("#team-a-oncall");
  });

  it.each([
    ["rotation.failed", "critical", "`eca-rotator rotate api-credentials/team-a/crm`"],
    ["rotation.failed", "critical", "`eca-rotator rollback api-credentials/team-a/crm`"],
    ["rotation.failed", "critical", "last_rotation_error"],
    ["rotation.emergency", "critical", "The old pair is dead: restart billing-api, crm-sync now"],
    ["rotation.retrying", "warning", "the rotator tries again by itself"],
    [
      "credential.overdue",
      "critical",
      "Rotate now: vault kv metadata patch -custom-metadata=rotate=now secret/api-credentials/team-a/crm",
    ],
    ["credential.due_soon", "warning", "-custom-metadata=rotate=now secret/api-credentials/team-a/crm"],
    ["rotation.rolled_back", "warning", "-custom-metadata=rotate=now secret/api-credentials/team-a/crm"],
    ["rotation.completed", "info", "billing-api, crm-sync"],
    ["rotation.action_needed", "warning", "-custom-metadata=rotate=now secret/api-credentials/team-a/crm"],
    ["report.weekly", "critical", "eca-rotator report"],
    ["test", "info", "this target works"],
  ] as const)("gives %s severity %s and a next step containing %j", (kind, severity, text) => {
    const m = buildChatMessage(eventOf(kind));
    expect(m.severity).toBe(severity);
    expect(m.nextStep).toContain(text);
  });

  it("makes a retrying emergency critical: a leaked pair lives, or consumers wait, while it backs off", () => {
    const m = buildChatMessage(eventOf("rotation.retrying", { mode: "emergency" }));
    expect(m.severity).toBe("critical");
    expect(m.title).toBe("Rotation retrying: api-credentials/team-a/crm");
  });

  it("uses the configured mount in commands", () => {
    const m = buildChatMessage(eventOf("credential.overdue"), { mount: "kv-prod" });
    expect(m.nextStep).toContain("kv-prod/api-credentials/team-a/crm");
  });

  it("tells a person to rotate by hand at a provider the rotator cannot rotate", () => {
    const m = buildChatMessage(
      eventOf("credential.overdue", { credential: { ...credential, provider: "stripe" } }),
    );
    expect(m.nextStep).toContain("Rotate it at the provider (stripe)");
    expect(m.nextStep).not.toContain("rotate=now");
  });

  it("tells the owner of a generated credential that the rotator rotates it, or rotates it now on rotate=now", () => {
    const generated = { ...credential, provider: "generated" };
    const soon = buildChatMessage(eventOf("credential.due_soon", { credential: generated }));
    expect(soon.nextStep).toContain("The rotator rotates it in its rotate_window");
    expect(soon.nextStep).toContain("rotate=now secret/api-credentials/team-a/crm");
    const overdue = buildChatMessage(eventOf("credential.overdue", { credential: generated }));
    expect(overdue.nextStep).toBe(
      "Rotate now: vault kv metadata patch -custom-metadata=rotate=now secret/api-credentials/team-a/crm",
    );
  });

  it("tells the owner of an sfmc credential to stage a secret in Setup and paste it, which the scan picks up", () => {
    const sfmc = { ...credential, provider: "sfmc" };
    const soon = buildChatMessage(eventOf("credential.due_soon", { credential: sfmc }));
    expect(soon.nextStep).toContain(
      "Stage a new secret in Setup → Installed Packages before 2026-03-10 12:00 UTC, wait 5 minutes",
    );
    expect(soon.nextStep).toContain("vault kv patch secret/api-credentials/team-a/crm pending_api_key=-");
    expect(soon.nextStep).toContain("The rotator verifies and publishes it at its next scan");
    expect(soon.nextStep).toContain(
      "-custom-metadata=rotate=now secret/api-credentials/team-a/crm starts at once",
    );
    expect(soon.nextStep).not.toContain("rotate_window");
    const overdue = buildChatMessage(eventOf("credential.overdue", { credential: sfmc }));
    expect(overdue.nextStep).toContain("Stage a new secret in Setup → Installed Packages now");
  });

  it("tells an sfmc owner whose rotation failed to paste a new staged secret, never to roll back", () => {
    const m = buildChatMessage(
      eventOf("rotation.failed", { credential: { ...credential, provider: "sfmc" } }),
    );
    expect(m.nextStep).toContain(
      "stage a new one in Setup, wait 5 minutes and paste it into pending_api_key",
    );
    expect(m.nextStep).toContain(
      "resume: vault kv metadata patch -custom-metadata=rotate=now secret/api-credentials/team-a/crm",
    );
    expect(m.nextStep).not.toContain("rollback");
  });

  describe("rotation.action_needed", () => {
    const action = (provider: string | undefined, text = "The rotation waits for you.") =>
      buildChatMessage(eventOf("rotation.action_needed", { credential: { ...credential, provider }, text }), {
        mount: "kv-prod",
      });

    it("is a warning titled Action needed, keyed by kind, path and rotation apart from the completion", () => {
      const m = action("sfmc");
      expect(m.severity).toBe("warning");
      expect(m.title).toBe("Action needed: api-credentials/team-a/crm");
      expect(m.summary).toBe("The rotation waits for you.");
      expect(m.dedupKey).toBe("rotation.action_needed:api-credentials/team-a/crm:rot-123");
      const completed = buildChatMessage(eventOf("rotation.completed"));
      expect(completed.dedupKey).not.toBe(m.dedupKey);
      expectBounded(m);
    });

    it("asks an sfmc owner to activate the staged secret in Setup, then to set rotate=now", () => {
      expect(action("sfmc").nextStep).toBe(
        "Activate the staged secret (now api_key in kv-prod/api-credentials/team-a/crm) in Setup → Installed " +
          "Packages, then run: vault kv metadata patch -custom-metadata=rotate=now kv-prod/api-credentials/team-a/crm " +
          "(the rotator then proves the old secret is refused and clears previous_key).",
      );
    });

    it("asks a generated owner to switch the sender to current_secret, then to end the overlap", () => {
      expect(action("generated").nextStep).toBe(
        "Update the sender to sign with current_secret from kv-prod/api-credentials/team-a/crm (receivers " +
          "accept current_secret and previous_secret meanwhile), then end the overlap: vault kv metadata patch " +
          "-custom-metadata=rotate=now kv-prod/api-credentials/team-a/crm",
      );
    });

    it.each([["salesforce-eca"], [undefined]])(
      "points any other provider (%s) to the summary, then to rotate=now",
      (provider) => {
        expect(action(provider).nextStep).toBe(
          "Do what the summary asks, then tell the rotator it is done: vault kv metadata patch " +
            "-custom-metadata=rotate=now kv-prod/api-credentials/team-a/crm",
        );
      },
    );
  });

  it("tells the owner of a manual credential to rotate by hand and write the new value, which the rotator records", () => {
    const manual = { ...credential, provider: "manual" };
    const overdue = buildChatMessage(eventOf("credential.overdue", { credential: manual }));
    expect(overdue.nextStep).toContain("rotate it by hand at the provider now");
    expect(overdue.nextStep).toContain("vault kv patch secret/api-credentials/team-a/crm FIELD=NEW_VALUE");
    expect(overdue.nextStep).toContain("The rotator records the new KV version at its next scan");
    expect(overdue.nextStep).toContain("do not set last_rotated yourself");
    expect(overdue.nextStep).not.toContain("rotate=now");
    const soon = buildChatMessage(eventOf("credential.due_soon", { credential: manual }));
    expect(soon.nextStep).toContain("rotate it by hand at the provider before 2026-03-10 12:00 UTC");
  });

  it("gives each overdue reminder its own key and says it is a reminder", () => {
    const first = buildChatMessage(eventOf("credential.overdue"));
    const zero = buildChatMessage(eventOf("credential.overdue", { reminder: 0 }));
    const one = buildChatMessage(eventOf("credential.overdue", { reminder: 1 }));
    const two = buildChatMessage(eventOf("credential.overdue", { reminder: 2 }));
    expect(zero.dedupKey).toBe(first.dedupKey);
    expect(one.dedupKey).toBe(`${first.dedupKey}:1`);
    expect(new Set([first.dedupKey, one.dedupKey, two.dedupKey]).size).toBe(3);
    expect(first.summary).not.toContain("reminder");
    expect(two.summary).toContain("(reminder 2: repeated while it stays overdue)");
  });

  it("says when consumers and contact are not recorded instead of leaving them out", () => {
    const m = buildChatMessage(eventOf("rotation.failed", { credential: { path: "p/q", consumers: [] } }));
    expect(m.facts.find((f) => f.label === "Consumers")?.value).toContain("none recorded");
    expect(m.facts.find((f) => f.label === "Contact")?.value).toContain("rotation_contact");
  });

  it("shows the deadline of a due-soon credential with how far away it is", () => {
    const m = buildChatMessage(eventOf("credential.due_soon"));
    expect(m.summary).toBe("api-credentials/team-a/crm must be rotated by 2026-03-10 12:00 UTC (in 8d 3h).");
    expect(m.facts.find((f) => f.label === "Deadline")?.value).toBe("2026-03-10 12:00 UTC (in 8d 3h)");
  });

  it("carries the engine's words, the rotation id and the error code of a failed rotation", () => {
    const m = buildChatMessage(
      eventOf("rotation.failed", {
        text: "failed at publish: VAULT_CAS_CONFLICT: x",
        errorCode: "VAULT_CAS_CONFLICT",
      }),
    );
    expect(m.summary).toBe("failed at publish: VAULT_CAS_CONFLICT: x");
    expect(m.facts).toContainEqual({ label: "Rotation", value: "rot-123" });
    expect(m.facts).toContainEqual({ label: "Error", value: "VAULT_CAS_CONFLICT" });
  });

  it("sums up the weekly report and lists its top items", () => {
    const m = buildChatMessage(eventOf("report.weekly"));
    expect(m.title).toBe("Weekly credential report 2026-W10");
    expect(m.summary).toBe("12 credentials (10 managed): 1 overdue, 1 due soon, 1 failed; 3 need attention.");
    expect(m.facts).toContainEqual({ label: "api-credentials/team-b/erp", value: "failed" });
  });

  it("calls a quiet week info and says nothing needs attention", () => {
    const m = buildChatMessage(
      eventOf("report.weekly", {
        totals: { all: 3, managed: 3, needingAttention: 0, overdue: 0, dueSoon: 0, failed: 0 },
        topItems: [],
      }),
    );
    expect(m.severity).toBe("info");
    expect(m.nextStep).toBe("Nothing needs attention this week.");
  });

  it.each([
    ["rotation.completed", {}, "rotation.completed:api-credentials/team-a/crm:rot-123"],
    ["rotation.action_needed", {}, "rotation.action_needed:api-credentials/team-a/crm:rot-123"],
    ["credential.overdue", {}, "credential.overdue:api-credentials/team-a/crm:2026-03-10T12:00:00.000Z"],
    ["credential.due_soon", {}, "credential.due_soon:api-credentials/team-a/crm:2026-03-10T12:00:00.000Z"],
    ["report.weekly", {}, "report.weekly:2026-W10"],
  ] as const)("keys %s for dedup as %s", (kind, over, key) => {
    expect(buildChatMessage(eventOf(kind, over)).dedupKey).toBe(key);
  });

  it("keys a deadline warning by deadline, not by when it was noticed", () => {
    const a = buildChatMessage(eventOf("credential.overdue", { at: new Date("2026-03-11T00:00:00Z") }));
    const b = buildChatMessage(eventOf("credential.overdue", { at: new Date("2026-03-12T00:00:00Z") }));
    const c = buildChatMessage(eventOf("credential.overdue", { deadline: new Date("2026-06-10T12:00:00Z") }));
    expect(a.dedupKey).toBe(b.dedupKey);
    expect(c.dedupKey).not.toBe(a.dedupKey);
  });

  it("gives every test message its own key", () => {
    const a = buildChatMessage(eventOf("test"));
    const b = buildChatMessage(eventOf("test", { at: new Date(at.getTime() + 1) }));
    const c = buildChatMessage(eventOf("test", { target: "ops-teams" }));
    expect(new Set([a.dedupKey, b.dedupKey, c.dedupKey]).size).toBe(3);
  });

  it("keeps every piece bounded and on one line for long and odd metadata", () => {
    const odd = fc.oneof(
      fc.string({ maxLength: 3000 }),
      fc.string({ unit: "grapheme", maxLength: 600 }),
      fc.constantFrom(
        "\u202Eevil\u202C",
        "a\nb\r\nc",
        "\u0000\u001b[31m",
        "<!channel> & <@U1>",
        "x".repeat(5000),
      ),
    );
    fc.assert(
      fc.property(
        fc.constantFrom(...CHAT_EVENT_KINDS),
        odd,
        fc.array(odd, { maxLength: 40 }),
        odd,
        odd,
        (kind, path, consumers, contact, text) => {
          const m = buildChatMessage(
            eventOf(kind, {
              credential: { path, consumers, contact, provider: contact, state: text },
              text,
              rotationId: text,
              period: path,
              target: contact,
              errorCode: text,
              topItems: consumers.map((c) => ({ path: c, state: text, deadline })),
            }),
          );
          expectBounded(m);
          expect(m.nextStep ?? "").not.toBe("");
        },
      ),
      { numRuns: 300 },
    );
  });
});
