// Partitions and crashes while clients write: every acknowledged write must
// survive on every node, in the same order (§5.4 Leader Completeness, §5.3
// State Machine Safety), and nothing unacknowledged may appear twice.

import { describe, expect, it } from "bun:test";
import { seededRandom } from "../../../src/raft/core/random.ts";
import { NotLeaderError } from "../../../src/raft/errors.ts";
import { bytes, makeCluster, type ClusterOptions } from "../harness.ts";

import type { MemoryNetworkOptions } from "../../../src/transport/memory-transport.ts";

const lossy: MemoryNetworkOptions = { dropRate: 0.05, duplicateRate: 0.05, delayMs: [0, 4], reorder: true, wire: true };
const settings: [string, MemoryNetworkOptions, ClusterOptions][] = [
  ["a perfect network", {}, {}],
  ["a lossy network (drops, duplicates, delays, reordering, through the wire codec)", lossy, {}],
  ["a lossy network, snapshotting every 20 entries (followers catch up by InstallSnapshot)", lossy, { snapshotThreshold: 20, snapshotIntervalMs: 10, trailingLogs: 5 }],
];

describe("Chaos", () => {
  for (const [name, network, options] of settings) it(`acknowledged writes survive random partitions and crashes, on ${name}`, async () => {
    const seed = Number(process.env.CHAOS_SEED ?? 7);
    const random = seededRandom(seed);
    const c = await makeCluster(5, { ...options, timeoutMs: 1_000, network: { ...network, seed } });
    const acknowledged: string[] = [];
    let stop = false;
    let seq = 0;
    const writer = (async () => {
      while (!stop) {
        const leader = c.nodes().find((n) => n.state() === "Leader");
        if (!leader) {
          await Bun.sleep(5);
          continue;
        }
        const command = `w${seq++}`;
        try {
          await leader.apply(bytes(command), { timeoutMs: 300 });
          acknowledged.push(command);
        } catch (error) {
          if (error instanceof NotLeaderError) await Bun.sleep(2);
        }
      }
    })();
    try {
      const ids = [...c.members.keys()];
      for (let round = 0; round < 8; round++) {
        const victim = ids[Math.floor(random() * ids.length)]!;
        if (random() < 0.5) {
          c.partition(victim);
          await Bun.sleep(150);
          c.heal();
        } else {
          await c.crash(victim);
          await Bun.sleep(150);
          await c.restart(victim);
        }
        await c.leader(5_000);
      }
      stop = true;
      await writer;
      const leader = await c.leader();
      const { index } = await leader.apply(bytes("final"));
      await c.waitForReplication(index, undefined, 10_000);
      const items = await c.ensureSame(10_000);
      expect(acknowledged.length).toBeGreaterThan(10);
      // Every acknowledged write is there, in acknowledgement order, and nothing is there twice.
      const positions = acknowledged.map((w) => items.indexOf(w));
      expect(positions.every((p) => p >= 0)).toBe(true);
      expect(positions).toEqual([...positions].sort((a, b) => a - b));
      expect(new Set(items).size).toBe(items.length);
      if (options.snapshotThreshold) expect(c.nodes().some((n) => n.stats().snapshotIndex > 0)).toBe(true);
    } finally {
      stop = true;
      try {
        await writer;
      } finally {
        await c.shutdown();
      }
    }
  }, 30_000);
});
