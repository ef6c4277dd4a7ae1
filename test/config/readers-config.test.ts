import { describe, expect, it } from "vitest";
import { summarizeConfig } from "../../src/config/summarize-config.ts";
import { DEFAULT_READERS_WINDOW_MS } from "../../src/core/readers/readers.ts";
import { load, problemsOf } from "./config-test-helpers.ts";

describe("readers (the reader feed)", () => {
  it("is off without the section, and takes its defaults with one", () => {
    expect(load("vault: {}\n").readers).toBeUndefined();
    expect(load("readers:\n  socket: 127.0.0.1:9201\n").readers).toEqual({
      socket: { kind: "tcp", host: "127.0.0.1", port: 9201 },
      file: undefined,
      windowMs: DEFAULT_READERS_WINDOW_MS,
      ignore: [],
      shareIntervalMs: 10_000,
      allowRemote: false,
    });
  });

  it("reads a unix socket with its mode, a file, the window, ignore and share_interval", () => {
    const r = load(
      "readers:\n  socket: unix:/run/eca/audit.sock\n  socket_mode: '0660'\n  file: /var/log/vault/audit.log\n" +
        "  window: 3d\n  ignore: [token-backup, approle]\n  share_interval: 30s\n",
    ).readers;
    expect(r).toMatchObject({
      socket: { kind: "unix", path: "/run/eca/audit.sock", mode: 0o660 },
      file: "/var/log/vault/audit.log",
      windowMs: 3 * 86_400_000,
      ignore: ["token-backup", "approle"],
      shareIntervalMs: 30_000,
    });
    expect(load("readers:\n  socket: '[::1]:9201'\n").readers?.socket).toEqual({
      kind: "tcp",
      host: "::1",
      port: 9201,
    });
  });

  it("refuses a TCP address that is not loopback, naming the key, unless allow_remote is true", () => {
    expect(problemsOf("readers:\n  socket: 10.0.0.5:9201\n")).toEqual([
      expect.stringMatching(/^readers\.socket: is not a loopback address: .*readers\.allow_remote: true/),
    ]);
    expect(problemsOf("readers:\n  socket: 0.0.0.0:9201\n")[0]).toMatch(
      /^readers\.socket: is not a loopback/,
    );
    expect(load("readers:\n  socket: 10.0.0.5:9201\n  allow_remote: true\n").readers?.socket).toMatchObject({
      host: "10.0.0.5",
    });
  });

  it("names the key of each mistake, never a value", () => {
    expect(problemsOf("readers: {}\n")[0]).toMatch(/^readers: needs readers\.socket or readers\.file/);
    expect(problemsOf("readers:\n  socket: nowhere\n")[0]).toMatch(/^readers\.socket: must be HOST:PORT/);
    expect(problemsOf("readers:\n  socket: unix:relative.sock\n")[0]).toMatch(
      /^readers\.socket: unix: needs an absolute path/,
    );
    expect(problemsOf("readers:\n  file: /x\n  window: forever\n")[0]).toMatch(/^readers\.window: /);
    expect(problemsOf("readers:\n  file: /x\n  sockett: 127.0.0.1:1\n")[0]).toMatch(
      /^readers\.sockett: unknown key \(did you mean readers\.socket\?\)/,
    );
  });

  it("shows the effective feed in the summary", () => {
    const lines = summarizeConfig(load("readers:\n  socket: unix:/run/eca/audit.sock\n")).split("\n");
    expect(lines).toContain("readers.socket: unix:/run/eca/audit.sock (mode 0600) (file)");
    expect(lines).toContain("readers.window: 7d (default)");
    expect(summarizeConfig(load("vault: {}\n"))).toContain("readers: not set (no reader feed)");
  });
});
