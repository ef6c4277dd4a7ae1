import { createHash } from "node:crypto";
import { mkdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import type { InventoryItem } from "../../src/core/inventory/inventory-item.ts";
import { SecretValue } from "../../src/core/secret-value.ts";
import { CONTENT_SECURITY_POLICY, startHttpServer } from "../../src/http/http-server.ts";
import { renderStatusPage, type StatusPageInput } from "../../src/http/status-page.ts";
import { launchChromium } from "../support/chromium.ts";
import { FakeDaemonView, inventoryItem, rotationView } from "../support/fake-daemon-view.ts";

const NOW = new Date("2026-05-01T12:00:00Z");
const DAY = 86_400_000;
const at = (days: number) => new Date(NOW.getTime() + days * DAY);
const ARTIFACTS = fileURLToPath(new URL("../../test-artifacts/", import.meta.url));

/** The browser globals the page functions below use (the project's tsconfig has no DOM lib). */
interface BrowserWindow {
  readonly document: {
    readonly documentElement: { readonly scrollWidth: number };
    querySelector(selector: string): unknown;
  };
  getComputedStyle(element: unknown): { readonly display: string; readonly backgroundColor: string };
}

function page(overrides: Partial<StatusPageInput> = {}): string {
  return renderStatusPage({
    snapshot: { scannedAt: new Date(NOW.getTime() - 12_000), items: seeded() },
    rotations: [],
    now: NOW,
    refreshSeconds: 30,
    version: "1.2.3",
    kvMount: "secret",
    ...overrides,
  });
}

/** Mixed states, deliberately not in attention order. */
function seeded(): InventoryItem[] {
  return [
    inventoryItem("api-credentials/zeta/ok", "ok", { deadline: at(40), consumers: ["web", "batch"] }),
    inventoryItem("api-credentials/legacy/manual", "unmanaged"),
    inventoryItem("api-credentials/acme/soon", "due_soon", {
      deadline: at(3),
      contact: "team-a@example.com",
    }),
    inventoryItem("api-credentials/acme/late", "overdue", { deadline: at(-5), lastRotated: at(-95) }),
    inventoryItem("api-credentials/beta/stuck", "in_progress", { stuck: true, deadline: at(10) }),
    inventoryItem("api-credentials/beta/broken", "failed", {
      deadline: at(20),
      lastError: "ROTATION_VERIFY_FAILED: new pair did not log in",
    }),
    inventoryItem("api-credentials/acme/later", "overdue", { deadline: at(-1) }),
  ];
}

const EXPECTED_ORDER = [
  "api-credentials/beta/broken",
  "api-credentials/beta/stuck",
  "api-credentials/acme/late",
  "api-credentials/acme/later",
  "api-credentials/acme/soon",
  "api-credentials/zeta/ok",
  "api-credentials/legacy/manual",
];

function rowPaths(html: string): string[] {
  const table = html.slice(html.indexOf('<table id="credentials">'));
  return [...table.matchAll(/<td data-label="Path" class="path">(.*?)<\/td>/g)]
    .map((m) => (m[1] ?? "").replaceAll("<wbr>", ""))
    .slice(0, EXPECTED_ORDER.length);
}

describe("renderStatusPage", () => {
  it("lists failures first, then by deadline, then by path", () => {
    expect(rowPaths(page())).toEqual(EXPECTED_ORDER);
  });

  it("orders every attention group as documented, deadlines ascending within a group", () => {
    const states = [
      "unmanaged",
      "ok",
      "awaiting_promotion",
      "in_progress",
      "flagged",
      "due_soon",
      "unverified",
      "overdue",
      "invalid",
      "failed",
    ] as const;
    const items = states.map((s) => inventoryItem(`p/${s}`, s));
    items.push(inventoryItem("p/stuck", "awaiting_promotion", { stuck: true }));
    items.push(inventoryItem("p/failed-early", "failed", { deadline: at(1) }));
    const html = page({ snapshot: { scannedAt: NOW, items } });
    const groups = [...html.matchAll(/<tr class="row-\w+" data-state="(\w+)">/g)].map((m) => m[1]);
    expect(groups).toEqual([
      "failed",
      "failed",
      "invalid",
      "stuck",
      "overdue",
      "unverified",
      "due_soon",
      "flagged",
      "in_progress",
      "awaiting_promotion",
      "ok",
      "unmanaged",
    ]);
    expect(html.indexOf("p/<wbr>failed-early</td>")).toBeGreaterThan(0);
    expect(html.indexOf("p/<wbr>failed-early</td>")).toBeLessThan(html.indexOf("p/<wbr>failed</td>"));
  });

  it("shows each credential's provider, and nothing for an unmanaged one", () => {
    const html = page({
      snapshot: {
        scannedAt: NOW,
        items: [
          inventoryItem("api-credentials/hooks/billing", "ok", { provider: "generated" }),
          inventoryItem("api-credentials/erp/password", "due_soon", { provider: "manual" }),
          inventoryItem("notes/free-text", "unmanaged"),
        ],
      },
    });
    expect(html).toContain("<th>Provider</th>");
    expect(html).toContain('data-label="Provider">generated</td>');
    expect(html).toContain('data-label="Provider">manual</td>');
    expect(html).toContain('data-label="Provider"></td>');
  });

  it("escapes markup in paths, contacts, consumers, reasons and rotation fields", () => {
    const evil = '<script>alert("x")</script>';
    const html = page({
      snapshot: {
        scannedAt: NOW,
        items: [
          inventoryItem(`api-credentials/${evil}`, "failed", {
            contact: evil,
            consumers: [evil],
            reason: evil,
            lastError: evil,
          }),
        ],
      },
      rotations: [
        rotationView({ rotationId: "r1", path: evil, actor: evil, message: evil, status: "failed" }),
      ],
    });
    expect(html).not.toContain("<script");
    expect(html).toContain("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;");
  });

  it("replaces control and bidi characters in values", () => {
    const html = page({
      snapshot: {
        scannedAt: NOW,
        items: [inventoryItem("a/\u202eevil\u001b[31m", "ok", { contact: "x\u0000y" })],
      },
    });
    for (const ch of ["\u202e", "\u001b", "\u0000"]) expect(html).not.toContain(ch);
  });

  it("says it is waiting for the first scan before there is one", () => {
    const html = page({ snapshot: undefined });
    expect(html).toContain("Waiting for the first scan");
    expect(html).not.toContain('<table id="credentials">');
    expect(html).toContain("No rotations yet.");
  });

  it("shows deadlines as ISO plus a relative time, and totals by state", () => {
    const html = page();
    expect(html).toContain(
      '<time datetime="2026-05-04T12:00:00.000Z">2026-05-04T12:00Z</time><span class="rel">in 3d</span>',
    );
    expect(html).toContain('<span class="rel">5d overdue</span>');
    expect(html).toMatch(/<span class="state tone-red">overdue<\/span> 2<\/li>/);
    expect(html).toContain("7 credentials, 5 need attention");
  });

  it("refreshes itself, fits a phone, and carries exactly the stylesheet the CSP allows", () => {
    const html = page({ refreshSeconds: 45 });
    expect(html).toContain('<meta http-equiv="refresh" content="45">');
    expect(html).toContain('<meta name="viewport" content="width=device-width, initial-scale=1">');
    const css = /<style>([\s\S]*?)<\/style>/.exec(html)?.[1] ?? "";
    const hash = createHash("sha256").update(css, "utf8").digest("base64");
    expect(CONTENT_SECURITY_POLICY).toContain(`'sha256-${hash}'`);
    expect(html).not.toMatch(/<script|style="|https?:\/\//);
  });

  it("lists recent rotations with status, actor and outcome", () => {
    const html = page({
      rotations: [
        rotationView({
          rotationId: "rot-2",
          status: "failed",
          trigger: "http",
          actor: "http:ci",
          errorCode: "ROTATION_VERIFY_FAILED",
          message: "new pair did not log in",
          finishedAt: at(-0.01),
        }),
      ],
    });
    expect(html).toContain("http by http:ci");
    expect(html).toContain("ROTATION_VERIFY_FAILED: new pair did not log in");
    expect(html).toContain("<code>rot-2</code>");
  });
});

describe("status page in Chromium", () => {
  it("renders the seeded credentials in attention order, without console errors, on desktop and phone", async () => {
    const view = new FakeDaemonView();
    const xss = "api-credentials/<img src=x onerror=alert(1)>";
    view.setItems(
      [...seeded(), inventoryItem(xss, "ok", { deadline: at(90) })],
      new Date(NOW.getTime() - 40_000),
    );
    view.rotations = [
      rotationView({ rotationId: "3f6c2a9e-1b7d-4c1e-9a55-0c9d7e2b4a11", status: "running", step: "staged" }),
      rotationView({
        rotationId: "8b1e4d20-5f3a-4e8b-b2c7-6a9f1d3e5c77",
        path: "api-credentials/beta/broken",
        status: "failed",
        errorCode: "ROTATION_VERIFY_FAILED",
        message: "new pair did not log in within 2m",
        finishedAt: at(-0.1),
      }),
    ];
    const server = await startHttpServer(
      {
        view,
        apiTokens: async () => [{ name: "ci", token: SecretValue.of("test-secret-canary-ui") }],
        version: "1.2.3",
        kvMount: "secret",
        now: () => NOW,
      },
      { host: "127.0.0.1", port: 0 },
    );
    const browser = await launchChromium();
    try {
      mkdirSync(ARTIFACTS, { recursive: true });
      const problems: string[] = [];
      const watch = (p: import("playwright-core").Page) => {
        p.on("console", (m) => {
          if (m.type() === "error" || m.type() === "warning") problems.push(`${m.type()}: ${m.text()}`);
        });
        p.on("pageerror", (e) => problems.push(`pageerror: ${e.message}`));
        p.on("dialog", (d) => problems.push(`dialog: ${d.message()}`));
      };

      const desktop = await browser.newPage({ viewport: { width: 1280, height: 800 } });
      watch(desktop);
      const response = await desktop.goto(server.url);
      expect(response?.status()).toBe(200);
      const paths = await desktop.$$eval("#credentials tbody tr td.path", (tds) =>
        tds.map((td) => td.textContent),
      );
      expect(paths).toEqual([...EXPECTED_ORDER.slice(0, 6), xss, EXPECTED_ORDER[6]]);
      expect(await desktop.$$("img")).toHaveLength(0);
      const badge = await desktop.$eval("#credentials tbody tr .state", (el) => [
        el.textContent,
        (globalThis as unknown as BrowserWindow).getComputedStyle(el).backgroundColor,
      ]);
      expect(badge).toEqual(["failed", "rgb(255, 235, 233)"]);
      expect(await desktop.$$eval("#rotations tbody tr", (rows) => rows.length)).toBe(2);
      await desktop.screenshot({ path: `${ARTIFACTS}status-page-desktop.png`, fullPage: true });

      const phone = await browser.newPage({
        viewport: { width: 375, height: 740 },
        deviceScaleFactor: 2,
        isMobile: true,
      });
      watch(phone);
      await phone.goto(server.url);
      const layout = await phone.evaluate(() => {
        const win = globalThis as unknown as BrowserWindow;
        return {
          scrollWidth: win.document.documentElement.scrollWidth,
          cellDisplay: win.getComputedStyle(win.document.querySelector("#credentials td")).display,
        };
      });
      expect(layout.scrollWidth).toBeLessThanOrEqual(375);
      expect(layout.cellDisplay).toBe("block");
      await phone.screenshot({ path: `${ARTIFACTS}status-page-phone.png`, fullPage: true });

      expect(problems).toEqual([]);
    } finally {
      await browser.close();
      await server.close();
    }
  }, 20_000);
});
