// Snapshots and log compaction (§7): user-triggered and automatic snapshots,
// compaction behind them, a restart from a snapshot, and a follower that fell
// behind the compaction point catching up with InstallSnapshot.

import { describe, expect, it } from "bun:test";
import type { LogFields, Logger } from "../../../src/raft/logger.ts";
import { bytes, makeCluster, waitFor } from "../harness.ts";

function capture(lines: string[]): Logger {
  const push = (m: string, _f?: LogFields) => lines.push(m);
  return { debug: () => {}, info: push, warn: push, error: push };
}

async function applyMany(node: { apply(b: Uint8Array): Promise<{ index: number }> }, prefix: string, n: number): Promise<number> {
  const results = await Promise.all(Array.from({ length: n }, (_, i) => node.apply(bytes(`${prefix}${i}`))));
  return results.at(-1)!.index;
}

describe("Snapshot", () => {
  it("snapshot() stores the state machine at the last applied command and compacts the log, keeping trailingLogs", async () => {
    const lines: string[] = [];
    const c = await makeCluster(1, { trailingLogs: 5, logger: () => capture(lines) });
    try {
      const leader = await c.leader();
      const last = await applyMany(leader, "x", 30);
      const meta = await leader.snapshot();
      expect(meta.index).toBe(last);
      expect(meta.configuration.servers.map((s) => s.id)).toEqual(["n1"]);
      const stats = leader.stats();
      expect(stats.snapshotIndex).toBe(last);
      expect(stats.firstIndex).toBe(last - 5 + 1);
      expect(c.member("n1").storage!.log.firstIndex()).toBe(last - 5 + 1);
      const stored = await c.member("n1").snapshots.latest();
      expect(stored?.stored.meta.index).toBe(last);
      expect(lines).toContain("snapshot taken");
      // Nothing new applied: the existing snapshot is returned, none is written.
      expect((await leader.snapshot()).index).toBe(last);
    } finally {
      await c.shutdown();
    }
  });

  it("takes snapshots on its own once snapshotThreshold entries were applied", async () => {
    const c = await makeCluster(1, { snapshotThreshold: 20, snapshotIntervalMs: 20, trailingLogs: 0 });
    try {
      const leader = await c.leader();
      const last = await applyMany(leader, "x", 25);
      await waitFor("an automatic snapshot", () => leader.stats().snapshotIndex >= 20);
      expect(leader.stats().firstIndex).toBe(leader.stats().snapshotIndex + 1);
      expect(leader.stats().snapshotIndex).toBeLessThanOrEqual(last);
    } finally {
      await c.shutdown();
    }
  });

  it("snapshots as soon as the threshold is reached by applying, not at the next interval check", async () => {
    // The interval check would come only after a minute: a write-heavy node must not hold a minute of log.
    const c = await makeCluster(1, { snapshotThreshold: 20, snapshotIntervalMs: 60_000, trailingLogs: 0 });
    try {
      const leader = await c.leader();
      await applyMany(leader, "t", 45);
      await waitFor("a snapshot taken on reaching the threshold", () => leader.stats().snapshotIndex >= 20);
      await applyMany(leader, "u", 30);
      await waitFor("another one 20 entries later", () => leader.stats().snapshotIndex >= 40);
    } finally {
      await c.shutdown();
    }
  });

  it("takes a new snapshot policy at once (the YAML reloads it live)", async () => {
    // Checks once a minute, at 8,192 entries: nothing would happen in this test.
    const c = await makeCluster(1, { snapshotThreshold: 8192, snapshotIntervalMs: 60_000, trailingLogs: 0 });
    try {
      const leader = await c.leader();
      await applyMany(leader, "y", 25);
      expect(leader.stats().snapshotIndex).toBe(0);
      leader.setSnapshotPolicy({ threshold: 20, intervalMs: 20, trailingLogs: 0 });
      await waitFor("a snapshot under the new policy", () => leader.stats().snapshotIndex >= 20);
    } finally {
      await c.shutdown();
    }
  });

  it("a restarted node restores its state machine from the snapshot and replays only the entries after it", async () => {
    const c = await makeCluster(1, { trailingLogs: 0 });
    try {
      let leader = await c.leader();
      await applyMany(leader, "a", 10);
      await leader.snapshot();
      const last = await applyMany(leader, "b", 5);
      await c.crash("n1");
      leader = await c.restart("n1");
      await waitFor("the restart to replay the log", () => leader.stats().appliedIndex >= last);
      expect(c.fsm("n1").restores).toBe(1);
      const expected = [...Array.from({ length: 10 }, (_, i) => `a${i}`), ...Array.from({ length: 5 }, (_, i) => `b${i}`)];
      expect(c.fsm("n1").items).toEqual(expected);
      expect(leader.stats().snapshotIndex).toBeGreaterThan(0);
    } finally {
      await c.shutdown();
    }
  });

  it("§7 a follower behind the compaction point catches up by InstallSnapshot", async () => {
    const lines: string[] = [];
    const c = await makeCluster(3, { trailingLogs: 0, logger: () => capture(lines) });
    try {
      const leader = await c.leader();
      const lagging = c.nodes().find((n) => n !== leader)!;
      c.partition(lagging.id);
      await applyMany(leader, "x", 50);
      await leader.snapshot();
      expect(leader.stats().firstIndex).toBeGreaterThan(lagging.stats().lastIndex + 1);
      c.heal();
      const last = await applyMany(leader, "y", 3);
      await c.waitForReplication(last);
      expect(c.fsm(lagging.id).restores).toBe(1);
      expect(lines).toContain("installed a snapshot from the leader");
      const items = await c.ensureSame();
      expect(items).toHaveLength(53);
      // The follower persisted the snapshot and a log that continues it.
      expect((await c.member(lagging.id).snapshots.latest())?.stored.meta.index).toBe(leader.stats().snapshotIndex);
      const log = c.member(lagging.id).storage!.log;
      expect(log.firstIndex()).toBe(leader.stats().snapshotIndex + 1);
      expect(log.lastIndex()).toBe(last);
    } finally {
      await c.shutdown();
    }
  });
});
