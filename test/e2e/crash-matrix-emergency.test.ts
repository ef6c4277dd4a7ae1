// SIGKILL at the main boundaries of an emergency (revoke-first) rotation in both rotate semantics, through real
// `run --once` processes on bao and the simulator; the next runs settle it into one clean rotation.
import { describe, it } from "vitest";
import { boundaries, CALLS, crashAndSettle, type Semantics } from "./crash-matrix-kit.ts";

describe("an emergency rotation killed at a main step boundary", () => {
  for (const semantics of ["overlap", "immediate"] as Semantics[]) {
    for (const spec of boundaries(CALLS.emergency[semantics])) {
      it.concurrent(`${semantics}: dies at ${spec}; run --once settles it into one clean rotation`, async () => {
        await crashAndSettle(spec, "emergency", semantics);
      }, 90_000);
    }
  }
});
