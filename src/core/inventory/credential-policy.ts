// One KV entry's custom_metadata → a typed policy, "unmanaged" (no `provider` key), or
// "invalid" with a short reason naming each bad key. Never throws, whatever the map holds: a bad entry
// must mark that one credential invalid and never stop a scan. Unknown keys belong to other teams and
// are ignored. Key names are case-sensitive, exactly as documented.

import { z } from "zod";
import { DAY_MS, type ParseDurationOptions, parseDuration, parseRfc3339 } from "../time.ts";
import {
  autoRotateField,
  CONFIG_NAME,
  CONFIRM_BY,
  type ConfirmBy,
  CREDENTIAL_TYPES,
  type CredentialType,
  consumerNames,
  consumersField,
  durationField,
  ECA_APP_ID,
  ECA_APP_NAME,
  ECA_CONSUMER_ID,
  ecaAppIdField,
  ecaAppNameField,
  ecaConsumerIdField,
  enumField,
  freeTextField,
  freeTextValue,
  ON_SOAK_MAX,
  type OnSoakMax,
  PROVIDERS,
  type Provider,
  RISKS,
  type Risk,
  ROTATION_STATES,
  type RotateWindow,
  type RotationState,
  rotateWindowField,
  rotateWindowValue,
  SOAK_UNTIL,
  type SoakUntil,
  sfConnectionField,
  sfmcTenantField,
  TRIGGER_MODES,
  type TriggerMode,
  timeField,
} from "./policy-fields.ts";

interface RotationTrigger {
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
  /** From `soak_until`; undefined means the config's rotation.soak_until. Set only when the key is present. */
  readonly soakUntil?: SoakUntil | undefined;
  /** From `soak_max` (soak_until=readers); undefined means the config's rotation.soak_max. */
  readonly soakMaxMs?: number | undefined;
  /** From `on_soak_max` (soak_until=readers); undefined means the config's rotation.on_soak_max. */
  readonly onSoakMax?: OnSoakMax | undefined;
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
interface PolicyHints {
  readonly provider: Provider | undefined;
  readonly consumers: readonly string[];
  readonly rotationContact: string | undefined;
}

export type PolicyParseResult =
  | { readonly kind: "managed"; readonly policy: CredentialPolicy }
  | { readonly kind: "invalid"; readonly reason: string; readonly hints: PolicyHints }
  | { readonly kind: "unmanaged" };

const DEFAULT_CREDENTIAL_TYPE: CredentialType = "oauth_client_secret";
const DEFAULT_RISK: Risk = "standard";

const PERIOD: ParseDurationOptions = {};
const WINDOW_LENGTH: ParseDurationOptions = { allowZero: true };
// A soak must end while the staged set lives at Salesforce (30 days): capped at 14 days.
const SOAK: ParseDurationOptions = { allowZero: true, maxMs: 14 * DAY_MS };
// soak_until=readers: the longest a soak may wait for readers, under the same cap as the soak.
const SOAK_MAX: ParseDurationOptions = { maxMs: 14 * DAY_MS };

const FIELDS = {
  provider: enumField(PROVIDERS),
  sf_connection: sfConnectionField,
  eca_app_id: ecaAppIdField,
  eca_app_name: ecaAppNameField,
  eca_consumer_id: ecaConsumerIdField,
  sfmc_tenant: sfmcTenantField,
  credential_type: enumField(CREDENTIAL_TYPES),
  risk: enumField(RISKS),
  rotation_period: durationField(PERIOD),
  warning_window: durationField(WINDOW_LENGTH),
  soak: durationField(SOAK),
  soak_until: enumField(SOAK_UNTIL),
  soak_max: durationField(SOAK_MAX),
  on_soak_max: enumField(ON_SOAK_MAX),
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

type PolicyValues = z.output<typeof PolicyMetadataSchema>;

/** What a fast field parser returns for a value its zod field would refuse. */
const REFUSED: unique symbol = Symbol("refused");
type FastField<K extends FieldKey> = (text: string) => PolicyValues[K] | typeof REFUSED;

/** One of `values`, as the constant itself (every entry then shares one string). */
function oneOf<const T extends readonly string[]>(values: T): (text: string) => T[number] | typeof REFUSED {
  return (text) => {
    const i = values.indexOf(text);
    return i < 0 ? REFUSED : (values[i] as T[number]);
  };
}

const matching = (pattern: RegExp) => (text: string) => (pattern.test(text) ? intern(text) : REFUSED);

const duration = (opts: ParseDurationOptions) => (text: string) => {
  const parsed = parseDuration(text, opts);
  return parsed.ok ? parsed.ms : REFUSED;
};

const time = (text: string) => parseRfc3339(text) ?? REFUSED;

const freeText = (text: string) => {
  const value = freeTextValue(text);
  return typeof value === "object" ? REFUSED : value;
};

/**
 * The same field checks as FIELDS without zod, for the common entry whose every field is valid: a scan
 * parses every managed entry's metadata, and zod's copies were most of a scan's work. Each parser runs what
 * its zod field runs; on any refusal the zod schema parses the entry instead and gives its messages.
 */
const FAST: { readonly [K in FieldKey]: FastField<K> } = {
  provider: oneOf(PROVIDERS),
  sf_connection: matching(CONFIG_NAME),
  eca_app_id: matching(ECA_APP_ID),
  eca_app_name: matching(ECA_APP_NAME),
  eca_consumer_id: matching(ECA_CONSUMER_ID),
  sfmc_tenant: matching(CONFIG_NAME),
  credential_type: oneOf(CREDENTIAL_TYPES),
  risk: oneOf(RISKS),
  rotation_period: duration(PERIOD),
  warning_window: duration(WINDOW_LENGTH),
  soak: duration(SOAK),
  soak_until: oneOf(SOAK_UNTIL),
  soak_max: duration(SOAK_MAX),
  on_soak_max: oneOf(ON_SOAK_MAX),
  rotate_window: (text) => {
    const value = rotateWindowValue(text);
    return "refused" in value ? REFUSED : value;
  },
  confirm_by: oneOf(CONFIRM_BY),
  auto_rotate: (text) => (text === "true" ? true : text === "false" ? false : REFUSED),
  consumers: (text) => {
    const value = freeTextValue(text);
    // Shared and frozen; typed as the schema's output, which nothing mutates either.
    return typeof value === "object" ? REFUSED : (internList(value) as string[]);
  },
  rotation_contact: (text) => {
    const value = freeText(text);
    return typeof value === "string" ? intern(value) : value;
  },
  expires_at: time,
  rotate: oneOf(TRIGGER_MODES),
  rotate_reason: freeText,
  last_rotated: time,
  rotation_verified_at: time,
  next_rotation_due: time,
  rotation_state: oneOf(ROTATION_STATES),
  last_rotation_error: freeText,
};

/** The zod field schemas, their plain parsers and the plain parsers' refusal, for the test that they agree. */
export const POLICY_FIELDS = { schemas: FIELDS, fast: FAST, refused: REFUSED } as const;

/** Every known key's value by its plain parser; undefined when any is refused, absent: no `provider` key. */
function parseFast(customMetadata: Record<string, unknown>): PolicyValues | undefined {
  const out: Record<string, unknown> = {};
  for (const key of POLICY_KEYS) {
    // Own properties only: "constructor" or "__proto__" must not be read through the prototype.
    if (!Object.hasOwn(customMetadata, key)) continue;
    const raw = customMetadata[key];
    if (raw === undefined) continue;
    if (typeof raw !== "string") return undefined;
    const value = (FAST[key] as (text: string) => unknown)(raw);
    if (value === REFUSED) return undefined;
    out[key] = value;
  }
  return out as PolicyValues;
}

// Contacts, consumer lists and connection names repeat across thousands of entries: one copy each is kept
// for as long as the inventory lives, instead of one per entry per scan. Bounded: a pool that fills up (many
// distinct values) starts again.
const POOL_LIMIT = 4096;
const strings = new Map<string, string>();
const lists = new Map<string, readonly string[]>();

function intern(text: string): string {
  const known = strings.get(text);
  if (known !== undefined) return known;
  if (strings.size >= POOL_LIMIT) strings.clear();
  strings.set(text, text);
  return text;
}

function internList(text: string | undefined): readonly string[] {
  const key = text ?? "";
  const known = lists.get(key);
  if (known !== undefined) return known;
  if (lists.size >= POOL_LIMIT) lists.clear();
  const names = Object.freeze(consumerNames(text).map(intern));
  lists.set(key, names);
  return names;
}

/** The metadata key provider=sfmc once took its auth URL from; an entry that still has it is invalid. */
const LEGACY_SFMC_AUTH_URL = "sfmc_auth_url";

// Reasons stay well under 300 characters: problems are listed until this budget, then counted.
const REASON_BUDGET = 220;

export function parseCredentialPolicy(customMetadata: unknown): PolicyParseResult {
  if (typeof customMetadata !== "object" || customMetadata === null || Array.isArray(customMetadata)) {
    return invalid("custom_metadata is not a map of strings", {});
  }
  const fast = parseFast(customMetadata as Record<string, unknown>);
  if (fast !== undefined) {
    if (fast.provider === undefined) return { kind: "unmanaged" };
    return fromValues(fast, customMetadata, () => pick(customMetadata));
  }
  const picked = pick(customMetadata);
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
  return fromValues(parsed.data, customMetadata, () => picked);
}

/** The known keys' raw values. Own properties only: "constructor" or "__proto__" must not be read through the prototype. */
function pick(customMetadata: object): Partial<Record<FieldKey, unknown>> {
  const picked: Partial<Record<FieldKey, unknown>> = {};
  for (const key of POLICY_KEYS) {
    if (Object.hasOwn(customMetadata, key)) {
      const value: unknown = (customMetadata as Record<string, unknown>)[key];
      if (value !== undefined) picked[key] = value;
    }
  }
  return picked;
}

/** The policy from the fields' values (by the plain parsers or the schema), after the cross-field checks. */
function fromValues(
  m: PolicyValues,
  customMetadata: object,
  picked: () => Partial<Record<FieldKey, unknown>>,
): PolicyParseResult {
  const provider = m.provider ?? "manual"; // present: checked above
  if (provider === "salesforce-eca" && m.eca_app_id === undefined && m.eca_app_name === undefined) {
    return invalid("salesforce-eca needs eca_app_id or eca_app_name", picked());
  }
  // Where a Marketing Cloud secret is sent used to come from this metadata key, which anyone allowed to patch
  // metadata can write. It is refused rather than ignored, so the entry says how to move it.
  if (provider === "sfmc" && Object.hasOwn(customMetadata, LEGACY_SFMC_AUTH_URL)) {
    return invalid(
      `${LEGACY_SFMC_AUTH_URL} is no longer read (a secret goes only to a host the config names): add the tenant under marketing_cloud.tenants, set sfmc_tenant to its name and remove ${LEGACY_SFMC_AUTH_URL}`,
      picked(),
    );
  }
  // A soak that ends later than its own maximum is a contradiction, not a choice between the two.
  if (m.soak_max !== undefined && m.soak !== undefined && m.soak_max < m.soak) {
    return invalid("soak_max must be at least soak", picked());
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
      ...(m.soak_until === undefined ? {} : { soakUntil: m.soak_until }),
      ...(m.soak_max === undefined ? {} : { soakMaxMs: m.soak_max }),
      ...(m.on_soak_max === undefined ? {} : { onSoakMax: m.on_soak_max }),
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
