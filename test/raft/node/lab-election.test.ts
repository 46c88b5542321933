// Leader election scenarios in the spirit of the MIT 6.824 Raft lab (2A:
// TestInitialElection, TestReElection, TestManyElections), on RaftNode over
// the in-memory network. Election.test.ts covers bootstrap, observers and a
// single CheckQuorum step-down; these run the lab's longer sequences and
// check Election Safety (§5.2: at most one leader per term) throughout.

import { describe, expect, it } from "bun:test";
import { seededRandom } from "../../../src/raft/core/random.ts";
import type { NodeId } from "../../../src/raft/core/types.ts";
import type { RaftNode } from "../../../src/raft/node.ts";
import { makeCluster, waitFor, type Cluster } from "../harness.ts";
import { Disconnections, NetworkTap, others, pick } from "./lab-helpers.ts";

const tickMs = 10;

/** Records which node became leader in which term, and every term that had two. */
function watchLeaders(c: Cluster): { leaders: Map<number, NodeId>; violations: string[] } {
  const leaders = new Map<number, NodeId>();
  const violations: string[] = [];
  const watch = (n: RaftNode) =>
    n.onStateChange((state) => {
      if (state !== "Leader") return;
      const term = n.stats().term;
      const other = leaders.get(term);
      if (other !== undefined && other !== n.id) violations.push(`term ${term} has two leaders: ${other} and ${n.id}`);
      leaders.set(term, n.id);
    });
  for (const n of c.nodes()) watch(n);
  return { leaders, violations };
}

/** Waits until every given node follows `leader` in its term. */
async function allFollow(c: Cluster, leader: RaftNode, among: NodeId[] = [...c.members.keys()]): Promise<void> {
  const term = leader.stats().term;
  await waitFor(`${among.join(",")} to follow ${leader.id} in term ${term}`, () =>
    among.every((id) => {
      const s = c.node(id).stats();
      return s.term === term && s.leader?.id === leader.id;
    }),
  );
}

describe("Initial election (TestInitialElection)", () => {
  it("three nodes elect exactly one leader that all agree on, and the leader and term stay put while nothing fails", async () => {
    // 200-400 ms election timeouts: a loaded machine's scheduling hiccups must not look like a failure.
    const electionTicks = 20;
    const c = await makeCluster(3, { tickMs, electionTicks });
    try {
      const seen = watchLeaders(c);
      const leader = await c.leader();
      await allFollow(c, leader);
      const term = leader.stats().term;
      expect(term).toBeGreaterThanOrEqual(2); // bootstrap writes term 1; winning an election moves past it
      // The only fixed wait: proving that nothing happens for two maximal election timeouts.
      await Bun.sleep(2 * 2 * electionTicks * tickMs);
      expect(c.nodes().filter((n) => n.state() === "Leader").map((n) => n.id)).toEqual([leader.id]);
      for (const n of c.nodes()) {
        expect(n.stats().term).toBe(term);
        expect(n.leader()?.id).toBe(leader.id);
      }
      expect([...seen.leaders.entries()]).toEqual([[term, leader.id]]);
      expect(seen.violations).toEqual([]);
    } finally {
      await c.shutdown();
    }
  });
});

describe("Re-election (TestReElection)", () => {
  it("elects a new leader in a higher term when the leader is cut off, and the old leader rejoining follows it without disrupting its term", async () => {
    const c = await makeCluster(3, { tickMs });
    const net = new Disconnections(c.network);
    const tap = new NetworkTap(c.network);
    try {
      const seen = watchLeaders(c);
      const leader1 = await c.leader();
      const term1 = leader1.stats().term;
      const cutAt = tap.sent.length;
      net.disconnect(leader1.id);
      const leader2 = await c.leader(5_000, others(c, leader1.id));
      const term2 = leader2.stats().term;
      expect(leader2.id).not.toBe(leader1.id);
      expect(term2).toBeGreaterThan(term1);
      // CheckQuorum: the cut-off leader stops claiming leadership on its own, and in time tries to get elected.
      await waitFor("the cut-off leader to step down", () => leader1.state() !== "Leader");
      const campaigns = () => tap.sent.slice(cutAt).filter((m) => m.type === "vote" && m.from === leader1.id).length / 2;
      await waitFor("the cut-off leader to campaign twice", () => campaigns() >= 2);

      net.connect(leader1.id);
      await allFollow(c, leader2);
      // Rejoining did not cost the new leader its term: campaigning alone did not inflate the old leader's (Pre-Vote).
      expect(leader2.state()).toBe("Leader");
      expect(leader2.stats().term).toBe(term2);
      expect((await c.leader()).id).toBe(leader2.id);
      expect(seen.violations).toEqual([]);
    } finally {
      await c.shutdown();
    }
  });

  it("elects no leader while no majority is connected, and elects one as soon as a majority is back", async () => {
    const electionTicks = 10;
    const c = await makeCluster(3, { tickMs, electionTicks });
    const net = new Disconnections(c.network);
    try {
      const seen = watchLeaders(c);
      const leader = await c.leader();
      const [a, b] = others(c, leader.id) as [NodeId, NodeId];
      // Everyone alone: nobody has a majority.
      net.disconnect(leader.id);
      net.disconnect(a);
      net.disconnect(b);
      await waitFor("the old leader to step down", () => leader.state() !== "Leader");
      const leadersBefore = seen.leaders.size;
      // The only fixed wait: several maximal election timeouts in which no election may succeed.
      await Bun.sleep(3 * 2 * electionTicks * tickMs);
      expect(c.nodes().filter((n) => n.state() === "Leader")).toEqual([]);
      expect(seen.leaders.size).toBe(leadersBefore);

      // Two of three: a majority again.
      net.connect(a);
      net.connect(b);
      const next = await c.leader(5_000, [a, b]);
      await allFollow(c, next, [a, b]);
      expect(leader.state()).not.toBe("Leader");

      // The last one back: still exactly one leader, which everyone follows.
      net.connect(leader.id);
      const final = await c.leader();
      await allFollow(c, final);
      expect(seen.violations).toEqual([]);
    } finally {
      await c.shutdown();
    }
  });
});

describe("Many elections (TestManyElections)", () => {
  it("seven nodes keep electing exactly one leader per term while three random nodes at a time are cut off", async () => {
    const random = seededRandom(Number(process.env.LAB_SEED ?? 17));
    const c = await makeCluster(7, { tickMs });
    const net = new Disconnections(c.network);
    try {
      const seen = watchLeaders(c);
      const all = [...c.members.keys()];
      let leader = await c.leader();
      for (let round = 0; round < 8; round++) {
        // Three random nodes; every other round the leader is one of them, so elections happen.
        const cut = new Set<NodeId>(round % 2 === 0 ? [leader.id] : []);
        while (cut.size < 3) cut.add(pick(random, all));
        for (const id of cut) net.disconnect(id);
        // Four of seven remain: they must have (or elect) a leader among themselves.
        const connected = all.filter((id) => !cut.has(id));
        const inMajority = await c.leader(10_000, connected);
        await allFollow(c, inMajority, connected);
        net.connectAll();
        leader = await c.leader(10_000);
      }
      await allFollow(c, leader);
      // At least one election per round that cut the leader off.
      expect(seen.leaders.size).toBeGreaterThanOrEqual(1 + 4);
      expect(seen.violations).toEqual([]);
    } finally {
      await c.shutdown();
    }
  }, 30_000);
});
