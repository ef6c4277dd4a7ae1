import type { KvV2 } from "../adapters/vault/kv-v2.ts";
import { type SampleCredential, sampleCredentials } from "./sample-credentials.ts";

/** Writes the demo's sample credentials through our own client (a new version each, metadata merged in). */
export async function seedSamples(kv: KvV2, prefix: string, now: Date): Promise<SampleCredential[]> {
  const samples = sampleCredentials(prefix, now);
  for (const sample of samples) {
    const current = await kv.readMetadata(sample.path);
    await kv.writeData(sample.path, sample.data, { cas: current?.currentVersion ?? 0 });
    if (sample.customMetadata) await kv.patchMetadata(sample.path, sample.customMetadata);
  }
  return samples;
}
