// Helpers for the rotation stores' tests on the real server: seed and inspect KV entries with the root token
// (plain fetch, not our client), and build the CredentialStore contract fixture for a mount and token.
import type { CredentialStoreFixture, RawEntry } from "../../contract/credential-store-contract.ts";
import { admin, uniqueName, type VaultAdmin } from "../../support/vault-admin.ts";

export async function seedVersion(
  a: VaultAdmin,
  mount: string,
  path: string,
  data: Record<string, unknown>,
  customMetadata?: Record<string, string>,
): Promise<number> {
  const body = (await a.must("POST", `${mount}/data/${path}`, { data })) as { data: { version: number } };
  if (customMetadata) await a.must("POST", `${mount}/metadata/${path}`, { custom_metadata: customMetadata });
  return body.data.version;
}

/** The current version as stored (any JSON values), or undefined when absent or deleted. */
export async function rawEntry(
  a: VaultAdmin,
  mount: string,
  path: string,
): Promise<
  { version: number; data: Record<string, unknown>; customMetadata: Record<string, string> } | undefined
> {
  const meta = await a.request("GET", `${mount}/metadata/${path}`);
  if (meta.status === 404) return undefined;
  const m = (
    meta.body as { data: { current_version: number; custom_metadata: Record<string, string> | null } }
  ).data;
  const data = await a.request("GET", `${mount}/data/${path}?version=${m.current_version}`);
  if (data.status === 404) return undefined;
  return {
    version: m.current_version,
    data: (data.body as { data: { data: Record<string, unknown> } }).data.data,
    customMetadata: m.custom_metadata ?? {},
  };
}

/** Fixture pieces that go through the root token; `store` is added by the caller. */
export function credentialFixtureKit(mount: string, prefix: string): Omit<CredentialStoreFixture, "store"> {
  const a = admin();
  const base = `${prefix}/${uniqueName("cs")}`;
  return {
    path: (name) => `${base}/${name}`,
    seed: (path, data, customMetadata) => seedVersion(a, mount, path, data, customMetadata),
    deleteCurrentVersion: async (path) => {
      await a.must("DELETE", `${mount}/data/${path}`);
    },
    raw: async (path): Promise<RawEntry | undefined> => {
      const r = await rawEntry(a, mount, path);
      if (r === undefined) return undefined;
      return { ...r, data: r.data as Record<string, string> };
    },
  };
}
