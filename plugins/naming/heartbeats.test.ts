// The leader's TTL decisions, case by case: when a passing instance turns
// critical, when a critical one comes back or is removed, and the grace a
// new leader gives every instance so a failover expires none of them.

import { describe, expect, it } from "bun:test";
import { LeaderMemory, dueTtlChanges, ttlClock } from "./heartbeats.ts";
import type { TtlRow } from "./store.ts";

const T = 1_700_000_000_000;
const row = (over: Partial<TtlRow> = {}): TtlRow => ({
  service: "web",
  id: "w1",
  ttl_ms: 10_000,
  ttl_status: "passing",
  renewed_at: T,
  ttl_critical_since: null,
  deregister_after_ms: 60_000,
  modify_index: 7,
  ...over,
});

function memory(options: { since?: number; seen?: number } = {}): LeaderMemory {
  const m = new LeaderMemory();
  m.since = options.since ?? T - 100_000;
  if (options.seen !== undefined) m.heard("web", "w1", options.seen);
  return m;
}

describe("dueTtlChanges", () => {
  const cases: { name: string; row: TtlRow; memory: LeaderMemory; now: number; expect: unknown[] }[] = [
    { name: "a passing instance within its TTL of registering stays", row: row(), memory: memory(), now: T + 10_000, expect: [] },
    { name: "a passing instance not heard for longer than its TTL turns critical", row: row(), memory: memory(), now: T + 10_001, expect: [{ service: "web", id: "w1", ifIndex: 7, ttl: "critical" }] },
    { name: "a heartbeat restarts the TTL", row: row(), memory: memory({ seen: T + 8_000 }), now: T + 17_000, expect: [] },
    { name: "a new leader counts every instance as renewed when it took over", row: row(), memory: memory({ since: T + 30_000 }), now: T + 39_000, expect: [] },
    { name: "...and expires it one TTL after that if nothing comes", row: row(), memory: memory({ since: T + 30_000 }), now: T + 40_001, expect: [{ service: "web", id: "w1", ifIndex: 7, ttl: "critical" }] },
    { name: "a critical instance heard after it turned critical comes back", row: row({ ttl_status: "critical", ttl_critical_since: T + 11_000 }), memory: memory({ seen: T + 11_000 }), now: T + 11_500, expect: [{ service: "web", id: "w1", ifIndex: 7, ttl: "passing" }] },
    { name: "a heartbeat from before it turned critical does not bring it back", row: row({ ttl_status: "critical", ttl_critical_since: T + 11_000 }), memory: memory({ seen: T + 9_000 }), now: T + 12_000, expect: [] },
    { name: "a critical instance is removed after its grace", row: row({ ttl_status: "critical", ttl_critical_since: T + 11_000 }), memory: memory(), now: T + 71_000, expect: [{ service: "web", id: "w1", ifIndex: 7, remove: true }] },
    { name: "...but not before", row: row({ ttl_status: "critical", ttl_critical_since: T + 11_000 }), memory: memory(), now: T + 70_999, expect: [] },
    { name: "a new leader waits one TTL before removing, for heartbeats the old leader heard", row: row({ ttl_status: "critical", ttl_critical_since: T }), memory: memory({ since: T + 65_000 }), now: T + 70_000, expect: [] },
  ];
  for (const c of cases) {
    it(c.name, () => {
      expect(dueTtlChanges([c.row], c.memory, c.now)).toEqual(c.expect as never);
    });
  }

  // The console's countdown (ttlClock) must reach 0 exactly where the sweep decides, or the page would say one thing and the leader do another.
  for (const c of cases.filter((c) => !(c.expect as { ttl?: string }[]).some((e) => e.ttl === "passing"))) {
    it(`ttlClock agrees: ${c.name}`, () => {
      const clock = ttlClock(c.row, c.memory, c.now);
      expect(clock.due).toBe(c.row.ttl_status === "passing" ? "critical" : "remove");
      expect(c.row.ttl_status === "passing" ? clock.dueInMs < 0 : clock.dueInMs <= 0).toBe(c.expect.length > 0);
    });
  }

  it("ttlClock counts from the last heartbeat heard and from when this node became leader", () => {
    expect(ttlClock(row(), memory({ seen: T + 8_000 }), T + 9_000)).toEqual({ lastSignAgoMs: 1_000, dueInMs: 9_000, due: "critical" });
    const m = memory();
    m.leaderSince = T + 20_000;
    expect(ttlClock(row(), m, T + 21_000)).toEqual({ lastSignAgoMs: 1_000, dueInMs: 9_000, due: "critical" });
  });

  it("forgets the heartbeats of instances that are gone", () => {
    const m = memory({ seen: T });
    m.heard("web", "gone", T);
    dueTtlChanges([row()], m, T + 1);
    expect([...m.seen.keys()]).toEqual(["web\u0000w1"]);
  });
});

describe("LeaderMemory.beginSweep", () => {
  it("starts a new stretch after a gap, when the node became leader, and not between regular sweeps", () => {
    const m = new LeaderMemory();
    m.beginSweep(T, 1_000, 2_000);
    expect(m.since).toBe(T);
    m.beginSweep(T + 250, 1_250, 2_000);
    expect(m.since).toBe(T);
    m.beginSweep(T + 5_000, 6_000, 2_000);
    expect(m.since).toBe(T + 5_000);
    m.leaderSince = T + 5_100;
    m.beginSweep(T + 5_250, 6_250, 2_000);
    expect(m.since).toBe(T + 5_100);
  });
});
