// Turns elapsed monotonic time into core ticks.
//
// A setInterval timer fires late or not at all while the event loop is busy
// (a long fsync, a GC pause, SIGSTOP). Counting timer callbacks would then
// make the core's clock run slow, and a leader whose clock runs slow keeps
// its lease after the followers' election timeouts have passed: a stale read.
// So the node asks this clock how many ticks are due from real elapsed time,
// before every tick and before every lease read.

export class TickClock {
  private last: number;

  constructor(
    private readonly tickMs: number,
    /** More ticks than this at once change nothing (every timeout has passed), so they are dropped. */
    private readonly maxCatchUp: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.last = now();
  }

  /** Ticks due since the last call, and how long the clock was away when that is more than one tick. */
  due(): { ticks: number; stalledMs: number } {
    const now = this.now();
    const whole = Math.floor((now - this.last) / this.tickMs);
    if (whole <= 0) return { ticks: 0, stalledMs: 0 };
    this.last += whole * this.tickMs;
    return { ticks: Math.min(whole, this.maxCatchUp), stalledMs: whole > 1 ? whole * this.tickMs : 0 };
  }
}
