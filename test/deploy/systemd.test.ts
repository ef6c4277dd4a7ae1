// deploy/systemd: the unit's keys that matter (how it starts, stops and restarts, its hardening, its
// credentials) and the example config beside it, which loads with the real loader and reads every secret from
// the unit's credentials directory.
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/load-config.ts";
import { transportWarnings } from "../../src/config/summarize-config.ts";
import { repoFile, systemdSeconds, systemdUnit } from "./deploy-files.ts";

const unit = systemdUnit(repoFile("deploy/systemd/eca-rotator.service"));
const service = unit.get("Service") ?? new Map<string, string[]>();
const value = (key: string) => {
  const v = service.get(key);
  expect(v, key).toHaveLength(1);
  return v?.[0] ?? "";
};
const CONFIG = "/etc/eca-rotator/config.yaml";
const config = loadConfig({
  file: CONFIG,
  env: {},
  readFile: (p) => (p === CONFIG ? repoFile("deploy/systemd/config.yaml") : ""),
});
const CREDENTIALS = "/run/credentials/eca-rotator.service/";

describe("the systemd unit", () => {
  it("has the three sections and starts `serve` with the built CLI and the config file", () => {
    expect([...unit.keys()]).toEqual(["Unit", "Service", "Install"]);
    expect(value("Type")).toBe("simple");
    expect(value("User")).toBe("eca-rotator");
    expect(value("ExecStart").split(/\s+/)).toEqual([
      "/usr/bin/node",
      "--no-opt",
      "--no-maglev",
      "--no-sparkplug",
      "--max-semi-space-size=1",
      "/opt/eca-rotator/dist/cli.js",
      "serve",
      "--config",
      CONFIG,
    ]);
    expect(unit.get("Install")?.get("WantedBy")).toEqual(["multi-user.target"]);
    expect(unit.get("Unit")?.get("After")).toEqual(["network-online.target"]);
  });

  it("stops with SIGTERM and waits longer than server.shutdown_timeout; restarts on failure but not on a config error", () => {
    expect(value("KillSignal")).toBe("SIGTERM");
    expect(systemdSeconds(value("TimeoutStopSec")) * 1000).toBeGreaterThan(config.server.shutdownTimeoutMs);
    expect(value("Restart")).toBe("on-failure");
    expect(value("RestartPreventExitStatus")).toBe("2");
  });

  it("talks https to Vault and Salesforce, with no plain-http opt-out and TLS verified", () => {
    expect(config.vault.address.startsWith("https://")).toBe(true);
    expect(config.salesforce.connections.every((c) => c.myDomainUrl.startsWith("https://"))).toBe(true);
    expect(config.vault.allowInsecureHttp).toBe(false);
    expect(config.notifications.targets.some((t) => t.allowInsecureHttp)).toBe(false);
    expect(transportWarnings(config)).toEqual([]);
  });

  it("is hardened, and may write only its state directory, where the config keeps the audit file", () => {
    for (const [key, v] of Object.entries({
      NoNewPrivileges: "yes",
      ProtectSystem: "strict",
      ProtectHome: "yes",
      PrivateTmp: "yes",
      CapabilityBoundingSet: "",
      ReadWritePaths: "/var/lib/eca-rotator",
      StateDirectory: "eca-rotator",
    })) {
      expect(value(key), key).toBe(v);
    }
    // V8's JIT writes executable memory: this setting would crash node.
    expect(service.has("MemoryDenyWriteExecute")).toBe(false);
    expect(config.audit.file?.startsWith("/var/lib/eca-rotator/")).toBe(true);
  });

  it("loads every secret the config names as a credential of the unit", () => {
    const loaded = new Map(
      (service.get("LoadCredential") ?? []).map((l) => {
        const [name = "", source = ""] = l.split(":");
        return [name, source];
      }),
    );
    expect(config.vault.auth.method).toBe("approle");
    const files: string[] = [];
    if (config.vault.auth.method === "approle") {
      files.push(config.vault.auth.roleIdFile ?? "", config.vault.auth.secretIdFile);
    }
    for (const t of config.server.apiTokens) if (t.ref.kind === "file") files.push(t.ref.path);
    for (const t of config.notifications.targets) if (t.url.kind === "file") files.push(t.url.path);
    expect(files.length).toBe(config.server.apiTokens.length + config.notifications.targets.length + 2);
    for (const f of files) {
      expect(f.startsWith(CREDENTIALS), f).toBe(true);
      expect(loaded.get(f.slice(CREDENTIALS.length)), f).toMatch(/^\/etc\/eca-rotator\/credentials\//);
    }
    expect(loaded.size).toBe(files.length);
  });
});
