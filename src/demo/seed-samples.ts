import type { KvV2 } from "../adapters/vault/kv-v2.ts";
import { type SampleCredential, type SamplePair, sampleCredentials } from "./sample-credentials.ts";

/**
 * Writes the demo's sample credentials through our own client (a new version each, metadata merged in). Every
 * value is written before any metadata, and `afterData` runs in between: consumers can read their credential
 * before the rotator manages it (and so before it can rotate it).
 */
export async function seedSamples(
  kv: KvV2,
  prefix: string,
  now: Date,
  pairs: ReadonlyMap<string, SamplePair> = new Map(),
  opts: { readonly readers?: boolean; readonly afterData?: () => Promise<void> } = {},
): Promise<SampleCredential[]> {
  const samples = sampleCredentials(prefix, now, pairs, opts.readers);
  for (const sample of samples) {
    const current = await kv.readMetadata(sample.path);
    await kv.writeData(sample.path, sample.data, { cas: current?.currentVersion ?? 0 });
  }
  await opts.afterData?.();
  for (const sample of samples) {
    if (sample.customMetadata) await kv.patchMetadata(sample.path, sample.customMetadata);
  }
  return samples;
}
