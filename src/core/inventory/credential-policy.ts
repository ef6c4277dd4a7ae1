// One KV entry's custom_metadata → a typed policy, "unmanaged" (no `provider` key), or
// "invalid" with a short reason naming each bad key. Never throws, whatever the map holds: a bad entry
// must mark that one credential invalid and never stop a scan. Unknown keys belong to other teams and
// are ignored. Key names are case-sensitive, exactly as documented.

import { z } from "zod";
import { DAY_MS } from "../duration.ts";
import {
  autoRotateField,
  CONFIRM_BY,
  type ConfirmBy,
  CREDENTIAL_TYPES,
  type CredentialType,
  consumersField,
  durationField,
  ecaAppIdField,
  ecaAppNameField,
  ecaConsumerIdField,
  enumField,
  freeTextField,
  PROVIDERS,
  type Provider,
  RISKS,
  type Risk,
  ROTATION_STATES,
  type RotateWindow,
  type RotationState,
  rotateWindowField,
  sfConnectionField,
  sfmcTenantField,
  TRIGGER_MODES,
  type TriggerMode,
  timeField,
} from "./policy-fields.ts";

export interface RotationTrigger {
  readonly mode: TriggerMode;
  readonly reason: string | undefined;
}

/** The documented defaults are applied, except where the caller's config supplies them (undefined). */
export interface CredentialPolicy {
  readonly provider: Provider;
  readonly credentialType: CredentialType;
  readonly risk: Risk;
  /** From `rotation_period`; undefined means "use the schedule table". */
  readonly rotationPeriodMs: number | undefined;
  /** From `warning_window`; undefined means the caller's default (14d). */
  readonly warningWindowMs: number | undefined;
  /** From `soak`; undefined means the config's rotation.soak. */
  readonly soakMs: number | undefined;
  readonly rotateWindow: RotateWindow | undefined;
  readonly autoRotate: boolean;
  readonly consumers: readonly string[];
  readonly rotationContact: string | undefined;
  readonly expiresAt: Date | undefined;
  readonly ecaAppId: string | undefined;
  readonly ecaAppName: string | undefined;
  readonly ecaConsumerId: string | undefined;
  readonly sfConnection: string | undefined;
  /** provider=sfmc: `sfmc_tenant`, the configured Marketing Cloud tenant whose auth host checks its secrets. */
  readonly sfmcTenant?: string | undefined;
  readonly trigger: RotationTrigger | undefined;
  readonly lastRotated: Date | undefined;
  readonly rotationVerifiedAt: Date | undefined;
  readonly nextRotationDue: Date | undefined;
  /** `idle` when the key is absent. */
  readonly rotationState: RotationState;
  readonly lastRotationError: string | undefined;
  /** provider=generated, `confirm_by`: absent means `soak`. Set only when the key is present. */
  readonly confirmBy?: ConfirmBy | undefined;
}

/** What can still be shown for an invalid entry, so the report can say whom to tell. */
export interface PolicyHints {
  readonly provider: Provider | undefined;
  readonly consumers: readonly string[];
  readonly rotationContact: string | undefined;
}

export type PolicyParseResult =
  | { readonly kind: "managed"; readonly policy: CredentialPolicy }
  | { readonly kind: "invalid"; readonly reason: string; readonly hints: PolicyHints }
  | { readonly kind: "unmanaged" };

export const DEFAULT_CREDENTIAL_TYPE: CredentialType = "oauth_client_secret";
export const DEFAULT_RISK: Risk = "standard";
export const DEFAULT_WARNING_WINDOW_MS = 14 * DAY_MS;

const FIELDS = {
  provider: enumField(PROVIDERS),
  sf_connection: sfConnectionField,
  eca_app_id: ecaAppIdField,
  eca_app_name: ecaAppNameField,
  eca_consumer_id: ecaConsumerIdField,
  sfmc_tenant: sfmcTenantField,
  credential_type: enumField(CREDENTIAL_TYPES),
  risk: enumField(RISKS),
  rotation_period: durationField({}),
  warning_window: durationField({ allowZero: true }),
  // A soak must end while the staged set lives at Salesforce (30 days): capped at 14 days.
  soak: durationField({ allowZero: true, maxMs: 14 * DAY_MS }),
  rotate_window: rotateWindowField,
  confirm_by: enumField(CONFIRM_BY),
  auto_rotate: autoRotateField,
  consumers: consumersField,
  rotation_contact: freeTextField,
  expires_at: timeField,
  rotate: enumField(TRIGGER_MODES),
  rotate_reason: freeTextField,
  last_rotated: timeField,
  rotation_verified_at: timeField,
  next_rotation_due: timeField,
  rotation_state: enumField(ROTATION_STATES),
  last_rotation_error: freeTextField,
} as const;

type FieldKey = keyof typeof FIELDS;

/** Every custom_metadata key the rotator reads, in the documented order (reasons list problems in this order). */
export const POLICY_KEYS = Object.keys(FIELDS) as readonly FieldKey[];

const PolicyMetadataSchema = z.object(
  Object.fromEntries(POLICY_KEYS.map((key) => [key, FIELDS[key].optional()])) as {
    [K in FieldKey]: z.ZodOptional<(typeof FIELDS)[K]>;
  },
);

/** The metadata key provider=sfmc once took its auth URL from; an entry that still has it is invalid. */
const LEGACY_SFMC_AUTH_URL = "sfmc_auth_url";

// Reasons stay well under 300 characters: problems are listed until this budget, then counted.
const REASON_BUDGET = 220;

export function parseCredentialPolicy(customMetadata: unknown): PolicyParseResult {
  if (typeof customMetadata !== "object" || customMetadata === null || Array.isArray(customMetadata)) {
    return invalid("custom_metadata is not a map of strings", {});
  }
  // Own properties only: "constructor" or "__proto__" must not be read through the prototype.
  const picked: Partial<Record<FieldKey, unknown>> = {};
  for (const key of POLICY_KEYS) {
    if (Object.hasOwn(customMetadata, key)) {
      const value: unknown = (customMetadata as Record<string, unknown>)[key];
      if (value !== undefined) picked[key] = value;
    }
  }
  if (!("provider" in picked)) return { kind: "unmanaged" };

  const parsed = PolicyMetadataSchema.safeParse(picked);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => ({
      key: String(issue.path[0] ?? ""),
      text: issue.message,
    }));
    problems.sort((a, b) => POLICY_KEYS.indexOf(a.key as FieldKey) - POLICY_KEYS.indexOf(b.key as FieldKey));
    return invalid(joinProblems(problems.map((p) => `${p.key} ${p.text}`)), picked);
  }
  const m = parsed.data;
  const provider = m.provider ?? "manual"; // present: checked above
  if (provider === "salesforce-eca" && m.eca_app_id === undefined && m.eca_app_name === undefined) {
    return invalid("salesforce-eca needs eca_app_id or eca_app_name", picked);
  }
  // Where a Marketing Cloud secret is sent used to come from this metadata key, which anyone allowed to patch
  // metadata can write. It is refused rather than ignored, so the entry says how to move it.
  if (provider === "sfmc" && Object.hasOwn(customMetadata, LEGACY_SFMC_AUTH_URL)) {
    return invalid(
      `${LEGACY_SFMC_AUTH_URL} is no longer read (a secret goes only to a host the config names): add the tenant under marketing_cloud.tenants, set sfmc_tenant to its name and remove ${LEGACY_SFMC_AUTH_URL}`,
      picked,
    );
  }
  return {
    kind: "managed",
    policy: {
      provider,
      credentialType: m.credential_type ?? DEFAULT_CREDENTIAL_TYPE,
      risk: m.risk ?? DEFAULT_RISK,
      rotationPeriodMs: m.rotation_period,
      warningWindowMs: m.warning_window,
      soakMs: m.soak,
      rotateWindow: m.rotate_window,
      autoRotate: m.auto_rotate ?? true,
      consumers: m.consumers ?? [],
      rotationContact: m.rotation_contact,
      expiresAt: m.expires_at,
      ecaAppId: m.eca_app_id,
      ecaAppName: m.eca_app_name,
      ecaConsumerId: m.eca_consumer_id,
      sfConnection: m.sf_connection,
      ...(m.sfmc_tenant === undefined ? {} : { sfmcTenant: m.sfmc_tenant }),
      trigger: m.rotate === undefined ? undefined : { mode: m.rotate, reason: m.rotate_reason },
      lastRotated: m.last_rotated,
      rotationVerifiedAt: m.rotation_verified_at,
      nextRotationDue: m.next_rotation_due,
      rotationState: m.rotation_state ?? "idle",
      lastRotationError: m.last_rotation_error,
      ...(m.confirm_by === undefined ? {} : { confirmBy: m.confirm_by }),
    },
  };
}

function joinProblems(problems: readonly string[]): string {
  const shown: string[] = [];
  let length = 0;
  for (const problem of problems) {
    if (shown.length > 0 && length + problem.length + 2 > REASON_BUDGET) break;
    shown.push(problem);
    length += problem.length + 2;
  }
  const hidden = problems.length - shown.length;
  return shown.join("; ") + (hidden > 0 ? `; and ${hidden} more problem${hidden === 1 ? "" : "s"}` : "");
}

function invalid(reason: string, picked: Partial<Record<FieldKey, unknown>>): PolicyParseResult {
  const provider = FIELDS.provider.safeParse(picked.provider);
  const consumers = consumersField.safeParse(picked.consumers ?? "");
  const contact = freeTextField.safeParse(picked.rotation_contact ?? "");
  return {
    kind: "invalid",
    reason,
    hints: {
      provider: provider.success ? provider.data : undefined,
      consumers: consumers.success ? consumers.data : [],
      rotationContact: contact.success ? contact.data : undefined,
    },
  };
}
