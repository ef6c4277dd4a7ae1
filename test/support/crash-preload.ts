// `node --import` preload of the end-to-end crash tests (crash-at.ts): arms the switch from
// ECA_ROTATOR_TEST_CRASH_AT on the real adapter classes, before the CLI imports them.
import { SalesforceEcaIssuer } from "../../src/adapters/salesforce/salesforce-eca-issuer.ts";
import { VaultCredentialStore } from "../../src/adapters/vault/kv-v2.ts";
import { VaultStateStore } from "../../src/adapters/vault/vault-state-store.ts";
import { CRASH_AT_VARIABLE, CrashCounter, parseCrashSpec } from "./crash-at.ts";

const text = process.env[CRASH_AT_VARIABLE];
if (text !== undefined && text !== "") {
  const counter = new CrashCounter(parseCrashSpec(text));
  counter.patch("issuer", SalesforceEcaIssuer.prototype);
  counter.patch("store", VaultCredentialStore.prototype);
  counter.patch("state", VaultStateStore.prototype);
}
