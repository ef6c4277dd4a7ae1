// SIGKILL at the main boundaries of an emergency (revoke-first) rotation in every rotate semantics, through real
// `run --once` processes on bao and the simulator; the next runs settle it into one clean rotation.
import { describe, it } from "vitest";
import { ROTATE_SEMANTICS } from "../../src/simulator/salesforce/sim-settings.ts";
import { boundaries, CALLS, crashAndSettle } from "./crash-matrix-kit.ts";

describe("an emergency rotation killed at a main step boundary", () => {
  for (const semantics of ROTATE_SEMANTICS) {
    for (const spec of boundaries(CALLS.emergency[semantics])) {
      it.concurrent(`${semantics}: dies at ${spec}; run --once settles it into one clean rotation`, async () => {
        await crashAndSettle(spec, "emergency", semantics);
      }, 90_000);
    }
  }
});
