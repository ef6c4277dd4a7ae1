// One KV entry's custom_metadata → a typed policy, "unmanaged" (no `provider` key), or
// "invalid" with a short reason naming each bad key. Never throws, whatever the map holds: a bad entry
// must mark that one credential invalid and never stop a scan. Unknown keys belong to other teams and
// are ignored. Key names are case-sensitive, exactly as documented.
import { z } from "zod";
import { DAY_MS, type ParseDurationOptions, parseDuration, parseRfc3339 } from "../time.ts";
import {
  autoRotateField,
  CREDENTIAL_TYPES,
  type CredentialType,
  consumerNames,
  consumersField,
  durationField,
  enumField,
  freeTextField,
  freeTextValue,
  ON_SOAK_MAX,
  type OnSoakMax,
  patternField,
  RISKS,
  type Risk,
  ROTATION_STATES,
  type RotateWindow,
  type RotationState,
  rotateWindowField,
  rotateWindowValue,
  SOAK_UNTIL,
  type SoakUntil,
  TRIGGER_MODES,
  type TriggerMode,
  timeField,
} from "./policy-fields.ts";

interface RotationTrigger {
  readonly mode: TriggerMode;
  readonly reason: string | undefined;
}

/**
 * The documented defaults are applied, except where the caller's config supplies them (undefined). The registered
 * providers' own keys fill the properties their MetadataFields name (undefined when absent); a provider reads
 * them through its own typed view.
 */
export interface CredentialPolicy {
  /** One of the registered providers' names (the parser refuses any other). */
  readonly provider: string;
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
  readonly trigger: RotationTrigger | undefined;
  readonly lastRotated: Date | undefined;
  readonly rotationVerifiedAt: Date | undefined;
  readonly nextRotationDue: Date | undefined;
  /** `idle` when the key is absent. */
  readonly rotationState: RotationState;
  readonly lastRotationError: string | undefined;
  readonly [providerProperty: string]: unknown;
}

/** What can still be shown for an invalid entry, so the report can say whom to tell. */
interface PolicyHints {
  readonly provider: string | undefined;
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
  credential_type: enumField(CREDENTIAL_TYPES),
  risk: enumField(RISKS),
  rotation_period: durationField(PERIOD),
  warning_window: durationField(WINDOW_LENGTH),
  soak: durationField(SOAK),
  soak_until: enumField(SOAK_UNTIL),
  soak_max: durationField(SOAK_MAX),
  on_soak_max: enumField(ON_SOAK_MAX),
  rotate_window: rotateWindowField,
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

type GenericValues = { readonly [K in FieldKey]?: z.output<(typeof FIELDS)[K]> };

/** The generic keys' values, plus `provider` and the providers' own keys by key name. */
type PolicyValues = GenericValues & {
  readonly provider?: string;
  readonly [providerKey: string]: unknown;
};

/** What a fast field parser returns for a value its zod field would refuse. */
const REFUSED: unique symbol = Symbol("refused");
type FastField<K extends FieldKey> = (text: string) => GenericValues[K] | typeof REFUSED;

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

/**
 * One provider's own custom_metadata key: the policy property it fills, its zod field (whose messages follow the
 * key name, as every field's do) and a plain parser running the same checks (REFUSED where the field refuses).
 */
export interface MetadataField {
  readonly property: string;
  readonly schema: z.ZodType;
  readonly fast: (text: string) => unknown;
}

/** A provider key whose value must match `pattern`; `expected` completes "must be ..." in the reason. */
export function patternMetadataField(property: string, pattern: RegExp, expected: string): MetadataField {
  return { property, schema: patternField(pattern, expected), fast: matching(pattern) };
}

/** A provider key whose value is one of `values`. */
export function enumMetadataField(property: string, values: readonly [string, ...string[]]): MetadataField {
  return { property, schema: enumField(values), fast: oneOf(values) };
}

/**
 * What a provider tells the metadata parser and the scan about its credentials; every provider has one, rotated
 * by the engine or tracked only (manual). Words are plain and never hold a secret.
 */
export interface ProviderMetadata {
  /** The `provider` metadata value. */
  readonly name: string;
  /**
   * Its own custom_metadata keys, in the order reasons list their problems. Every registered provider's keys are
   * read on every entry (a bad value marks the entry invalid whichever provider it names).
   */
  readonly metadataFields?: Readonly<Record<string, MetadataField>>;
  /** Why an entry naming this provider is invalid although each key parsed (keys that belong together, say). */
  metadataProblem?(policy: CredentialPolicy, customMetadata: object): string | undefined;
  /** Why the metadata chooses no usable configured destination (connection, tenant), when that can be judged. */
  destinationProblem?(policy: CredentialPolicy, path: string, destinations: Destinations): string | undefined;
  /** The scan's reason for awaiting_promotion: what a published rotation waits for. */
  awaitingText?(policy: CredentialPolicy): string;
  /** True when only a person ends the awaiting_promotion wait: it is never called stuck. */
  waitsForPerson?(policy: CredentialPolicy): boolean;
}

/**
 * The metadata parser for a set of providers: `provider` must name one of them, and their own keys are parsed
 * beside the generic ones, right after `provider`. The provider set the composition root builds is one
 * (ProviderSet extends it).
 */
export class PolicyReader {
  /** The registered providers' names, in registration order (the order reasons list them in). */
  readonly providerNames: readonly string[];
  /** Every custom_metadata key the rotator reads, in the documented order (reasons list problems in this order). */
  readonly policyKeys: readonly string[];
  /** The zod field schemas, their plain parsers and the plain parsers' refusal, for the test that they agree. */
  readonly policyFields: {
    readonly schemas: Readonly<Record<string, z.ZodType>>;
    readonly fast: Readonly<Record<string, (text: string) => unknown>>;
    readonly refused: typeof REFUSED;
  };
  /** Each provider key and the policy property it fills. */
  readonly providerProperties: readonly (readonly [key: string, property: string])[];
  readonly providerField: z.ZodType<string>;
  readonly schema: z.ZodObject;
  readonly #metadata: ReadonlyMap<string, ProviderMetadata>;

  constructor(providers: readonly ProviderMetadata[]) {
    const names = providers.map((p) => p.name);
    this.providerNames = names;
    this.#metadata = new Map(providers.map((p) => [p.name, p]));
    if (this.#metadata.size !== providers.length) throw new Error("two providers share a name");
    this.providerField = enumField(names as unknown as readonly [string, ...string[]]);
    const schemas: Record<string, z.ZodType> = { provider: this.providerField };
    const fast: Record<string, (text: string) => unknown> = { provider: oneOf(names) };
    const properties: (readonly [string, string])[] = [];
    for (const p of providers) {
      for (const [key, field] of Object.entries(p.metadataFields ?? {})) {
        if (Object.hasOwn(schemas, key) || Object.hasOwn(FIELDS, key)) {
          throw new Error(`provider ${p.name} declares metadata key ${key}, which is already read`);
        }
        schemas[key] = field.schema;
        fast[key] = field.fast;
        properties.push([key, field.property]);
      }
    }
    Object.assign(schemas, FIELDS);
    Object.assign(fast, FAST);
    this.policyKeys = Object.keys(schemas);
    this.policyFields = { schemas, fast, refused: REFUSED };
    this.providerProperties = properties;
    this.schema = z.object(Object.fromEntries(this.policyKeys.map((k) => [k, schemas[k]?.optional()])));
  }

  /** What the provider of this name says about its credentials; undefined for a name not registered. */
  metadataOf(name: string | undefined): ProviderMetadata | undefined {
    return name === undefined ? undefined : this.#metadata.get(name);
  }

  /** One KV entry's custom_metadata read with these providers (parseCredentialPolicy). */
  parsePolicy(customMetadata: unknown): PolicyParseResult {
    return parseCredentialPolicy(customMetadata, this);
  }
}

/** Every known key's value by its plain parser; undefined when any is refused, absent: no `provider` key. */
function parseFast(
  customMetadata: Record<string, unknown>,
  providers: PolicyReader,
): PolicyValues | undefined {
  const out: Record<string, unknown> = {};
  const { fast } = providers.policyFields;
  for (const key of providers.policyKeys) {
    // Own properties only: "constructor" or "__proto__" must not be read through the prototype.
    if (!Object.hasOwn(customMetadata, key)) continue;
    const raw = customMetadata[key];
    if (raw === undefined) continue;
    if (typeof raw !== "string") return undefined;
    const value = (fast[key] as (text: string) => unknown)(raw);
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

// Reasons stay well under 300 characters: problems are listed until this budget, then counted.
const REASON_BUDGET = 220;

export function parseCredentialPolicy(customMetadata: unknown, providers: PolicyReader): PolicyParseResult {
  if (typeof customMetadata !== "object" || customMetadata === null || Array.isArray(customMetadata)) {
    return invalid("custom_metadata is not a map of strings", {}, providers);
  }
  const fast = parseFast(customMetadata as Record<string, unknown>, providers);
  if (fast !== undefined) {
    if (fast.provider === undefined) return { kind: "unmanaged" };
    return fromValues(fast, customMetadata, () => pick(customMetadata, providers), providers);
  }
  const picked = pick(customMetadata, providers);
  if (!("provider" in picked)) return { kind: "unmanaged" };

  const parsed = providers.schema.safeParse(picked);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => ({
      key: String(issue.path[0] ?? ""),
      text: issue.message,
    }));
    problems.sort((a, b) => providers.policyKeys.indexOf(a.key) - providers.policyKeys.indexOf(b.key));
    return invalid(joinProblems(problems.map((p) => `${p.key} ${p.text}`)), picked, providers);
  }
  return fromValues(parsed.data as PolicyValues, customMetadata, () => picked, providers);
}

/** The known keys' raw values. Own properties only: "constructor" or "__proto__" must not be read through the prototype. */
function pick(customMetadata: object, providers: PolicyReader): Record<string, unknown> {
  const picked: Record<string, unknown> = {};
  for (const key of providers.policyKeys) {
    if (Object.hasOwn(customMetadata, key)) {
      const value: unknown = (customMetadata as Record<string, unknown>)[key];
      if (value !== undefined) picked[key] = value;
    }
  }
  return picked;
}

/** The policy from the fields' values (by the plain parsers or the schema), after the provider's own checks. */
function fromValues(
  m: PolicyValues,
  customMetadata: object,
  picked: () => Record<string, unknown>,
  providers: PolicyReader,
): PolicyParseResult {
  const provider = m.provider ?? ""; // present: checked above
  // A soak that ends later than its own maximum is a contradiction, not a choice between the two.
  if (m.soak_max !== undefined && m.soak !== undefined && m.soak_max < m.soak) {
    return invalid("soak_max must be at least soak", picked(), providers);
  }
  const managed = {
    kind: "managed" as const,
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
      trigger: m.rotate === undefined ? undefined : { mode: m.rotate, reason: m.rotate_reason },
      lastRotated: m.last_rotated,
      rotationVerifiedAt: m.rotation_verified_at,
      nextRotationDue: m.next_rotation_due,
      rotationState: m.rotation_state ?? "idle",
      lastRotationError: m.last_rotation_error,
    },
  };
  // The registered providers' own keys, each into the property its field names.
  const policy: Record<string, unknown> = managed.policy;
  for (const [key, property] of providers.providerProperties) policy[property] = m[key];
  const problem = providers.metadataOf(provider)?.metadataProblem?.(managed.policy, customMetadata);
  if (problem !== undefined) return invalid(problem, picked(), providers);
  return managed;
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

function invalid(
  reason: string,
  picked: Record<string, unknown>,
  providers: PolicyReader,
): PolicyParseResult {
  const provider = providers.providerField.safeParse(picked["provider"]);
  const consumers = consumersField.safeParse(picked["consumers"] ?? "");
  const contact = freeTextField.safeParse(picked["rotation_contact"] ?? "");
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

// Where a credential's secrets may be sent. Every host that receives a secret is named in the configuration
// (salesforce.connections for Salesforce orgs, marketing_cloud.tenants for Marketing Cloud auth hosts);
// custom_metadata, which operators and path writers can edit, may only *choose* one of them by name
// (`sf_connection`, `sfmc_tenant`), and a connection or tenant may be limited to some KV prefixes. This module
// is the one rule for that choice: the scan uses it to mark a credential invalid, the engine before it sends
// anything, and `check` before its live checks, so all three say the same thing.
/** One configured place secrets may go. */
export interface Destination {
  readonly name: string;
  /** scheme://host[:port] from the configuration: the only place this destination's secrets go. */
  readonly origin: string;
  /** When set, only credentials under one of these KV prefixes may use this destination. */
  readonly prefixes: readonly string[] | undefined;
}

/** The configured destinations, per kind. */
export interface Destinations {
  /** salesforce.connections: Salesforce orgs (My Domain), chosen by `sf_connection`. */
  readonly connections: readonly Destination[];
  /** marketing_cloud.tenants: Marketing Cloud auth hosts, chosen by `sfmc_tenant`. */
  readonly tenants: readonly Destination[];
}

export type DestinationKind = "connection" | "tenant";

const WORDS: Readonly<Record<DestinationKind, { key: string; section: string; what: string }>> = {
  connection: { key: "sf_connection", section: "salesforce.connections", what: "Salesforce connection" },
  tenant: { key: "sfmc_tenant", section: "marketing_cloud.tenants", what: "Marketing Cloud tenant" },
};

export type DestinationChoice =
  | { readonly ok: true; readonly destination: Destination }
  | { readonly ok: false; readonly why: string };

/**
 * The destination a credential at `path` uses: the one its metadata names, else the only one configured.
 * Refused when the name is unknown, when several are configured and none is named, or when the destination's
 * prefixes do not cover the path.
 */
export function chooseDestination(
  all: Destinations,
  kind: DestinationKind,
  named: string | undefined,
  path: string,
): DestinationChoice {
  const w = WORDS[kind];
  const list = kind === "connection" ? all.connections : all.tenants;
  const names = list.map((d) => d.name).join(", ");
  let destination: Destination | undefined;
  if (named !== undefined) {
    destination = list.find((d) => d.name === named);
    if (destination === undefined) {
      const configured = list.length === 0 ? "none is configured" : `configured: ${names}`;
      return { ok: false, why: `${w.key} ${named} is not in ${w.section} (${configured})` };
    }
  } else if (list.length === 1) {
    destination = list[0];
  } else if (list.length === 0) {
    return { ok: false, why: `no ${w.what} is configured (${w.section})` };
  } else {
    return { ok: false, why: `no ${w.key}, and ${list.length} are configured (${names}): name one` };
  }
  if (destination === undefined) return { ok: false, why: `no ${w.what} is configured (${w.section})` };
  if (!isWithinPrefixes(path, destination.prefixes)) {
    return {
      ok: false,
      why: `${w.key} ${destination.name} may not be used under this path (${w.section}.${destination.name}.prefixes)`,
    };
  }
  return { ok: true, destination };
}

/** True when `path` lies under one of `prefixes` (or no prefixes are set). */
function isWithinPrefixes(path: string, prefixes: readonly string[] | undefined): boolean {
  if (prefixes === undefined) return true;
  return prefixes.some((p) => path === p || path.startsWith(`${p}/`));
}

/** The destination of this kind named `name`, if it is (still) configured. */
export function findDestination(
  all: Destinations,
  kind: DestinationKind,
  name: string,
): Destination | undefined {
  return (kind === "connection" ? all.connections : all.tenants).find((d) => d.name === name);
}
