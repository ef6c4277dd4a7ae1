import { describe, expect, it } from "vitest";
import { DAY_MS } from "../../src/core/time.ts";
import { load, problemsOf } from "./config-test-helpers.ts";

describe("daemon config sections", () => {
  it("defaults to no chat targets, no extra audit sinks, no API tokens and a 50%/90% API budget", () => {
    const cfg = load("");
    expect(cfg.notifications).toEqual({ targets: [], overdueRepeatMs: 7 * DAY_MS });
    expect(cfg.audit.syslog).toBeUndefined();
    expect(cfg.audit.http).toBeUndefined();
    expect(cfg.server).toEqual({
      listen: "127.0.0.1:8080",
      apiTokens: [],
      readTokens: [],
      allowedHosts: [],
      shutdownTimeoutMs: 30_000,
      statusRefreshMs: 30_000,
    });
    expect(cfg.rotation.apiBudget).toEqual({ slowAt: 0.5, stopAt: 0.9 });
  });

  it("reads chat targets with secret references and per-target events, keeping the config key of each secret", () => {
    const cfg = load(`
notifications:
  targets:
    ops-slack: { type: slack, url: { env: SLACK_URL }, events: [rotation.failed, rotation.action_needed, credential.overdue] }
    teams: { type: teams, url: { file: /run/secrets/teams-url } }
    siem: { type: webhook, url: { vault: "eca-rotator/webhooks/siem#url" }, secret: { file: /run/secrets/hmac } }
`);
    expect(cfg.notifications.targets).toEqual([
      {
        name: "ops-slack",
        type: "slack",
        url: { kind: "env", name: "SLACK_URL", key: "notifications.targets.ops-slack.url" },
        secret: undefined,
        events: ["rotation.failed", "rotation.action_needed", "credential.overdue"],
        allowInsecureHttp: false,
      },
      expect.objectContaining({
        name: "teams",
        url: { kind: "file", path: "/run/secrets/teams-url", key: "notifications.targets.teams.url" },
        // Without an events list a target gets every event, rotation.action_needed included.
        events: expect.arrayContaining(["report.weekly", "rotation.completed", "rotation.action_needed"]),
      }),
      expect.objectContaining({
        name: "siem",
        url: {
          kind: "vault",
          path: "eca-rotator/webhooks/siem",
          field: "url",
          key: "notifications.targets.siem.url",
        },
        secret: { kind: "file", path: "/run/secrets/hmac", key: "notifications.targets.siem.secret" },
      }),
    ]);
  });

  it("reads notifications.overdue_repeat as a duration, off as no repeats, and refuses less than an hour", () => {
    expect(load("notifications: { overdue_repeat: 3d }").notifications.overdueRepeatMs).toBe(3 * DAY_MS);
    expect(load("notifications: { overdue_repeat: off }").notifications.overdueRepeatMs).toBeUndefined();
    const problem =
      'notifications.overdue_repeat: must be a duration of at least 1h, such as 7d (or "off" for a single overdue message)';
    expect(problemsOf("notifications: { overdue_repeat: 10m }")).toEqual([problem]);
    expect(problemsOf("notifications: { overdue_repeat: weekly }")).toEqual([problem]);
    expect(problemsOf("notifications: { overdue_repeat: 5 }")).toEqual([problem]);
  });

  it("refuses an inline webhook URL without repeating it", () => {
    const url = "https://hooks.slack.com/services/T000/B000/test-secret-canary-url";
    const problems = problemsOf(`notifications: { targets: { a: { type: slack, url: "${url}" } } }`);
    expect(problems).toEqual([
      'notifications.targets.a.url: is a secret and is never written inline: use {file: PATH}, {env: NAME} or {vault: "KV_PATH#FIELD"}',
    ]);
    expect(problems.join("\n")).not.toContain("canary");
  });

  it("names each broken target key: missing HMAC secret, two sources, a bad event, a typo", () => {
    expect(
      problemsOf(`
notifications:
  targets:
    w: { type: webhook, url: { env: U } }
    s: { type: slack, url: { env: U, file: /x } }
    e: { type: teams, url: { env: U }, events: [rotation.exploded] }
    t: { type: slack, url: { env: U }, evnets: [] }
`),
    ).toEqual(
      expect.arrayContaining([
        "notifications.targets.w.secret: is required for type webhook (HMAC key)",
        "notifications.targets.s.url: set exactly one of file, env and vault",
        expect.stringMatching(/^notifications\.targets\.e\.events\[0\]: must be one of rotation\.completed/),
        "notifications.targets.t.evnets: unknown key (did you mean notifications.targets.t.events?)",
      ]),
    );
  });

  it("parses the syslog and HTTP audit sinks", () => {
    const cfg = load(`
audit:
  syslog: { address: "tcp://[::1]:6514", facility: 10 }
  http: { url: { env: AUDIT_URL }, batch_size: 10, flush_interval: 2s }
`);
    expect(cfg.audit.syslog).toEqual({
      transport: "tcp",
      host: "::1",
      port: 6514,
      appName: "eca-rotator",
      facility: 10,
    });
    expect(cfg.audit.http).toEqual({
      url: { kind: "env", name: "AUDIT_URL", key: "audit.http.url" },
      batchSize: 10,
      flushIntervalMs: 2000,
      allowInsecureHttp: false,
    });
    expect(problemsOf(`audit: { syslog: { address: "localhost:514" } }`)).toEqual([
      "audit.syslog.address: must be udp://HOST:PORT or tcp://HOST:PORT",
    ]);
  });

  it("reads named API tokens and refuses an inline one", () => {
    const cfg = load(
      `server: { api_tokens: { ci: { file: /run/secrets/api-token } }, shutdown_timeout: 10s }`,
    );
    expect(cfg.server.apiTokens).toEqual([
      { name: "ci", ref: { kind: "file", path: "/run/secrets/api-token", key: "server.api_tokens.ci" } },
    ]);
    expect(cfg.server.shutdownTimeoutMs).toBe(10_000);
    expect(problemsOf(`server: { api_tokens: { ci: test-secret-canary-token } }`)[0]).toMatch(
      /^server\.api_tokens\.ci: is a secret and is never written inline/,
    );
  });

  it("requires the API budget's stop point above its slow point", () => {
    expect(problemsOf(`rotation: { api_budget: { slow_at: 0.8, stop_at: 0.6 } }`)).toEqual([
      "rotation.api_budget.stop_at: must be greater than rotation.api_budget.slow_at",
    ]);
  });
});

describe("report.schedule", () => {
  it("defaults to Mondays 09:00 UTC and accepts off (no weekly report from the daemon)", () => {
    expect(load("").report.schedule).toBe("0 9 * * 1");
    expect(load("report: { schedule: 'off' }").report.schedule).toBeUndefined();
    expect(load("report: { schedule: '30 7 * * 1-5' }").report.schedule).toBe("30 7 * * 1-5");
  });
});
