// A rotation from the CLI reaches the same audit trail as one from the daemon: the file and the HTTP sink.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifyAuditChain } from "../../src/adapters/audit/audit-chain.ts";
import {
  type SalesforceSimulator,
  startSalesforceSimulator,
} from "../../src/simulator/salesforce/salesforce-simulator.ts";
import { startWebhookReceiver, type WebhookReceiver } from "../support/webhook-receiver.ts";
import { E2eWorld } from "./e2e-kit.ts";

let sim: SalesforceSimulator;
let receiver: WebhookReceiver;
beforeAll(async () => {
  sim = await startSalesforceSimulator();
  receiver = await startWebhookReceiver();
});
afterAll(async () => {
  await receiver?.close();
  await sim?.close();
});

describe("eca-rotator rotate with several audit sinks", () => {
  it("delivers every event to the hash-chained file and the HTTP sink before it exits", async () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), "eca-cli-audit-")), "audit.jsonl");
    const w = await E2eWorld.create(sim, {
      auditFile: false,
      extraYaml: ["audit:", `  file: ${file}`, "  http: { url: { env: AUDIT_URL }, flush_interval: 5s }"],
    });
    const cred = await w.credential("cli-audited");
    const run = await w.cli(["rotate", cred.path], {
      AUDIT_URL: `${receiver.url}/audit/test-secret-canary-audit`,
    });
    expect(run.code, run.stderr).toBe(0);

    const { readFileSync } = await import("node:fs");
    const lines = readFileSync(file, "utf8").split("\n");
    expect(verifyAuditChain(lines)).toMatchObject({ ok: true });
    const fileTypes = lines.filter((l) => l !== "").map((l) => (JSON.parse(l) as { type: string }).type);
    // The batch interval is 5 s, yet the process flushed on exit: nothing was left in its queue.
    const posted = receiver.requests.flatMap(
      (r) => (r.body as { events: Array<{ type: string; path: string }> }).events,
    );
    expect(posted.filter((e) => e.path === cred.path).map((e) => e.type)).toEqual(fileTypes);
    expect(fileTypes.at(-1)).toBe("rotation.completed");
    expect(run.stdout + run.stderr).not.toContain("test-secret-canary-audit");
  }, 60_000);
});
