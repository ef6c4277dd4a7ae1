// zod schemas for exactly the Salesforce response fields the client reads. Unknown fields are ignored; secrets
// stay plain strings here and become SecretValue in the client.
import { z } from "zod";

const nonEmpty = z.string().min(1);

export const TokenResponseSchema = z.object({
  access_token: nonEmpty,
  instance_url: nonEmpty,
  token_type: z.string().optional(),
  id: z.string().optional(),
  issued_at: z.string().optional(),
  scope: z.string().optional(),
});

export const TokenErrorSchema = z.object({
  error: z.string(),
  error_description: z.string().optional(),
});

const RestErrorItemSchema = z.object({ errorCode: z.string(), message: z.string().optional() });
/** REST and Connect REST errors are an array; a single object is tolerated. */
export const RestErrorSchema = z.union([
  z.array(RestErrorItemSchema).min(1),
  RestErrorItemSchema.transform((e) => [e]),
]);

export const UserInfoSchema = z.object({
  user_id: z.string().optional(),
  organization_id: z.string().optional(),
  sub: z.string().optional(),
});

const UsageAppSchema = z.object({
  identifier: nonEmpty,
  developerName: nonEmpty,
  usageDetailsUrl: z.string().optional(),
});

export const UsagePageSchema = z.object({
  apps: z.array(UsageAppSchema),
  currentPageUrl: z.string().nullish(),
  nextPageUrl: z.string().nullish(),
});

export const ConsumerSchema = z.object({
  id: nonEmpty,
  key: z.string().optional(),
  name: z.string().nullish(),
  secret: z.string().optional(),
  stagedCredentialsUrl: z.string().nullish(),
  url: z.string().nullish(),
});

export const ConsumersPageSchema = z.object({
  consumers: z.array(ConsumerSchema),
  currentPageUrl: z.string().nullish(),
  nextPageUrl: z.string().nullish(),
});

const StagedSchema = z.object({
  id: nonEmpty,
  key: z.string().optional(),
  secret: z.string().optional(),
  state: nonEmpty,
  createdBy: z.string().nullish(),
  createdDate: z.string().nullish(),
  expirationDate: z.string().nullish(),
  url: z.string().nullish(),
});
export type StagedBody = z.infer<typeof StagedSchema>;

export const StagedCollectionSchema = z.object({
  stagedCredentials: z.array(StagedSchema),
  url: z.string().nullish(),
});

/** POST staged answers with the collection wrapper; a bare object is tolerated. */
export const StagedCreatedSchema = z.union([
  StagedCollectionSchema.transform((c) => c.stagedCredentials),
  StagedSchema.transform((s) => [s]),
]);
