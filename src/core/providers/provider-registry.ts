// The providers this build knows, by the `provider` metadata key (and the journal's `provider` field). The
// composition root hands this set to the engine, and the scan, chat and CLI ask it for each provider's words.
// Adding a provider is its folder and one entry here. manual is tracked (deadlines, report, chat) but not rotated
// by the engine (a profile, not a RotationProvider). sfmc is rotated only on an operator's flag (assisted:
// startsOnSchedule=false). The order is the order the `provider` reason lists the names in.
import { manualProvider } from "../manual/manual-checks.ts";
import { ProviderSet } from "../rotation/engine-deps.ts";
import { generatedProvider } from "./generated/generated-provider.ts";
import { salesforceEcaProvider } from "./salesforce-eca/salesforce-eca-provider.ts";
import { sfmcProvider } from "./sfmc/sfmc-provider.ts";

export const PROVIDERS = new ProviderSet([
  salesforceEcaProvider,
  sfmcProvider,
  generatedProvider,
  manualProvider,
]);

/** Whether the engine rotates credentials of this `provider` value (for the scan's views and chat's words). */
export function isRotatedByEngine(name: string | undefined): boolean {
  return PROVIDERS.rotates(name);
}
