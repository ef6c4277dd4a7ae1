// Shared by the config tests: load a YAML text and/or an environment without touching the disk.
import { expect } from "vitest";
import type { Config } from "../../src/config/config-types.ts";
import { ConfigError, loadConfig } from "../../src/config/load-config.ts";

export const CONFIG_PATH = "/etc/eca-rotator/config.yaml";
export const BASE_ENV = { VAULT_ADDR: "http://127.0.0.1:8200", VAULT_TOKEN: "test-secret-token" };

export function load(yaml: string | undefined, env: Record<string, string | undefined> = BASE_ENV): Config {
  return loadConfig({
    ...(yaml === undefined ? {} : { file: CONFIG_PATH }),
    env,
    readFile: (p) => {
      expect(p).toBe(CONFIG_PATH);
      return yaml ?? "";
    },
  });
}

/** The problem lines of the ConfigError that loading throws (fails the test when it loads). */
export function problemsOf(
  yaml: string | undefined,
  env: Record<string, string | undefined> = BASE_ENV,
): string[] {
  try {
    load(yaml, env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    const problems = [...(err as ConfigError).problems];
    expect((err as ConfigError).message).toBe(problems.join("\n"));
    return problems;
  }
  throw new Error("expected the configuration to be rejected, but it loaded");
}
