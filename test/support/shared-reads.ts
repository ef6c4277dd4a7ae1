// Writes reader shard entries the way a serve replica shares them: the real ReaderFeed, fed audit lines as Vault's
// audit device writes them (only the fields the parser reads), flushed through the real VaultReaderShards.
import { KvV2 } from "../../src/adapters/vault/kv-v2.ts";
import { VaultReaderShards } from "../../src/adapters/vault/vault-reader-shards.ts";
import { ReaderFeed } from "../../src/app/reader-feed.ts";
import { systemClock } from "../../src/core/time.ts";
import { connectWithToken } from "../adapters/vault/vault-test-kit.ts";

export interface SharedRead {
  readonly path: string;
  readonly version: number;
  /** The token's display name; `role` adds an AppRole role, `entity` an identity entity. */
  readonly name: string;
  readonly role?: string;
  readonly entity?: string;
  readonly at: Date;
}

/** One KV v2 read response line for `r`, under the mount "secret". */
function auditReadLine(r: SharedRead): string {
  return JSON.stringify({
    time: r.at.toISOString(),
    type: "response",
    auth: {
      accessor: `hmac-sha256:${Buffer.from(r.name).toString("hex").padEnd(64, "0").slice(0, 64)}`,
      display_name: r.name,
      ...(r.entity === undefined ? {} : { entity_id: r.entity }),
      ...(r.role === undefined ? {} : { metadata: { role_name: r.role } }),
    },
    request: {
      operation: "read",
      mount_type: "kv",
      namespace: { id: "root" },
      path: `secret/data/${r.path}`,
    },
    response: { data: { data: { api_key: "hmac-sha256:00" }, metadata: { version: r.version } } },
  });
}

/** Shares `reads` under `statePrefix` as a replica's feed would; returns how many the feed kept. */
export async function shareReads(
  vault: { addr: string; token: string },
  opts: { statePrefix: string; prefixes: readonly string[] },
  reads: readonly SharedRead[],
): Promise<number> {
  const client = await connectWithToken(vault.token);
  try {
    const feed = new ReaderFeed({
      kvMount: "secret",
      prefixes: opts.prefixes,
      namespace: undefined,
      ignore: [],
      clock: systemClock,
      windowMs: 7 * 86_400_000,
      shareIntervalMs: 3_600_000,
    });
    feed.attach({
      ownEntityId: "rotator-entity",
      ownDisplayName: undefined,
      shards: new VaultReaderShards(new KvV2(client, "secret", { statePrefix: opts.statePrefix })),
    });
    for (const r of reads) feed.line(auditReadLine(r));
    await feed.stop();
    return feed.stats.kept;
  } finally {
    await client.close();
  }
}
