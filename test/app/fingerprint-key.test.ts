// The fingerprint key against the real server: created once under the state prefix, shared by every process,
// never created by a read-only (dry-run) caller; or read from audit.fingerprint_key_file.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { KvV2 } from "../../src/adapters/vault/kv-v2.ts";
import { loadFingerprintKey, makeFingerprint } from "../../src/app/compose.ts";
import { isRotatorError } from "../../src/core/errors.ts";
import { caught, rootKv } from "../adapters/vault/vault-test-kit.ts";
import { admin, uniqueName } from "../support/vault-admin.ts";

const opened: KvV2[] = [];
afterAll(async () => {
  for (const kv of opened) await kv.client.close();
});

async function setup() {
  const statePrefix = `fp-test/${uniqueName("state")}`;
  const kv = await rootKv("secret", statePrefix);
  opened.push(kv);
  return {
    statePrefix,
    kv,
    load: (readOnly = false) => loadFingerprintKey({ keyFile: undefined, kv, statePrefix, readOnly }),
  };
}

describe("the fingerprint key", () => {
  it("is created once in KV and every later (or concurrent) load gets the same key", async () => {
    const s = await setup();
    const keys = await Promise.all([s.load(), s.load(), s.load()]);
    const again = await s.load();
    for (const k of [...keys, again]) expect(k.equals(keys[0] as Buffer)).toBe(true);
    expect(keys[0]?.length).toBe(32);
    const meta = await admin().readMetadata("secret", `${s.statePrefix}/fingerprint-key`);
    expect(meta.current_version).toBe(1);
  });

  it("is not created by a read-only caller", async () => {
    const s = await setup();
    await s.load(true);
    const res = await admin().request("GET", `secret/metadata/${s.statePrefix}/fingerprint-key`);
    expect(res.status).toBe(404);
  });

  it("refuses an entry that does not hold a 64-hex key, saying how to fix it", async () => {
    const s = await setup();
    await admin().seedKv("secret", `${s.statePrefix}/fingerprint-key`, { key: "short" });
    const err = await caught(s.load());
    expect(isRotatorError(err, "CONFIG_INVALID")).toBe(true);
    expect((err as Error).message).toMatch(
      /fingerprint key at .* is unusable: .*set audit.fingerprint_key_file/,
    );
  });

  it("comes from audit.fingerprint_key_file when set, and a short file is refused without echoing it", async () => {
    const s = await setup();
    const dir = mkdtempSync(path.join(tmpdir(), "eca-fp-"));
    const good = path.join(dir, "good.key");
    writeFileSync(good, "an installation key with enough bytes\n");
    const key = await loadFingerprintKey({
      keyFile: good,
      kv: s.kv,
      statePrefix: s.statePrefix,
      readOnly: false,
    });
    expect(key.toString("utf8")).toBe("an installation key with enough bytes");
    const short = path.join(dir, "short.key");
    writeFileSync(short, "test-secret-c");
    const err = await caught(
      loadFingerprintKey({ keyFile: short, kv: s.kv, statePrefix: s.statePrefix, readOnly: false }),
    );
    expect((err as Error).message).toMatch(/^audit.fingerprint_key_file: .* at least 16 bytes/);
    expect((err as Error).message).not.toContain("test-secret-c");
  });

  it("fingerprints are 16 hex characters, stable per key and different across keys", () => {
    const a = makeFingerprint(Buffer.alloc(32, 1));
    const b = makeFingerprint(Buffer.alloc(32, 2));
    expect(a("3MVG9abc")).toMatch(/^[0-9a-f]{16}$/);
    expect(a("3MVG9abc")).toBe(a("3MVG9abc"));
    expect(a("3MVG9abc")).not.toBe(b("3MVG9abc"));
    expect(a("3MVG9abc")).not.toBe(a("3MVG9abd"));
  });
});
