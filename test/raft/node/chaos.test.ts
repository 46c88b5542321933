// Partitions and crashes while clients write: every acknowledged write must
// survive on every node, in the same order (§5.4 Leader Completeness, §5.3
// State Machine Safety), and nothing unacknowledged may appear twice.

import { describe, expect, it } from "bun:test";
import { seededRandom } from "../../../src/raft/core/random.ts";
import { NotLeaderError } from "../../../src/raft/errors.ts";
import { bytes, makeCluster, waitFor } from "../harness.ts";

describe("Chaos", () => {
  it("acknowledged writes survive random partitions and crashes", async () => {
    const random = seededRandom(Number(process.env.CHAOS_SEED ?? 7));
    const c = await makeCluster(5, { timeoutMs: 1_000 });
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
    } finally {
      stop = true;
      await writer;
      await c.shutdown();
    }
  }, 30_000);
});
