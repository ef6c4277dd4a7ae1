// vitest globalSetup: one real Vault/OpenBao for the whole run, torn down at the end. When no server can be
// had, the reason is handed to the tests, and every test that needs Vault fails with it (never a silent skip).
import type { TestProject } from "vitest/node";
import { type RunningVault, startVaultBackend } from "./vault-backend.ts";

let running: RunningVault | undefined;

export async function setup(project: TestProject): Promise<void> {
  try {
    running = await startVaultBackend();
    project.provide("vault", { ok: true, ...running.target });
  } catch (err) {
    project.provide("vault", { ok: false, error: (err as Error).message });
  }
}

export async function teardown(): Promise<void> {
  await running?.stop();
}
