// The simulator's switches: one for every behaviour the sources could not pin down.
import { z } from "zod";
import { RotatorError } from "../../core/errors.ts";
import type { Clock } from "../../core/time.ts";

/**
 * What PATCH rotate does with the former main pair; Salesforce's documentation and public implementations disagree.
 * `overlap`: the `rotated` record holds the former pair, which logs in until the record is deleted or expires.
 * `immediate`: the former pair dies at once; the `rotated` record holds the promoted (new) pair.
 * `overlap-new-shown`: the `rotated` record shows the promoted pair (the same key and secret as main), while the
 * former pair, which no record shows, logs in until the record is deleted or expires.
 */
export const ROTATE_SEMANTICS = ["overlap", "immediate", "overlap-new-shown"] as const;
export type RotateSemantics = (typeof ROTATE_SEMANTICS)[number];

export interface SimulatorOptions {
  host?: string;
  port?: number;
  /** What promotion does with the former main pair (ROTATE_SEMANTICS). */
  rotateSemantics?: RotateSemantics;
  /** POST staged while an `active` staged set exists: `error` answers 409, `replace` deletes it first. */
  stagedPostWhenActive?: "error" | "replace";
  postStatus?: 200 | 201;
  /** New pairs are refused with invalid_client_id until this old (the admin app is exempt). */
  activationDelayMs?: number;
  /** Org setting "Allow access to External Client App consumer secrets via REST API". */
  restSecretsEnabled?: boolean;
  sessionTimeoutMs?: number;
  dailyApiLimit?: number;
  adminApi?: boolean;
  stateFile?: string;
  clock?: Clock;
  /** Token requests per user per trailing hour before `login rate exceeded` (Salesforce: 3600). */
  loginRatePerHour?: number;
  /** errorCode of the 403 when the org setting is off (unknown on real orgs). */
  notEnabledErrorCode?: string;
  /** Reproduce the seed's quirk: the POST response's staged `url` ends in the 15-char staged id. */
  stagedUrl15?: boolean;
  /** PATCH rotate gives the `rotated` record a new id (whether it keeps the staged set's id is not documented). */
  rotatedRecordNewId?: boolean;
  /** Highest API version served; higher versions are 404 like on a real org. */
  maxApiVersion?: number;
  /** Called once per answered request with identifiers only (never a query string, header or body). */
  onRequest?: (event: { method: string; path: string; status: number; ms: number }) => void;
}

/** The run-time switches, all resolved. */
export interface SimSettings {
  rotateSemantics: RotateSemantics;
  stagedPostWhenActive: "error" | "replace";
  postStatus: 200 | 201;
  activationDelayMs: number;
  restSecretsEnabled: boolean;
  sessionTimeoutMs: number;
  dailyApiLimit: number;
  adminApi: boolean;
  loginRatePerHour: number;
  notEnabledErrorCode: string;
  stagedUrl15: boolean;
  rotatedRecordNewId: boolean;
  maxApiVersion: number;
}

const DEFAULT_SETTINGS: Readonly<SimSettings> = {
  rotateSemantics: "overlap",
  stagedPostWhenActive: "error",
  postStatus: 201,
  activationDelayMs: 0,
  restSecretsEnabled: true,
  sessionTimeoutMs: 2 * 60 * 60 * 1000,
  dailyApiLimit: 100_000,
  adminApi: false,
  loginRatePerHour: 3600,
  notEnabledErrorCode: "FUNCTIONALITY_NOT_ENABLED",
  stagedUrl15: false,
  rotatedRecordNewId: false,
  maxApiVersion: 67,
};

/** Schema of the patchable switches; also parses the admin API's JSON body. */
const settingsPatchSchema = z
  .object({
    rotateSemantics: z.enum(ROTATE_SEMANTICS),
    stagedPostWhenActive: z.enum(["error", "replace"]),
    postStatus: z.union([z.literal(200), z.literal(201)]),
    activationDelayMs: z.number().int().nonnegative(),
    restSecretsEnabled: z.boolean(),
    sessionTimeoutMs: z.number().int().positive(),
    dailyApiLimit: z.number().int().nonnegative(),
    adminApi: z.boolean(),
    loginRatePerHour: z.number().int().nonnegative(),
    notEnabledErrorCode: z.string().regex(/^[A-Z_]{1,80}$/),
    stagedUrl15: z.boolean(),
    rotatedRecordNewId: z.boolean(),
    maxApiVersion: z.number().int().min(20).max(99),
  })
  .partial()
  .strict();

/** Applies a patch after validating it; names the bad key, never echoes a value. */
export function patchSettings(settings: SimSettings, patch: unknown): void {
  const parsed = settingsPatchSchema.safeParse(patch);
  if (!parsed.success) {
    const keys = parsed.error.issues.map((i) => i.path.join(".") || "(options)").join(", ");
    throw new RotatorError("CONFIG_INVALID", `simulator options not valid: ${keys}`);
  }
  for (const [k, v] of Object.entries(parsed.data)) {
    if (v !== undefined) Object.assign(settings, { [k]: v });
  }
}

/** Picks the switches out of SimulatorOptions (host, port, clock, stateFile and hooks are not switches). */
export function settingsFrom(opts: SimulatorOptions): SimSettings {
  const settings: SimSettings = { ...DEFAULT_SETTINGS };
  const { host: _h, port: _p, stateFile: _s, clock: _c, onRequest: _o, ...switches } = opts;
  patchSettings(settings, switches);
  return settings;
}
