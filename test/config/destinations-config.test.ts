// Where secrets may go is configuration, never metadata: marketing_cloud.tenants (auth hosts) and the prefixes a
// Salesforce connection or tenant may serve. Errors name the key, never a value.
import { describe, expect, it } from "vitest";
import { classifyDefaultsOf, destinationsOf } from "../../src/config/load-config.ts";
import { load, problemsOf } from "./config-test-helpers.ts";

const CONNECTION = `salesforce:
  connections:
    prod:
      my_domain_url: https://acme.my.salesforce.com
      credentials_path: eca-rotator/connections/prod
`;

describe("marketing_cloud.tenants", () => {
  it("reads tenants with their auth host origin, loopback switch and prefixes", () => {
    const cfg = load(`vault: { prefixes: [api-credentials] }
marketing_cloud:
  tenants:
    acme:
      auth_url: https://mc123abc.auth.marketingcloudapis.com/
      prefixes: [api-credentials/marketing]
    sim:
      auth_url: http://127.0.0.1:9999
      allow_loopback_http: true
`);
    expect(cfg.marketingCloud.tenants).toEqual([
      {
        name: "acme",
        authUrl: "https://mc123abc.auth.marketingcloudapis.com",
        allowLoopbackHttp: false,
        prefixes: ["api-credentials/marketing"],
      },
      { name: "sim", authUrl: "http://127.0.0.1:9999", allowLoopbackHttp: true, prefixes: undefined },
    ]);
    expect(cfg.origins?.["marketing_cloud.tenants.acme.auth_url"]).toBe("file");
  });

  it("has no tenants by default", () => {
    expect(load(undefined).marketingCloud.tenants).toEqual([]);
  });

  it.each([
    [
      "https://attacker.example",
      "must be https://<subdomain>.auth.marketingcloudapis.com (a secret is sent there)",
    ],
    [
      "http://mc1.auth.marketingcloudapis.com",
      "must be https://<subdomain>.auth.marketingcloudapis.com (a secret is sent there)",
    ],
    [
      "https://auth.marketingcloudapis.com.attacker.example",
      "must be https://<subdomain>.auth.marketingcloudapis.com (a secret is sent there)",
    ],
    [
      "https://x.y.auth.marketingcloudapis.com",
      "must be https://<subdomain>.auth.marketingcloudapis.com (a secret is sent there)",
    ],
    [
      "http://127.0.0.1:9999",
      "is a loopback address: set allow_loopback_http: true for the simulator or tests",
    ],
    ["https://mc1.auth.marketingcloudapis.com/v2/token", "must be scheme://host[:port] without a path"],
  ])("refuses auth_url %s, naming the key and not the value", (url, message) => {
    const problems = problemsOf(`marketing_cloud: { tenants: { acme: { auth_url: "${url}" } } }`);
    expect(problems).toEqual([`marketing_cloud.tenants.acme.auth_url: ${message}`]);
    expect(problems.join("\n")).not.toContain("attacker");
  });

  it("allows a loopback auth host only with allow_loopback_http, and never a remote one through it", () => {
    expect(
      load(
        `marketing_cloud: { tenants: { t: { auth_url: "http://localhost:1", allow_loopback_http: true } } }`,
      ).marketingCloud.tenants[0]?.authUrl,
    ).toBe("http://localhost:1");
    expect(
      problemsOf(
        `marketing_cloud: { tenants: { t: { auth_url: "http://10.0.0.5:80", allow_loopback_http: true } } }`,
      ),
    ).toEqual([
      "marketing_cloud.tenants.t.auth_url: must be https://<subdomain>.auth.marketingcloudapis.com (a secret is sent there)",
    ]);
  });

  it("names unknown tenant keys and bad tenant names", () => {
    const problems = problemsOf(`marketing_cloud:
  tenants:
    "bad name": { auth_url: https://a.auth.marketingcloudapis.com }
    ok: { auth_url: https://a.auth.marketingcloudapis.com, authurl: x }
`);
    expect(problems.some((p) => p.includes("tenant names use letters, digits"))).toBe(true);
    expect(problems.some((p) => p.startsWith("marketing_cloud.tenants.ok.authurl:"))).toBe(true);
  });
});

describe("prefixes of connections and tenants", () => {
  it("reads a connection's prefixes and turns both kinds into destinations", () => {
    const cfg = load(`vault: { prefixes: [api-credentials] }
salesforce:
  connections:
    prod:
      my_domain_url: https://acme.my.salesforce.com
      credentials_path: eca-rotator/connections/prod
      prefixes: [api-credentials/payroll, api-credentials/crm/]
marketing_cloud: { tenants: { acme: { auth_url: https://mc1.auth.marketingcloudapis.com } } }
`);
    expect(cfg.salesforce.connections[0]?.prefixes).toEqual([
      "api-credentials/payroll",
      "api-credentials/crm",
    ]);
    expect(destinationsOf(cfg)).toEqual({
      connections: [
        {
          name: "prod",
          origin: "https://acme.my.salesforce.com",
          prefixes: ["api-credentials/payroll", "api-credentials/crm"],
        },
      ],
      tenants: [{ name: "acme", origin: "https://mc1.auth.marketingcloudapis.com", prefixes: undefined }],
    });
    expect(classifyDefaultsOf(cfg).destinations).toEqual(destinationsOf(cfg));
  });

  it("refuses a prefix outside vault.prefixes (no credential could ever use it) and an empty list", () => {
    expect(
      problemsOf(`vault: { prefixes: [api-credentials] }
${CONNECTION}      prefixes: [other-team]
marketing_cloud: { tenants: { acme: { auth_url: https://mc1.auth.marketingcloudapis.com, prefixes: [] } } }
`),
    ).toEqual([
      "marketing_cloud.tenants.acme.prefixes: must not be empty (leave it out to allow every prefix)",
    ]);
    expect(
      problemsOf(`vault: { prefixes: [api-credentials] }
${CONNECTION}      prefixes: [other-team, api-credentials/ok]
`),
    ).toEqual([
      "salesforce.connections.prod.prefixes[0]: lies outside vault.prefixes, so no credential could use it",
    ]);
  });
});
