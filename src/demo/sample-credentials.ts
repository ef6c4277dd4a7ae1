// The demo's sample credentials: a handful of realistic entries in mixed states, dated relative to "now" so
// the demo shows the same picture whenever it runs. No value here is a real secret.
const DAY = 86_400_000;

/** A consumer's real pair in the Salesforce simulator, by the app's developer name (eca_app_name). */
export interface SamplePair {
  readonly appId: string;
  readonly clientId: string;
  readonly secret: string;
}

/** The External Client Apps the samples name; the demo creates them in its simulator so they can rotate. */
export const SAMPLE_APPS = [
  "CRM_Integration",
  "Payments_Gateway",
  "Partner_Portal",
  "Support_Console",
] as const;

export interface SampleCredential {
  readonly path: string;
  readonly data: Record<string, string>;
  readonly customMetadata?: Record<string, string>;
  /** What `scan` should call it; the demo prints this beside the real answer in its tests. */
  readonly expectedState: string;
}

function ago(now: Date, days: number): string {
  return new Date(now.getTime() - days * DAY).toISOString();
}

function ahead(now: Date, days: number): string {
  return new Date(now.getTime() + days * DAY).toISOString();
}

function fakePair(name: string): Record<string, string> {
  return {
    client_id: `3MVG9demo${name}`,
    api_key: `demo-not-a-secret-${name}`,
    previous_client_id: "",
    previous_key: "",
  };
}

/** The sample whose soak ends on its readers' evidence when the demo has a reader feed (under the prefix). */
export const READERS_SAMPLE = "salesforce/crm-integration";

/**
 * The samples under `prefix`. With `pairs`, the Salesforce samples whose app is in it hold that app's real pair
 * and name it by id (eca_app_id), so a rotator pointed at the simulator can rotate them. `readers`: a reader
 * feed runs, so READERS_SAMPLE promotes once its consumers have read the new pair (at most a minute).
 */
export function sampleCredentials(
  prefix: string,
  now: Date,
  pairs: ReadonlyMap<string, SamplePair> = new Map(),
  readers = false,
): SampleCredential[] {
  return withPairs(pairs, [
    {
      path: `${prefix}/${READERS_SAMPLE}`,
      data: fakePair("crm"),
      customMetadata: {
        provider: "salesforce-eca",
        eca_app_name: "CRM_Integration",
        consumers: "crm-sync,nightly-reporting",
        rotation_contact: "#crm-oncall",
        last_rotated: ago(now, 200),
        rotation_verified_at: ago(now, 200),
        ...(readers ? { soak_until: "readers", soak_max: "60s" } : {}),
      },
      expectedState: "overdue",
    },
    {
      path: `${prefix}/salesforce/payments-gateway`,
      data: fakePair("payments"),
      customMetadata: {
        provider: "salesforce-eca",
        eca_app_name: "Payments_Gateway",
        risk: "high",
        consumers: "checkout-api",
        rotation_contact: "payments-team@example.com",
        last_rotated: ago(now, 80),
        rotation_verified_at: ago(now, 80),
      },
      expectedState: "due_soon",
    },
    {
      path: `${prefix}/salesforce/partner-portal`,
      data: fakePair("partner"),
      customMetadata: {
        provider: "salesforce-eca",
        eca_app_name: "Partner_Portal",
        consumers: "partner-portal-web",
        last_rotated: ago(now, 20),
        rotation_verified_at: ago(now, 20),
      },
      expectedState: "ok",
    },
    {
      path: `${prefix}/salesforce/support-console`,
      data: fakePair("support"),
      customMetadata: {
        provider: "salesforce-eca",
        eca_app_name: "Support_Console",
        rotate: "now",
        rotate_reason: "INC-4211: secret pasted into a ticket",
        last_rotated: ago(now, 30),
        rotation_verified_at: ago(now, 30),
      },
      expectedState: "flagged",
    },
    {
      path: `${prefix}/salesforce/analytics-sync`,
      data: fakePair("analytics"),
      customMetadata: {
        provider: "salesforce-eca",
        eca_app_name: "Analytics_Sync",
        rotation_state: "failed",
        last_rotation_error:
          "SALESFORCE_NOT_ENABLED: consumer secrets are not readable over REST in this org",
        last_rotated: ago(now, 100),
        rotation_verified_at: ago(now, 100),
      },
      expectedState: "failed",
    },
    {
      path: `${prefix}/marketing/journey-builder-package`,
      data: { client_id: "demo-mc-client", api_key: "demo-not-a-secret-mc" },
      customMetadata: {
        provider: "sfmc",
        expires_at: ahead(now, 9),
        consumers: "journey-builder",
        rotation_contact: "#marketing-ops",
        last_rotated: ago(now, 171),
        rotation_verified_at: ago(now, 171),
      },
      expectedState: "due_soon",
    },
    {
      path: `${prefix}/webhooks/billing-signing-secret`,
      data: { current_secret: "demo-not-a-secret-webhook", previous_secret: "" },
      customMetadata: {
        provider: "generated",
        credential_type: "webhook_secret",
        last_rotated: ago(now, 3),
      },
      expectedState: "unverified",
    },
    {
      path: `${prefix}/legacy/erp-export`,
      data: fakePair("erp"),
      customMetadata: { provider: "salesforce-eca", eca_app_name: "ERP_Export", rotation_period: "banana" },
      expectedState: "invalid",
    },
    {
      path: `${prefix}/notes/shared-test-login`,
      data: { note: "not managed by eca-rotator" },
      expectedState: "unmanaged",
    },
  ]);
}

function withPairs(pairs: ReadonlyMap<string, SamplePair>, samples: SampleCredential[]): SampleCredential[] {
  return samples.map((sample) => {
    const app = sample.customMetadata?.["eca_app_name"];
    const pair = app === undefined ? undefined : pairs.get(app);
    if (pair === undefined || sample.customMetadata === undefined) return sample;
    const { eca_app_name: _name, ...metadata } = sample.customMetadata;
    return {
      ...sample,
      data: { ...sample.data, client_id: pair.clientId, api_key: pair.secret },
      customMetadata: { ...metadata, eca_app_id: pair.appId },
    };
  });
}
