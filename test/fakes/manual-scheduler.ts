// A Scheduler for tests on a FixedClock: no timer runs until the test moves time with advance(), which walks
// from timer to timer in due order, sets the clock to each one's due time, runs it and waits for the work it
// started (a lease renewal) before looking for the next. Moving the FixedClock directly runs nothing: that is a
// process paused past its timers.
import type { FixedClock, Scheduler, TimerHandle } from "../../src/core/time.ts";

interface Timer {
  readonly due: number;
  readonly seq: number;
  readonly fn: () => void | Promise<void>;
}

export class ManualScheduler implements Scheduler {
  readonly #clock: FixedClock;
  readonly #timers = new Map<number, Timer>();
  #seq = 0;
  /** Timers scheduled so far (fired, cancelled or pending). */
  scheduled = 0;

  constructor(clock: FixedClock) {
    this.#clock = clock;
  }

  schedule(fn: () => void | Promise<void>, delayMs: number): TimerHandle {
    const seq = ++this.#seq;
    this.scheduled += 1;
    this.#timers.set(seq, { due: this.#clock.now().getTime() + Math.max(0, delayMs), seq, fn });
    return seq as unknown as TimerHandle;
  }

  cancel(handle: TimerHandle): void {
    this.#timers.delete(handle as unknown as number);
  }

  /** Timers waiting to run. */
  get pending(): number {
    return this.#timers.size;
  }

  /** Moves the clock forward by `ms`, running every timer that falls due on the way. */
  async advance(ms: number): Promise<void> {
    const end = this.#clock.now().getTime() + ms;
    for (let i = 0; i < 1_000_000; i++) {
      const next = [...this.#timers.values()]
        .filter((t) => t.due <= end)
        .sort((a, b) => a.due - b.due || a.seq - b.seq)[0];
      if (next === undefined) break;
      this.#timers.delete(next.seq);
      this.#clock.advance(Math.max(0, next.due - this.#clock.now().getTime()));
      await next.fn();
    }
    this.#clock.advance(Math.max(0, end - this.#clock.now().getTime()));
  }
}
