// The engine's fakes run the same contract suites as the real adapters (Vault on OpenBao, Salesforce on the
// simulator), so what the engine tests prove with the fakes holds for the real ports.

import { FixedClock } from "../../src/core/time.ts";
import {
  describeCredentialIssuerContract,
  ROTATE_SEMANTICS,
} from "../contract/credential-issuer-contract.ts";
import { describeCredentialStoreContract } from "../contract/credential-store-contract.ts";
import { describeStateStoreContract } from "../contract/state-store-contract.ts";
import { InMemoryCredentialIssuer } from "./in-memory-credential-issuer.ts";
import { InMemoryCredentialStore } from "./in-memory-credential-store.ts";
import { InMemoryStateStore } from "./in-memory-state-store.ts";

let serial = 0;

describeCredentialStoreContract("InMemoryCredentialStore", async () => {
  const store = new InMemoryCredentialStore();
  const base = `api-credentials/fake-${++serial}`;
  return {
    store,
    path: (name) => `${base}/${name}`,
    seed: async (path, data, customMetadata) => store.put(path, data, customMetadata),
    deleteCurrentVersion: async (path) => store.deleteCurrentVersion(path),
    raw: async (path) => {
      try {
        const c = store.current(path);
        return { version: c.version, data: c.data, customMetadata: c.metadata };
      } catch {
        return undefined;
      }
    },
  };
});

describeStateStoreContract("InMemoryStateStore", async () => ({ store: new InMemoryStateStore() }));

for (const semantics of ROTATE_SEMANTICS) {
  describeCredentialIssuerContract(`InMemoryCredentialIssuer (${semantics})`, async () => {
    const issuer = new InMemoryCredentialIssuer(new FixedClock("2026-03-02T10:00:00Z"), { semantics });
    issuer.setOwnClientId("prod", "3MVG-admin-app");
    const one = issuer.addConsumer("Crm_Integration");
    const multi = [issuer.addConsumer("Shared_App"), issuer.addConsumer("Shared_App")];
    return {
      issuer,
      connection: "prod",
      app: { appId: one.appId, appName: "Crm_Integration", consumerId: one.consumerId },
      multiConsumerApp: {
        appId: multi[0]?.appId ?? "",
        appName: "Shared_App",
        consumerIds: multi.map((m) => m.consumerId),
      },
      semantics,
      adminClientId: "3MVG-admin-app",
      mainPair: (app) => issuer.mainPair(app),
    };
  });
}
