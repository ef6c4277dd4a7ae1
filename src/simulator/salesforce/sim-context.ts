// What every route handler may touch: the org, the switches, the clock and the server's own URL.
import type { Clock } from "../../core/time.ts";
import type { SimSettings } from "./sim-settings.ts";
import type { SimOrgState } from "./sim-state.ts";

export interface SimContext {
  readonly state: SimOrgState;
  readonly settings: SimSettings;
  readonly clock: Clock;
  /** `http://127.0.0.1:PORT`, the instance_url handed out with every token. */
  readonly baseUrl: () => string;
}

export function nowMs(ctx: SimContext): number {
  return ctx.clock.now().getTime();
}
