// SIGKILL at every step boundary of a standard rotation with the "overlap-new-shown" rotate semantics (the rotated
// record shows the new pair while the former pair lives until it is deleted), through real `run --once` processes
// on bao and the simulator; the next runs settle it into one clean rotation.
import { describe, it } from "vitest";
import { boundaries, CALLS, crashAndSettle } from "./crash-matrix-kit.ts";

describe("a standard rotation (overlap-new-shown) killed at a step boundary", () => {
  for (const spec of boundaries(CALLS.standard["overlap-new-shown"])) {
    it.concurrent(`dies at ${spec}; run --once settles it into one clean rotation`, async () => {
      await crashAndSettle(spec, "standard", "overlap-new-shown");
    }, 90_000);
  }
});
