import { describe, expect, it } from "vitest";
import { findPickups } from "../../src/app/rotation-cycle.ts";
import { RotatorError } from "../../src/core/errors.ts";
import { classifyEntry, DEFAULT_CLASSIFY_DEFAULTS } from "../../src/core/inventory/classify.ts";
import type { StoredCredential } from "../../src/core/rotation/rotation-ports.ts";
import { SecretValue } from "../../src/core/secret-value.ts";
import { kvEntry } from "../fakes/kv-entry-builder.ts";

const NOW = new Date("2026-06-15T12:00:00Z");
const CANARY = "test-secret-canary-pending-scan-7f3e";
const SFMC = { provider: "sfmc", sfmc_tenant: "t" };

const item = (path: string, meta: Record<string, string> = SFMC) =>
  classifyEntry(kvEntry(path, meta, { createdTime: "2026-06-15T11:00:00Z" }), NOW, DEFAULT_CLASSIFY_DEFAULTS);

function cred(pending: string): StoredCredential {
  return { version: 2, data: { pending_api_key: SecretValue.of(pending) }, customMetadata: SFMC };
}

describe("findPickups", () => {
  it("starts the entries holding a pasted secret, reads only candidates, and skips busy ones", async () => {
    const reads: string[] = [];
    const data: Record<string, StoredCredential> = {
      "a/pasted": cred(CANARY),
      "a/empty": cred(""),
      "a/busy": cred(CANARY),
    };
    const result = await findPickups(
      [
        item("a/pasted"),
        item("a/empty"),
        item("a/busy"),
        item("a/eca", { provider: "salesforce-eca", eca_app_name: "X" }),
      ],
      {
        store: {
          read: async (path) => {
            reads.push(path);
            return data[path];
          },
        },
        hasJournal: () => false,
        busy: (path) => path === "a/busy",
        concurrency: 2,
      },
    );
    expect(result.starts.map((s) => [s.item.path, s.decision.trigger])).toEqual([["a/pasted", "pending"]]);
    expect(reads.sort()).toEqual(["a/empty", "a/pasted"]);
    expect(JSON.stringify(result)).not.toContain(CANARY);
  });

  it("reports an entry it could not read with the error code only, and goes on with the others", async () => {
    const result = await findPickups([item("a/denied"), item("a/pasted")], {
      store: {
        read: async (path) => {
          if (path === "a/denied") {
            throw new RotatorError("VAULT_PERMISSION_DENIED", `denied reading ${CANARY}`, {
              context: { path },
            });
          }
          return cred(CANARY);
        },
      },
      hasJournal: () => false,
      busy: () => false,
      concurrency: 1,
    });
    expect(result.starts.map((s) => s.item.path)).toEqual(["a/pasted"]);
    expect(result.unread).toEqual([
      {
        path: "a/denied",
        action: "none",
        reason: "could not read pending_api_key (VAULT_PERMISSION_DENIED); the next scan tries again",
        outcome: undefined,
      },
    ]);
    expect(JSON.stringify(result)).not.toContain(CANARY);
  });
});
