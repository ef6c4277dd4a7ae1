// The key behind the keyed fingerprints of consumer keys in audit events, chat and CLI output. A fingerprint
// lets two events be matched ("is this the key that was published?") without showing the key, and without the
// key nobody can test a guessed consumer key against it.
//
// Where the key comes from:
// - audit.fingerprint_key_file: the file's content (trimmed, at least 16 bytes), for installations that want
//   fingerprints to match across several Vaults or to keep the key out of Vault;
// - otherwise a per-installation key in KV at <state_prefix>/fingerprint-key (field `key`: 32 random bytes as
//   hex), created once with cas 0 by the first process that needs it; a process that loses that race reads the
//   winner's key, so every replica fingerprints alike.
// A read-only caller (--dry-run) never creates the entry: it gets a throw-away key (a plan has no fingerprints).
import { createHmac, randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import type { KvV2 } from "../adapters/vault/kv-v2.ts";
import { isRotatorError, RotatorError } from "../core/errors.ts";

const FINGERPRINT_KEY_ENTRY = "fingerprint-key";
const MIN_FILE_KEY_BYTES = 16;
const HEX_KEY = /^[0-9a-f]{64}$/;

/** HMAC-SHA256(key, clientId), first 16 hex characters. */
export function makeFingerprint(key: Buffer): (clientId: string) => string {
  return (clientId) => createHmac("sha256", key).update(clientId, "utf8").digest("hex").slice(0, 16);
}

export async function loadFingerprintKey(opts: {
  readonly keyFile: string | undefined;
  readonly kv: KvV2;
  readonly statePrefix: string;
  readonly readOnly: boolean;
}): Promise<Buffer> {
  if (opts.keyFile !== undefined) return readKeyFile(opts.keyFile);
  const at = `${opts.statePrefix}/${FINGERPRINT_KEY_ENTRY}`;
  const existing = await readKvKey(opts.kv, at);
  if (existing !== undefined) return existing;
  if (opts.readOnly) return randomBytes(32);
  try {
    await opts.kv.writeData(at, { key: randomBytes(32).toString("hex") }, { cas: 0 });
  } catch (err) {
    if (!isRotatorError(err, "VAULT_CAS_CONFLICT")) throw err; // another process created it first: use theirs
  }
  const created = await readKvKey(opts.kv, at);
  if (created === undefined) throw unreadable(at, "it vanished right after it was created");
  return created;
}

async function readKeyFile(file: string): Promise<Buffer> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? "unknown error";
    throw new RotatorError("CONFIG_INVALID", `audit.fingerprint_key_file: cannot read ${file} (${code})`);
  }
  const key = Buffer.from(text.trim(), "utf8");
  if (key.length < MIN_FILE_KEY_BYTES) {
    throw new RotatorError(
      "CONFIG_INVALID",
      `audit.fingerprint_key_file: ${file} must hold at least ${MIN_FILE_KEY_BYTES} bytes of key material`,
    );
  }
  return key;
}

async function readKvKey(kv: KvV2, at: string): Promise<Buffer | undefined> {
  const d = await kv.readData(at);
  if (d === undefined) return undefined;
  const key = d.deleted ? undefined : d.data?.["key"];
  if (typeof key !== "string" || !HEX_KEY.test(key)) {
    throw unreadable(at, "it must hold `key` as 64 hex characters");
  }
  return Buffer.from(key, "hex");
}

function unreadable(at: string, why: string): RotatorError {
  return new RotatorError(
    "CONFIG_INVALID",
    `the fingerprint key at ${at} is unusable: ${why}; delete the entry (all versions) to get a new one, or set audit.fingerprint_key_file`,
    { context: { path: at } },
  );
}
