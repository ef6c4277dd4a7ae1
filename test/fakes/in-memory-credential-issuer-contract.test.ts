// The CredentialIssuer contract against the in-memory fake the engine's unit tests use, in every rotate semantics, so
// the fake keeps the Salesforce adapter's behaviour (test/adapters/salesforce/salesforce-eca-issuer.test.ts).
import { FixedClock } from "../../src/core/time.ts";
import {
  describeCredentialIssuerContract,
  ROTATE_SEMANTICS,
} from "../contract/credential-issuer-contract.ts";
import { InMemoryCredentialIssuer } from "./in-memory-credential-issuer.ts";

const CONNECTION = "prod";
const ADMIN_KEY = "3MVG-contract-admin-key";

for (const semantics of ROTATE_SEMANTICS) {
  describeCredentialIssuerContract(`InMemoryCredentialIssuer (${semantics})`, async () => {
    const issuer = new InMemoryCredentialIssuer(new FixedClock("2026-03-01T09:00:00Z"), { semantics });
    issuer.setOwnClientId(CONNECTION, ADMIN_KEY);
    const app = issuer.addConsumer("Billing_Sync");
    const first = issuer.addConsumer("Multi_Consumer_App");
    const second = issuer.addConsumer("Multi_Consumer_App");
    return {
      issuer,
      connection: CONNECTION,
      app: { appId: app.appId, appName: "Billing_Sync", consumerId: app.consumerId },
      multiConsumerApp: {
        appId: first.appId,
        appName: "Multi_Consumer_App",
        consumerIds: [first.consumerId, second.consumerId],
      },
      semantics,
      adminClientId: ADMIN_KEY,
      mainPair: (a) => issuer.mainPair(a),
    };
  });
}
