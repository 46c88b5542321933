// Churn in the spirit of the MIT 6.824 Raft lab (2C: TestReliableChurn,
// TestUnreliableChurn): three clients write concurrently while nodes are
// cut off, crashed and restarted at random, faster than the cluster settles.
// Afterwards every node must hold exactly the same commands, with every
// acknowledged write at the index and position it was acknowledged with.
// chaos.test.ts runs one writer through one fault at a time, each healed
// before the next; here faults overlap and pile up.

import { describe, expect, it } from "bun:test";
import { seededRandom } from "../../../src/raft/core/random.ts";
import type { MemoryNetworkOptions } from "../../../src/transport/memory-transport.ts";
import { makeCluster } from "../harness.ts";
import { Checker, Clients, Disconnections, expectConsistent, one, pick } from "./lab-helpers.ts";

const variants: { name: string; lab: string; network: MemoryNetworkOptions }[] = [
  { name: "a reliable network", lab: "TestReliableChurn", network: {} },
  {
    name: "an unreliable network (drops, duplicates, delays, reordering, through the wire codec)",
    lab: "TestUnreliableChurn",
    network: { dropRate: 0.1, duplicateRate: 0.05, delayMs: [0, 10], reorder: true, wire: true },
  },
];

describe("Churn", () => {
  for (const v of variants) {
    it(`(${v.lab}) every acknowledged write is applied on every node, in the same order, after random crashes, restarts and disconnections on ${v.name}`, async () => {
      const seed = Number(process.env.LAB_SEED ?? 23);
      const random = seededRandom(seed);
      const checker = new Checker();
      const tickMs = 10;
      const electionTicks = 5;
      const c = await makeCluster(5, { tickMs, electionTicks, fsm: checker.fsm, network: { ...v.network, seed } });
      const net = new Disconnections(c.network);
      const all = [...c.members.keys()];
      const clients = new Clients(c, seededRandom(seed + 1), 3);
      // A random node; for a fault, the leader half the time, so leadership really churns.
      const target = (): string => {
        const [toLeader, anyone] = [random() < 0.5, pick(random, all)];
        const leader = c.nodes().find((n) => n.state() === "Leader" && net.connected(n.id));
        return leader && toLeader ? leader.id : anyone;
      };
      const startTerm = Math.max(...c.nodes().map((n) => n.stats().term));
      try {
        await c.leader();
        for (let iter = 0; iter < 40; iter++) {
          if (random() < 0.2) net.disconnect(target());
          if (random() < 0.5) {
            // Bring back a random node that is down or cut off.
            const faulty = all.filter((id) => !c.member(id).node || !net.connected(id));
            if (faulty.length > 0) {
              const id = pick(random, faulty);
              if (!c.member(id).node) await c.restart(id);
              net.connect(id);
            }
          }
          if (random() < 0.2) {
            const id = target();
            if (c.member(id).node) await c.crash(id);
          }
          // Shorter than an election timeout, but not much: changes come before the last one settled.
          await Bun.sleep(Math.floor((electionTicks * tickMs * 7) / 10));
        }
        for (const id of all) if (!c.member(id).node) await c.restart(id);
        net.connectAll();
        await clients.stop();
        await one(c, "churn-end", 5, 30_000);
        // Leadership really changed hands a few times, something got through (the lab's liveness check),
        // and all of it stayed.
        expect(Math.max(...c.nodes().map((n) => n.stats().term))).toBeGreaterThanOrEqual(startTerm + 3);
        expect(clients.acked.length).toBeGreaterThan(0);
        await expectConsistent(c, checker, clients.acked);
      } finally {
        try {
          await clients.stop();
        } finally {
          await c.shutdown();
        }
      }
    }, 30_000);
  }
});
