// The configured REST API version ("v65.0", also accepted as "65.0" or "65"). The staged-credentials resources
// exist from v65.0; older versions are refused before any call is made.
import { RotatorError } from "../../core/errors.ts";

export const STAGED_MIN_API_VERSION = 65;

export interface ApiVersion {
  readonly major: number;
  /** The path segment: "v65.0". */
  readonly segment: string;
}

export function parseApiVersion(value: string): ApiVersion {
  const m = /^v?(\d{2,3})(?:\.0)?$/.exec(value.trim());
  if (!m?.[1]) {
    throw new RotatorError("CONFIG_INVALID", 'salesforce api_version must look like "v65.0"', {
      context: { field: "api_version" },
    });
  }
  const major = Number(m[1]);
  return { major, segment: `v${major}.0` };
}

/**
 * Staged calls on an older version would reach a resource that does not exist there. SALESFORCE_NOT_ENABLED:
 * like a missing org setting, it is a setup problem that no retry fixes.
 */
export function requireStagedSupport(version: ApiVersion, step: string): void {
  if (version.major >= STAGED_MIN_API_VERSION) return;
  throw new RotatorError(
    "SALESFORCE_NOT_ENABLED",
    `${step}: staged credentials need Salesforce api_version v${STAGED_MIN_API_VERSION}.0 or later ` +
      `(configured ${version.segment}); raise api_version for this connection`,
    {
      retryable: false,
      context: { step, apiVersion: version.segment, requiredApiVersion: `v${STAGED_MIN_API_VERSION}.0` },
    },
  );
}
