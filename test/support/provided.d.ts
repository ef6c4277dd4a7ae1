import type { VaultTarget } from "./vault-backend.ts";

declare module "vitest" {
  export interface ProvidedContext {
    vault: ({ ok: true } & VaultTarget) | { ok: false; error: string };
  }
}
