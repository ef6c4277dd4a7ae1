// zod schemas for exactly the fields we read from Vault/OpenBao answers. Every object is loose: newer servers
// add fields (Vault's created_by/last_updated_by, OpenBao's metadata_cas_required) and that must not break us.
import { z } from "zod";

/** The error envelope: `{"errors":[…]}`, sometimes with warnings, sometimes no body at all. */
export const VaultEnvelopeSchema = z.looseObject({
  request_id: z.string().optional(),
  errors: z.array(z.string()).nullish(),
  warnings: z.array(z.string()).nullish(),
});

export const HealthSchema = z.looseObject({
  initialized: z.boolean(),
  sealed: z.boolean(),
  standby: z.boolean(),
  version: z.string(),
});

export const LookupSelfSchema = z.looseObject({
  data: z.looseObject({
    ttl: z.number(),
    renewable: z.boolean().nullish(),
    policies: z.array(z.string()).nullish(),
    display_name: z.string().nullish(),
    entity_id: z.string().nullish(),
    expire_time: z.string().nullish(),
    creation_ttl: z.number().nullish(),
  }),
});

/** The `auth` block of a login or renew-self answer. */
export const AuthAnswerSchema = z.looseObject({
  auth: z.looseObject({
    client_token: z.string().min(1),
    lease_duration: z.number(),
    renewable: z.boolean(),
  }),
});

export const UnwrapSecretIdSchema = z.looseObject({
  data: z.looseObject({ secret_id: z.string().min(1) }),
});

export const CapabilitiesSelfSchema = z.looseObject({
  data: z.record(z.string(), z.unknown()).optional(),
});

export const MountInfoSchema = z.looseObject({
  data: z.looseObject({
    type: z.string(),
    path: z.string().optional(),
    options: z.record(z.string(), z.string()).nullish(),
  }),
});

/** GET <mount>/config of a KV v2 mount (no secret in it). */
export const KvConfigSchema = z.looseObject({
  data: z.looseObject({
    delete_version_after: z.string().optional(),
    max_versions: z.number().optional(),
    cas_required: z.boolean().optional(),
  }),
});

export const ListSchema = z.looseObject({
  data: z.looseObject({ keys: z.array(z.string()).nullish() }),
});

const VersionInfoSchema = z.looseObject({
  created_time: z.string(),
  deletion_time: z.string().nullish(),
  destroyed: z.boolean().nullish(),
});

export const KvMetadataDataSchema = z.looseObject({
  current_version: z.number(),
  created_time: z.string(),
  updated_time: z.string(),
  custom_metadata: z.record(z.string(), z.string()).nullish(),
  versions: z.record(z.string(), VersionInfoSchema).nullish(),
  cas_required: z.boolean().nullish(),
  max_versions: z.number().nullish(),
});
export type KvMetadataData = z.infer<typeof KvMetadataDataSchema>;

export const KvMetadataSchema = z.looseObject({ data: KvMetadataDataSchema });

/** OpenBao's detailed-metadata LIST: keys plus each key's metadata; folders ("x/") have an empty object. */
export const DetailedListSchema = z.looseObject({
  data: z.looseObject({
    keys: z.array(z.string()).nullish(),
    key_info: z.record(z.string(), z.looseObject({})).nullish(),
  }),
});

const KvVersionMetadataSchema = z.looseObject({
  version: z.number(),
  created_time: z.string(),
  deletion_time: z.string().nullish(),
  destroyed: z.boolean().nullish(),
  // The key's custom_metadata, which data reads carry since Vault 1.9 (and OpenBao); absent on older servers.
  custom_metadata: z.record(z.string(), z.string()).nullish(),
});

export const KvDataSchema = z.looseObject({
  data: z.looseObject({
    data: z.record(z.string(), z.unknown()).nullable(),
    metadata: KvVersionMetadataSchema,
  }),
});

export const KvWriteSchema = z.looseObject({ data: KvVersionMetadataSchema });
