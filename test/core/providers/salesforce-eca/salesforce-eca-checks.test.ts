import { describe, expect, it } from "vitest";
import { checkSalesforceEca } from "../../../../src/core/providers/salesforce-eca/salesforce-eca-checks.ts";
import { CTX, destinations, factsOf } from "../check-kit.ts";

const CANARY = "test-secret-canary-eca-check-5be0";
const META = { provider: "salesforce-eca", sf_connection: "crm", eca_app_name: "Billing_Sync" };
const DATA = { client_id: "3MVG9-key", api_key: CANARY };

describe("checkSalesforceEca", () => {
  it("finds nothing wrong with a configured connection, an app name and the pair in KV", () => {
    expect(checkSalesforceEca(factsOf(META, DATA), CTX)).toEqual([]);
  });

  it("fails an sf_connection that names no configured connection", () => {
    expect(checkSalesforceEca(factsOf({ ...META, sf_connection: "erp" }, DATA), CTX)).toEqual([
      { mark: "FAIL", text: "sf_connection erp is not in salesforce.connections (configured: crm)" },
    ]);
  });

  it("uses the only connection when sf_connection is absent, and fails when there are several", () => {
    const { sf_connection: _, ...meta } = META;
    expect(checkSalesforceEca(factsOf(meta, DATA), CTX)).toEqual([]);
    const several = { ...CTX, destinations: destinations(["crm", "erp"]) };
    expect(checkSalesforceEca(factsOf(meta, DATA), several)).toEqual([
      { mark: "FAIL", text: "no sf_connection, and 2 are configured (crm, erp): name one" },
    ]);
    expect(checkSalesforceEca(factsOf(meta, DATA), { ...CTX, destinations: destinations([]) })).toEqual([
      { mark: "FAIL", text: "no Salesforce connection is configured (salesforce.connections)" },
    ]);
  });

  it("fails a connection limited to other prefixes, naming the config key", () => {
    const limited = { ...CTX, destinations: destinations(["crm"], [], ["api-credentials/other-team"]) };
    expect(checkSalesforceEca(factsOf(META, DATA), limited)).toEqual([
      {
        mark: "FAIL",
        text: "sf_connection crm may not be used under this path (salesforce.connections.crm.prefixes)",
      },
    ]);
    const allowed = { ...CTX, destinations: destinations(["crm"], [], ["api-credentials/team"]) };
    expect(checkSalesforceEca(factsOf(META, DATA), allowed)).toEqual([]);
  });

  it("fails when KV lacks the consumer key or secret", () => {
    expect(checkSalesforceEca(factsOf(META, {}), CTX)).toEqual([
      { mark: "FAIL", text: "no client_id in the secret data (the consumer key)" },
      { mark: "FAIL", text: "no api_key in the secret data (the consumer secret)" },
    ]);
  });
});
