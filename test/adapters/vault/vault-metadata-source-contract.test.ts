// The MetadataSource contract that the in-memory fake follows, run against the real adapter on the real server
// in both listing modes, so the fake used by the core's unit tests cannot drift from what Vault does.
import { afterAll } from "vitest";
import { VaultMetadataSource } from "../../../src/adapters/vault/kv-v2.ts";
import { describeMetadataSourceContract } from "../../fakes/metadata-source-contract.ts";
import { admin, uniqueName } from "../../support/vault-admin.ts";
import { rootKv } from "./vault-test-kit.ts";

const closers: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const close of closers) await close();
});

for (const listing of ["per-key", "detailed"] as const) {
  describeMetadataSourceContract(`VaultMetadataSource (${listing})`, async (seed) => {
    const a = admin();
    const prefix = uniqueName(`contract-${listing}`);
    for (const entry of seed) {
      await a.seedKv(
        "secret",
        `${prefix}/${entry.path}`,
        { value: "x" },
        Object.keys(entry.customMetadata).length ? { ...entry.customMetadata } : undefined,
      );
    }
    const kv = await rootKv();
    closers.push(() => kv.client.close());
    return { source: new VaultMetadataSource(kv, { listing, concurrency: 4 }), prefix };
  });
}
