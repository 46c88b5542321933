import { describe, expect, it } from "bun:test";
import { TickClock } from "../../src/raft/tick-clock.ts";

describe("TickClock", () => {
  it("counts ticks from elapsed time, carrying the remainder, and caps a long stall", () => {
    let now = 1_000;
    const clock = new TickClock(50, 30, () => now);
    const cases: [advanceMs: number, ticks: number, stalledMs: number][] = [
      [10, 0, 0],
      [40, 1, 0], // 50 ms in all
      [49, 0, 0],
      [1, 1, 0], // the 49 ms carried over
      [120, 2, 100], // a late timer: two ticks at once
      [30, 1, 0], // 120+30 leaves 20+30 = 50
      [60_000, 30, 60_000], // a stall: capped, the rest dropped
      [50, 1, 0],
    ];
    for (const [advance, ticks, stalled] of cases) {
      now += advance;
      expect(clock.due()).toEqual({ ticks, stalledMs: stalled });
    }
  });
});
