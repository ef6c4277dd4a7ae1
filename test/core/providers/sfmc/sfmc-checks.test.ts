import { describe, expect, it } from "vitest";
import { checkCredential } from "../../../../src/core/providers/provider-checks.ts";
import {
  checkSfmc,
  sfmcLiveTarget,
  sfmcTokenFinding,
} from "../../../../src/core/providers/sfmc/sfmc-checks.ts";
import { CTX, destinations, factsOf, MC_ORIGIN, PATH } from "../check-kit.ts";

const CANARY = "test-secret-canary-sfmc-check-41d7";
const GOOD_META = {
  provider: "sfmc",
  sfmc_tenant: "mc",
  expires_at: "2026-10-01T00:00:00Z",
};
const GOOD_DATA = { client_id: "mc-client-1", api_key: CANARY };

describe("checkSfmc", () => {
  it("finds nothing wrong with a configured tenant, client_id, api_key and a future expires_at", () => {
    expect(checkSfmc(factsOf(GOOD_META, GOOD_DATA), CTX)).toEqual([]);
  });

  it("uses the only tenant when sfmc_tenant is absent, and fails when there are several", () => {
    const { sfmc_tenant: _, ...meta } = GOOD_META;
    expect(checkSfmc(factsOf(meta, GOOD_DATA), CTX)).toEqual([]);
    const several = { ...CTX, destinations: destinations(["crm"], ["mc", "mc-eu"]) };
    expect(checkSfmc(factsOf(meta, GOOD_DATA), several)).toEqual([
      { mark: "FAIL", text: "no sfmc_tenant, and 2 are configured (mc, mc-eu): name one" },
    ]);
  });

  it("fails an sfmc_tenant that names no configured tenant, and a tenant limited to other prefixes", () => {
    expect(checkSfmc(factsOf({ ...GOOD_META, sfmc_tenant: "evil" }, GOOD_DATA), CTX)).toEqual([
      { mark: "FAIL", text: "sfmc_tenant evil is not in marketing_cloud.tenants (configured: mc)" },
    ]);
    const limited = { ...CTX, destinations: destinations(["crm"], ["mc"], ["api-credentials/other"]) };
    expect(checkSfmc(factsOf(GOOD_META, GOOD_DATA), limited)).toEqual([
      {
        mark: "FAIL",
        text: "sfmc_tenant mc may not be used under this path (marketing_cloud.tenants.mc.prefixes)",
      },
    ]);
  });

  it("fails an entry that still names its auth URL in sfmc_auth_url, saying how to move it", () => {
    const facts = factsOf({ ...GOOD_META, sfmc_auth_url: "https://evil.example" }, GOOD_DATA);
    expect(facts.item.state).toBe("invalid");
    expect(checkCredential(facts, CTX)).toEqual([
      {
        mark: "FAIL",
        text: "invalid: sfmc_auth_url is no longer read (a secret goes only to a host the config names): add the tenant under marketing_cloud.tenants, set sfmc_tenant to its name and remove sfmc_auth_url",
      },
    ]);
  });

  it("fails a missing client_id and an empty api_key, each on its own line", () => {
    const findings = checkSfmc(factsOf(GOOD_META, { api_key: "" }), CTX);
    expect(findings).toEqual([
      { mark: "FAIL", text: "no client_id in the secret data (the installed package's client id)" },
      { mark: "FAIL", text: "no api_key in the secret data (the secret in use)" },
    ]);
  });

  it("warns that the 180-day expiry is not tracked without expires_at, and says how to set it", () => {
    const { expires_at: _, ...meta } = GOOD_META;
    const [finding] = checkSfmc(factsOf(meta, GOOD_DATA), CTX);
    expect(finding?.mark).toBe("warn");
    expect(finding?.text).toContain("no expires_at: the 180-day expiry is not tracked");
    expect(finding?.text).toContain(`-custom-metadata=expires_at=<RFC 3339 time> secret/${PATH}`);
  });

  it("fails an expires_at that has passed", () => {
    const facts = factsOf({ ...GOOD_META, expires_at: "2026-06-01T00:00:00Z" }, GOOD_DATA);
    expect(checkSfmc(facts, CTX)).toEqual([
      {
        mark: "FAIL",
        text: "expires_at 2026-06-01T00:00:00.000Z has passed: the secret no longer works; stage a new one in Setup and paste it into pending_api_key",
      },
    ]);
  });

  it("notes a staged secret waiting in pending_api_key as ok, without its value", () => {
    const findings = checkSfmc(factsOf(GOOD_META, { ...GOOD_DATA, pending_api_key: `${CANARY}-new` }), CTX);
    expect(findings).toEqual([
      {
        mark: "ok",
        text: "a staged secret is waiting in pending_api_key; the rotator verifies it at the next scan",
      },
    ]);
    expect(JSON.stringify(findings)).not.toContain(CANARY);
  });

  it("ignores an empty pending_api_key (published or never pasted)", () => {
    expect(checkSfmc(factsOf(GOOD_META, { ...GOOD_DATA, pending_api_key: "" }), CTX)).toEqual([]);
  });
});

describe("the sfmc live check", () => {
  it("targets the configured tenant's origin with the client id, never a URL from the metadata", () => {
    expect(sfmcLiveTarget(factsOf(GOOD_META, GOOD_DATA), CTX)).toEqual({
      url: MC_ORIGIN,
      tenant: "mc",
      clientId: "mc-client-1",
    });
  });

  it("has no target without a usable tenant, a client_id or an api_key", () => {
    expect(sfmcLiveTarget(factsOf({ ...GOOD_META, sfmc_tenant: "nope" }, GOOD_DATA), CTX)).toBeUndefined();
    expect(sfmcLiveTarget(factsOf(GOOD_META, { api_key: CANARY }), CTX)).toBeUndefined();
    expect(sfmcLiveTarget(factsOf(GOOD_META, { client_id: "mc-client-1" }), CTX)).toBeUndefined();
  });

  it("reports a token as ok and a refusal as FAIL with the OAuth error, naming only the host and tenant", () => {
    const target = { url: MC_ORIGIN, tenant: "mc" };
    expect(sfmcTokenFinding({ ok: true }, target)).toEqual({
      mark: "ok",
      text: "the current api_key gets a token at mc123.auth.marketingcloudapis.com (tenant mc)",
    });
    const refused = sfmcTokenFinding({ ok: false, refusal: "invalid_client" }, target);
    expect(refused.mark).toBe("FAIL");
    expect(refused.text).toMatch(
      /^Marketing Cloud at mc123\.auth\.marketingcloudapis\.com \(tenant mc\) refuses the current api_key \(invalid_client\)/,
    );
  });
});
