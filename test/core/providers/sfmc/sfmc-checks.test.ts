import { describe, expect, it } from "vitest";
import {
  checkSfmc,
  sfmcLiveTarget,
  sfmcTokenFinding,
} from "../../../../src/core/providers/sfmc/sfmc-checks.ts";
import { CTX, factsOf, PATH } from "../check-kit.ts";

const CANARY = "test-secret-canary-sfmc-check-41d7";
const GOOD_META = {
  provider: "sfmc",
  sfmc_auth_url: "https://mc123.auth.marketingcloudapis.com/",
  expires_at: "2026-10-01T00:00:00Z",
};
const GOOD_DATA = { client_id: "mc-client-1", api_key: CANARY };

describe("checkSfmc", () => {
  it("finds nothing wrong with an https auth URL, client_id, api_key and a future expires_at", () => {
    expect(checkSfmc(factsOf(GOOD_META, GOOD_DATA), CTX)).toEqual([]);
  });

  it("fails a credential without sfmc_auth_url, naming the key", () => {
    const { sfmc_auth_url: _, ...meta } = GOOD_META;
    expect(checkSfmc(factsOf(meta, GOOD_DATA), CTX)).toEqual([
      { mark: "FAIL", text: "no sfmc_auth_url in the metadata (the tenant's auth base URL)" },
    ]);
  });

  it("fails an http auth URL that is not on loopback", () => {
    const facts = factsOf(
      { ...GOOD_META, sfmc_auth_url: "http://mc123.auth.marketingcloudapis.com" },
      GOOD_DATA,
    );
    expect(checkSfmc(facts, CTX)).toEqual([
      { mark: "FAIL", text: "sfmc_auth_url must be https (http only on loopback)" },
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
  it("targets the normalised auth URL with the client id when the configuration allows it", () => {
    expect(sfmcLiveTarget(factsOf(GOOD_META, GOOD_DATA))).toEqual({
      url: "https://mc123.auth.marketingcloudapis.com",
      clientId: "mc-client-1",
    });
  });

  it("has no target without a usable URL, a client_id or an api_key", () => {
    expect(sfmcLiveTarget(factsOf({ ...GOOD_META, sfmc_auth_url: "nope" }, GOOD_DATA))).toBeUndefined();
    expect(sfmcLiveTarget(factsOf(GOOD_META, { api_key: CANARY }))).toBeUndefined();
    expect(sfmcLiveTarget(factsOf(GOOD_META, { client_id: "mc-client-1" }))).toBeUndefined();
  });

  it("reports a token as ok and a refusal as FAIL with the OAuth error, naming only the host", () => {
    const url = "https://mc123.auth.marketingcloudapis.com";
    expect(sfmcTokenFinding({ ok: true }, url)).toEqual({
      mark: "ok",
      text: "the current api_key gets a token at mc123.auth.marketingcloudapis.com",
    });
    const refused = sfmcTokenFinding({ ok: false, refusal: "invalid_client" }, url);
    expect(refused.mark).toBe("FAIL");
    expect(refused.text).toMatch(
      /^Marketing Cloud at mc123\.auth\.marketingcloudapis\.com refuses the current api_key \(invalid_client\)/,
    );
  });
});
