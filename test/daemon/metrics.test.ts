import { describe, expect, it } from "vitest";
import type { InventoryItem } from "../../src/core/inventory/inventory-item.ts";
import type { RotationOutcome } from "../../src/core/rotation/rotation-outcome.ts";
import { createDaemonMetrics } from "../../src/daemon/metrics.ts";
import { requireTool, runTool } from "../support/system-tools.ts";

const at = new Date("2026-11-23T09:00:00Z");

function item(path: string, state: InventoryItem["state"], secondsToDeadline?: number): InventoryItem {
  return {
    path,
    state,
    provider: state === "unmanaged" ? undefined : "salesforce-eca",
    consumers: [],
    stuck: false,
    secondsToDeadline,
  };
}

function completed(): RotationOutcome {
  return {
    kind: "completed",
    path: "api-credentials/a",
    rotationId: "r1",
    mode: "standard",
    sinkFailures: 0,
    kvVersion: 3,
    keyFingerprint: "fp",
    durationMs: 4_200,
    outageMs: undefined,
  };
}

describe("daemon metrics", () => {
  it("passes promtool check metrics after a scan, rotations, failures and odd paths", async () => {
    const promtool = requireTool("promtool", "prometheus");
    const m = createDaemonMetrics({ version: "0.1.0", connections: ["prod"] });
    m.recordScan(
      [
        item("api-credentials/ok", "ok", 86_400 * 30),
        item("api-credentials/late", "overdue", -3_600),
        item('api-credentials/we"ird\\path\nx', "due_soon", 600),
        item("other/unmanaged", "unmanaged"),
      ],
      at,
      1_250,
    );
    m.recordOutcome(completed(), "salesforce-eca");
    m.recordStep("rotation.staged", 0.42);
    m.recordAuditFailure("syslog");
    m.recordAuditEvent("file");
    m.recordAuditEvent("file");
    m.recordNotification("slack", false);
    m.recordApiUsage("prod", 250, 15_000);
    m.recordReportSent();
    m.recordUnauthorized("read", "wrong");
    const { body, contentType } = await m.text();
    expect(contentType).toMatch(/^text\/plain/);
    const check = await runTool(promtool, ["check", "metrics"], body);
    expect(check.stderr + check.stdout).toBe("");
    expect(check.code).toBe(0);

    expect(body).toContain('eca_rotator_credentials{state="overdue",provider="salesforce-eca"} 1');
    expect(body).toContain('eca_rotator_credentials{state="failed",provider="salesforce-eca"} 0');
    expect(body).toContain('eca_rotator_credentials{state="unmanaged",provider="none"} 1');
    // Every provider's series exist before its first rotation, so alerts and dashboards see them.
    expect(body).toContain('eca_rotator_rotations_total{outcome="failed",provider="sfmc"} 0');
    expect(body).toContain('eca_rotator_credentials{state="overdue",provider="generated"} 0');
    expect(body).toContain(
      'eca_rotator_credential_deadline_seconds{path="api-credentials/late",provider="salesforce-eca"} -3600',
    );
    expect(body).not.toContain('path="other/unmanaged"');
    expect(body).toContain(`eca_rotator_last_successful_scan_timestamp_seconds ${at.getTime() / 1000}`);
    expect(body).toContain('eca_rotator_rotations_total{outcome="completed",provider="salesforce-eca"} 1');
    expect(body).toContain('eca_rotator_audit_failures_total{sink="syslog"} 1');
    expect(body).toContain('eca_rotator_audit_events_total{sink="file"} 2');
    expect(body).toContain('eca_rotator_audit_events_total{sink="http"} 0');
    expect(body).toContain('eca_rotator_notifications_total{target="slack",result="failed"} 1');
    expect(body).toContain('eca_rotator_salesforce_api_usage_ratio{connection="prod"} 0.016666666666666666');
    expect(body).toContain('eca_rotator_http_unauthorized_total{access="read",reason="wrong"} 1');
    // The other closed-set series exist from the start.
    expect(body).toContain('eca_rotator_http_unauthorized_total{access="write",reason="missing"} 0');
  });

  it("counts credentials by their readers: none, all on the current version, some lagging", async () => {
    const m = createDaemonMetrics({ version: "0.1.0", connections: [] });
    const readers = (total: number, onCurrent: number) => ({
      total,
      onCurrent,
      listed: [],
      unseenConsumers: [],
    });
    m.recordScan(
      [
        { ...item("a", "ok"), readers: readers(0, 0) },
        { ...item("b", "ok"), readers: readers(3, 3) },
        { ...item("c", "ok"), readers: readers(4, 3) },
        { ...item("d", "ok"), readers: readers(2, 0) },
        item("e", "ok"),
      ],
      at,
      10,
    );
    const { body } = await m.text();
    expect(body).toContain('eca_rotator_credentials_by_readers{state="none"} 1');
    expect(body).toContain('eca_rotator_credentials_by_readers{state="all_current"} 1');
    expect(body).toContain('eca_rotator_credentials_by_readers{state="some_lagging"} 2');
  });

  it("maps label values outside the closed sets to other and ignores unknown connections", async () => {
    const m = createDaemonMetrics({ version: "0.1.0", connections: ["prod"] });
    m.recordAuditFailure("test-secret-canary-sink");
    m.recordNotification("https://hooks.example/test-secret-canary", true);
    m.recordApiUsage("test-secret-canary-conn", 1, 2);
    m.recordUnauthorized("test-secret-canary-access", "test-secret-canary-reason");
    const { body } = await m.text();
    expect(body).not.toContain("canary");
    expect(body).toContain('eca_rotator_audit_failures_total{sink="other"} 1');
    expect(body).toContain('eca_rotator_notifications_total{target="other",result="sent"} 1');
    expect(body).toContain('eca_rotator_http_unauthorized_total{access="other",reason="other"} 1');
  });

  it("drops a credential's deadline series when a later scan no longer lists it", async () => {
    const m = createDaemonMetrics({ version: "0.1.0", connections: [] });
    m.recordScan([item("api-credentials/gone", "ok", 100)], at, 10);
    expect((await m.text()).body).toContain('path="api-credentials/gone"');
    m.recordScan([], at, 10);
    expect((await m.text()).body).not.toContain('path="api-credentials/gone"');
  });
});
