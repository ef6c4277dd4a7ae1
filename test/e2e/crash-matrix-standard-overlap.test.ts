// SIGKILL at every step boundary of a standard rotation with Salesforce's "overlap" rotate semantics, through real
// `run --once` processes on bao and the simulator; the next runs settle it into one clean rotation.
import { describe, it } from "vitest";
import { boundaries, CALLS, crashAndSettle } from "./crash-matrix-kit.ts";

describe("a standard rotation (overlap) killed at a step boundary", () => {
  for (const spec of boundaries(CALLS.standard.overlap)) {
    it.concurrent(`dies at ${spec}; run --once settles it into one clean rotation`, async () => {
      await crashAndSettle(spec, "standard", "overlap");
    }, 90_000);
  }
});
