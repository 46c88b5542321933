// Persistence and snapshot scenarios in the spirit of the MIT 6.824 Raft lab
// (2C: TestPersist1/2/3, TestFigure8, TestFigure8Unreliable; 2D:
// TestSnapshotInstall, TestSnapshotInstallCrash, TestSnapshotInstallUnCrash),
// on RaftNode over the in-memory network. A crash keeps a node's storage and
// snapshots and loses its state machine, which it rebuilds on restart.
// restart.test.ts and snapshot.test.ts cover single crashes and a single
// InstallSnapshot; these run the lab's longer sequences, with a cluster-wide
// checker (lab-helpers.ts) that fails if two nodes ever apply different
// commands at one index.

import { describe, expect, it } from "bun:test";
import { seededRandom } from "../../../src/raft/core/random.ts";
import type { NodeId } from "../../../src/raft/core/types.ts";
import type { RaftNode } from "../../../src/raft/node.ts";
import type { MemoryNetworkOptions } from "../../../src/transport/memory-transport.ts";
import { bytes, makeCluster, waitFor, type Cluster } from "../harness.ts";
import { Checker, Clients, Disconnections, NetworkTap, ackOf, checked, expectConsistent, jitter, one, others, pick, proposeDoomed, retryable, type Ack } from "./lab-helpers.ts";

const tickMs = 10;
const seed = Number(process.env.LAB_SEED ?? 11);

/** The node `offset` places after `id` in n1..nN, wrapping (the lab's (leader + k) % servers). */
function after(c: Cluster, id: NodeId, offset: number): NodeId {
  const all = [...c.members.keys()];
  return all[(all.indexOf(id) + offset) % all.length]!;
}

async function crashed(c: Cluster, ...which: NodeId[]): Promise<void> {
  for (const id of which) await c.crash(id);
}

async function restarted(c: Cluster, ...which: NodeId[]): Promise<void> {
  for (const id of which) await c.restart(id);
}

describe("Persistence (TestPersist1)", () => {
  it("every agreed command survives the whole cluster, then the leader, then a lagging leader, then a follower crashing and restarting", async () => {
    const checker = new Checker();
    const c = await makeCluster(3, { tickMs, fsm: checker.fsm });
    try {
      const all = [...c.members.keys()];
      await one(c, "p1-11", 3);

      await crashed(c, ...all);
      await restarted(c, ...all);
      await one(c, "p1-12", 3);

      const leader1 = (await c.leader()).id;
      await crashed(c, leader1);
      await restarted(c, leader1);
      await one(c, "p1-13", 3);

      // A leader that misses a write while down catches up after its restart.
      const leader2 = (await c.leader()).id;
      await crashed(c, leader2);
      const at14 = await one(c, "p1-14", 2);
      await restarted(c, leader2);
      await waitFor(`${leader2} to apply p1-14 again`, () => checked(c, leader2).commandAt(at14) === "p1-14");

      const i3 = after(c, (await c.leader()).id, 1);
      await crashed(c, i3);
      await one(c, "p1-15", 2);
      await restarted(c, i3);
      await one(c, "p1-16", 3);

      expect(await expectConsistent(c, checker, [])).toEqual(["p1-11", "p1-12", "p1-13", "p1-14", "p1-15", "p1-16"]);
    } finally {
      await c.shutdown();
    }
  });
});

describe("Persistence (TestPersist2)", () => {
  it("a write acknowledged by three of five survives while those three crash in turn and the two that missed it restart first", async () => {
    const checker = new Checker();
    const c = await makeCluster(5, { tickMs, fsm: checker.fsm });
    try {
      const expected: string[] = [];
      const agree = async (command: string, servers: number) => {
        await one(c, command, servers);
        expected.push(command);
      };
      await agree("p2-0", 5);
      for (let iter = 1; iter <= 3; iter++) {
        await agree(`p2-${iter}-a`, 5);
        const leader = (await c.leader()).id;
        const [l1, l2, l3, l4] = [1, 2, 3, 4].map((k) => after(c, leader, k)) as [NodeId, NodeId, NodeId, NodeId];
        await crashed(c, l1, l2);
        // Only the leader, l3 and l4 have this one.
        await agree(`p2-${iter}-b`, 3);
        await crashed(c, leader, l3, l4);
        await restarted(c, l1, l2);
        // l1 and l2 alone are no majority; with l3, only l3 can win (it has p2-b): it must not be lost.
        await restarted(c, l3);
        await agree(`p2-${iter}-c`, 3);
        await restarted(c, l4, leader);
      }
      await agree("p2-end", 5);
      expect(await expectConsistent(c, checker, [])).toEqual(expected);
    } finally {
      await c.shutdown();
    }
  });
});

describe("Persistence (TestPersist3)", () => {
  it("a write made while one node was cut off survives the leader and its follower crashing, and the cut-off node coming back", async () => {
    const checker = new Checker();
    const c = await makeCluster(3, { tickMs, fsm: checker.fsm });
    const net = new Disconnections(c.network);
    try {
      await one(c, "p3-101", 3);
      const leader = (await c.leader()).id;
      const [l1, l2] = [after(c, leader, 1), after(c, leader, 2)];
      net.disconnect(l2);
      await one(c, "p3-102", 2);
      await crashed(c, leader, l1);
      net.connect(l2);
      await restarted(c, leader);
      // l2 lacks p3-102: the restarted leader, which has it, must win and keep it.
      await one(c, "p3-103", 2);
      await restarted(c, l1);
      await one(c, "p3-104", 3);
      expect(await expectConsistent(c, checker, [])).toEqual(["p3-101", "p3-102", "p3-103", "p3-104"]);
    } finally {
      await c.shutdown();
    }
  });
});

describe("Persistence of votes", () => {
  it("a node that voted in a term and crashed does not vote for anyone else in that term after restarting", async () => {
    const checker = new Checker();
    const c = await makeCluster(3, { tickMs, fsm: checker.fsm });
    const net = new Disconnections(c.network);
    const tap = new NetworkTap(c.network);
    const leadersOf = new Map<number, Set<NodeId>>();
    const watch = (n: RaftNode) =>
      n.onStateChange((state) => {
        if (state !== "Leader") return;
        const term = n.stats().term;
        leadersOf.set(term, (leadersOf.get(term) ?? new Set()).add(n.id));
      });
    for (const n of c.nodes()) watch(n);
    try {
      await one(c, "v-0", 3);
      const voter = (await c.leader()).id;
      const [candidate, z] = others(c, voter) as [NodeId, NodeId];
      const t0 = c.node(voter).stats().term;

      // z is away; the voter hands leadership to the candidate, voting for it in term t0+1.
      // The new leader's entries never leave it, so the voter's and z's logs stay equal.
      net.disconnect(z);
      tap.drop = (m) => m.type === "append" && m.from === candidate && m.entries.length > 0;
      await c.node(voter).leadershipTransfer(candidate);
      expect(c.node(candidate).stats().term).toBe(t0 + 1);

      // The voter crashes and comes back beside z, which asks for votes in that same term t0+1.
      await c.crash(voter);
      net.disconnect(candidate);
      net.connect(z);
      const mark = tap.sent.length;
      // The voter's own campaigns are lost, so only z's request is in play.
      tap.drop = (m) => m.type === "vote" && m.from === voter;
      watch(await c.restart(voter));
      const answer = await waitFor(
        "the restarted voter to answer z's pre-vote",
        () => tap.sent.slice(mark).find((m) => m.type === "voteResp" && m.from === voter && m.to === z),
        10_000,
      );
      // It remembers its vote: z, with a log just as long, is refused (and may win only a later term).
      expect(answer).toMatchObject({ preVote: true, granted: false });
      expect([...(leadersOf.get(t0 + 1) ?? [])]).toEqual([candidate]);

      tap.drop = undefined;
      net.connectAll();
      await one(c, "v-1", 3);
      expect(await expectConsistent(c, checker, [])).toEqual(["v-0", "v-1"]);
      for (const [term, leaders] of leadersOf) expect([term, leaders.size]).toEqual([term, 1]);
    } finally {
      await c.shutdown();
    }
  });
});

describe("Persistence under load", () => {
  it("every acknowledged write survives leaders (and sometimes a follower too) crashing in the middle of concurrent writes", async () => {
    const checker = new Checker();
    const random = seededRandom(seed);
    const c = await makeCluster(5, { tickMs, fsm: checker.fsm });
    const clients = new Clients(c, random, 3);
    try {
      for (let round = 0; round < 6; round++) {
        const leader = await c.leader(10_000);
        const before = clients.acked.length;
        await waitFor("writes to flow through the leader", () => clients.acked.length >= before + 5, 10_000);
        const down = [leader.id];
        if (random() < 0.5) down.push(pick(random, others(c, leader.id)));
        await crashed(c, ...down);
        // Every write acknowledged so far was committed: the next leader has it (Leader Completeness) and applies
        // it at the acknowledged index, before the crashed nodes are back.
        const survived = clients.acked.slice();
        const next = await c.leader(10_000);
        await waitFor(
          `${next.id} to apply the ${survived.length} writes acknowledged before the crash`,
          () => survived.every((a) => checked(c, next.id).commandAt(a.index) === a.command),
          10_000,
        );
        await restarted(c, ...down);
      }
      await clients.stop();
      await one(c, "load-end", 5);
      await expectConsistent(c, checker, clients.acked);
    } finally {
      try {
        await clients.stop();
      } finally {
        await c.shutdown();
      }
    }
  }, 30_000);
});

/** Writes proposed on whichever nodes believe they lead, without waiting for them; records those acknowledged. */
class Proposals {
  readonly acked: Ack[] = [];
  private readonly pending: Promise<void>[] = [];

  /** Proposes a fresh command on every live node that believes it leads; returns one of them that `connected` accepts. */
  everywhere(c: Cluster, tag: string, connected: (id: NodeId) => boolean = () => true): RaftNode | undefined {
    let leader: RaftNode | undefined;
    for (const n of c.nodes()) {
      if (n.state() !== "Leader") continue;
      const command = `${tag}-${n.id}`;
      const outcome = n.apply(bytes(command), { timeoutMs: 5_000 }).then(
        (r) => void this.acked.push(ackOf(command, r)),
        (e: unknown) => {
          if (!retryable(e)) throw e;
        },
      );
      // Handled here so that it is no unhandled rejection meanwhile; settled() reports it.
      outcome.catch(() => undefined);
      this.pending.push(outcome);
      if (connected(n.id)) leader = n;
    }
    return leader;
  }

  /** Waits for every proposal to be acknowledged or refused; fails on an unexpected error or a wrong answer. Returns the acknowledged writes. */
  async settled(): Promise<readonly Ack[]> {
    const outcomes = await Promise.allSettled(this.pending);
    const failures = outcomes.flatMap((o) => (o.status === "rejected" ? [String(o.reason)] : []));
    expect(failures).toEqual([]);
    return this.acked;
  }
}

describe("Figure 8 (TestFigure8)", () => {
  it("what was committed survives leaders crashing at random moments while they propose, and no two nodes ever apply different commands at one index", async () => {
    const checker = new Checker();
    const random = seededRandom(seed);
    // Short election timeouts for many terms; a small FIFO delay so a crash can catch a write half replicated.
    const c = await makeCluster(5, { tickMs, electionTicks: 5, fsm: checker.fsm, network: { seed, delayMs: [0, 3] } });
    const proposals = new Proposals();
    try {
      const all = [...c.members.keys()];
      await one(c, "f8-start", 5);
      let up = all.length;
      for (let iter = 0; iter < 30; iter++) {
        // Give most rounds a leader to crash, without waiting for one.
        await waitFor("a leader", () => c.nodes().some((n) => n.state() === "Leader"), 300).catch(() => undefined);
        const leader = proposals.everywhere(c, `f8-${iter}`);
        await jitter(random, random() < 0.1 ? 50 : 13);
        if (leader && leader.state() !== "Shutdown") {
          await c.crash(leader.id);
          up--;
        }
        if (up < 3) {
          await c.restart(pick(random, all.filter((id) => !c.member(id).node)));
          up++;
        }
      }
      for (const id of all) if (!c.member(id).node) await c.restart(id);
      await one(c, "f8-end", 5, 30_000);
      const acked = await proposals.settled();
      expect(acked.length).toBeGreaterThan(0);
      await expectConsistent(c, checker, acked);
    } finally {
      await c.shutdown();
    }
  }, 30_000);
});

describe("Figure 8, step by step (§5.4.2)", () => {
  it("a leader never commits an older term's entries because a majority stores them: a later leader may still overwrite them", async () => {
    const checker = new Checker();
    const c = await makeCluster(5, { tickMs, fsm: checker.fsm });
    const tap = new NetworkTap(c.network);
    const old = Array.from({ length: 600 }, (_, i) => `old-${i}`);
    try {
      await one(c, "f8-0", 5);
      const a = (await c.leader()).id;
      const k = c.node(a).stats().lastIndex;
      const t0 = c.node(a).stats().term;
      const [b, ...rest] = others(c, a) as [NodeId, ...NodeId[]];

      // (a) The leader appends 600 entries that reach only b; nobody else can elect anyone meanwhile.
      c.network.partition([[a, b], ...rest.map((id) => [id])]);
      const doomed = proposeDoomed(c.node(a), old);
      await waitFor("b to store the 600 entries", () => c.node(b).stats().lastIndex === k + old.length);
      await c.crash(a);

      // (b) One of the other three wins a term; its first entry (its no-op at k+1) reaches nobody before it crashes.
      tap.drop = (m) => m.type === "append" && m.entries.length > 0;
      c.network.partition([[b], rest]);
      const w = (await waitFor("one of the other three to win", () => rest.find((id) => c.node(id).state() === "Leader"), 10_000))!;
      expect(c.node(w).stats().term).toBe(t0 + 1);
      expect(c.node(w).stats().lastIndex).toBe(k + 1);
      // The crash must not come before w's ready pass stored the entry (a loaded machine can be that slow):
      // without it on disk, w restarts with the shorter log, c1 or c2 rightly wins in (d) and commits the old entries.
      await waitFor("w to store its entry", () => c.members.get(w)!.storage!.log.lastIndex() === k + 1);
      await c.crash(w);
      tap.drop = undefined;
      const [c1, c2] = rest.filter((id) => id !== w) as [NodeId, NodeId];

      // (c) a restarts; a or b (the longest logs) wins a later term and replicates the old entries to c1 and c2,
      // but its own no-op never reaches them: an append carries at most 512 entries, so the first one brings
      // k+1..k+512, all of term t0, and every append that would bring the no-op (one that continues what they
      // store) is lost.
      tap.drop = (m) => m.type === "append" && (m.to === c1 || m.to === c2) && m.prevIndex <= k + 512 && m.entries.some((e) => e.term > t0 + 1);
      c.heal();
      await c.restart(a);
      const l = (await waitFor("a or b to win", () => [a, b].find((id) => c.node(id).state() === "Leader"), 10_000))!;
      await waitFor("c1 and c2 to store the old entries", () => [c1, c2].every((id) => c.node(id).stats().lastIndex >= k + 512), 10_000);
      await waitFor("the leader to learn it", () => c.node(l).stats().peers.filter((p) => p.match >= k + 512).length >= 2, 10_000);
      // Four of five store entries k+1..k+512, but they are of term t0: counting replicas must not commit them.
      expect(c.node(l).stats().commitIndex).toBe(k);
      expect([...checker.appliedAt.values()].filter((cmd) => cmd.startsWith("old-"))).toEqual([]);

      // (d) a and b crash; w comes back and, with its later-term last entry, wins c1's and c2's votes,
      // and overwrites the old entries: which is only safe because they were never committed.
      await c.crash(a);
      await c.crash(b);
      tap.drop = undefined;
      await c.restart(w);
      const winner = await c.leader(10_000);
      // w wins first (only its log is up to date). On a loaded machine it may then lose office to c1 or c2, but
      // only after they stored its entry: whoever leads holds w's term-(t0+1) entry at k+1.
      expect([w, c1, c2]).toContain(winner.id);
      await waitFor(`${winner.id} to hold w's entry at k+1`, () => c.members.get(winner.id)!.storage!.log.getEntry(k + 1)?.term === t0 + 1);
      await one(c, "f8-after", 3);
      await c.restart(a);
      await c.restart(b);
      await one(c, "f8-end", 5);
      expect(await expectConsistent(c, checker, [])).toEqual(["f8-0", "f8-after", "f8-end"]);
      for (const e of await Promise.all(doomed)) expect(retryable(e)).toBe(true);
    } finally {
      await c.shutdown();
    }
  }, 30_000);
});

describe("Figure 8 on an unreliable network (TestFigure8Unreliable)", () => {
  it("what was committed survives leaders being cut off at random moments through drops, duplicates and long reordering delays", async () => {
    const checker = new Checker();
    const random = seededRandom(seed);
    const c = await makeCluster(5, {
      tickMs,
      fsm: checker.fsm,
      network: { seed, dropRate: 0.1, duplicateRate: 0.05, delayMs: [0, 10], reorder: true },
    });
    const net = new Disconnections(c.network);
    const proposals = new Proposals();
    try {
      const all = [...c.members.keys()];
      await one(c, "f8u-start", 1);
      let up = all.length;
      for (let iter = 0; iter < 150; iter++) {
        // Later on, messages are delayed by up to half an election timeout, overtaking each other a lot (the lab's long reordering).
        if (iter === 75) c.network.setFaults({ delayMs: [0, 100] });
        const leader = proposals.everywhere(c, `f8u-${iter}`, (id) => net.connected(id));
        await jitter(random, random() < 0.1 ? 50 : 13);
        if (leader && random() < 0.5) {
          net.disconnect(leader.id);
          up--;
        }
        if (up < 3) {
          const s = pick(random, all);
          if (!net.connected(s)) {
            net.connect(s);
            up++;
          }
        }
      }
      net.connectAll();
      c.network.setFaults({ delayMs: [0, 10] });
      await one(c, "f8u-end", 5, 30_000);
      // Few writes are acknowledged here (most leaders lose office first, leaving the outcome unknown to the
      // proposer), so the checker's per-index comparison carries this test: it covers every committed entry.
      await expectConsistent(c, checker, await proposals.settled());
    } finally {
      await c.shutdown();
    }
  }, 30_000);
});

const lossy: MemoryNetworkOptions = { dropRate: 0.1, duplicateRate: 0.05, delayMs: [0, 5], reorder: true, wire: true };
const snapshotVariants: { name: string; lab: string; crash: boolean; network: MemoryNetworkOptions }[] = [
  { name: "cut off", lab: "TestSnapshotInstall", crash: false, network: {} },
  { name: "crashed", lab: "TestSnapshotInstallCrash", crash: true, network: {} },
  { name: "crashed, on an unreliable network", lab: "TestSnapshotInstallUnCrash", crash: true, network: lossy },
];

describe("Snapshot install to a lagging node", () => {
  for (const v of snapshotVariants) {
    it(`(${v.lab}) a node ${v.name} while the others compact their logs past it catches up by InstallSnapshot, and logs stay short`, async () => {
      const checker = new Checker();
      const random = seededRandom(seed);
      const threshold = 10;
      const trailingLogs = 5;
      const c = await makeCluster(3, {
        tickMs,
        fsm: checker.fsm,
        snapshotThreshold: threshold,
        snapshotIntervalMs: 10,
        trailingLogs,
        network: { ...v.network, seed },
      });
      const net = new Disconnections(c.network);
      const maxLog = 60;
      const logLength = (id: NodeId) => {
        const log = c.member(id).storage!.log;
        return log.lastIndex() - log.firstIndex() + 1;
      };
      try {
        const acked: { command: string; index: number }[] = [];
        const agree = async (command: string, servers: number) => acked.push({ command, index: await one(c, command, servers) });
        await agree("s-start", 3);
        for (let iter = 0; iter < 6; iter++) {
          const leader1 = await c.leader();
          // Every third round the lagging node is the leader itself.
          const victim = iter % 3 === 1 ? leader1.id : after(c, leader1.id, 1 + Math.floor(random() * 2));
          const rest = others(c, victim);
          if (v.crash) await c.crash(victim);
          else net.disconnect(victim);
          await agree(`s${iter}-cut`, 2);
          const victimLast = c.member(victim).storage!.log.lastIndex();

          // Enough writes for the others to snapshot and compact past everything the victim has.
          const writes = Array.from({ length: 20 + Math.floor(random() * 20) }, (_, i) => `s${iter}-w${i}`);
          const leader = await c.leader(10_000, rest);
          const settled = await Promise.allSettled(writes.map((w) => leader.apply(bytes(w), { timeoutMs: 5_000 })));
          for (let i = 0; i < writes.length; i++) {
            const s = settled[i]!;
            if (s.status === "fulfilled") acked.push({ command: writes[i]!, index: s.value.index });
            else if (retryable(s.reason)) await agree(writes[i]!, 2);
            else throw s.reason;
          }
          await agree(`s${iter}-done`, 2);
          await waitFor(
            "the others to compact their logs past the victim's",
            () => rest.every((id) => c.node(id).stats().firstIndex > victimLast + 1),
            10_000,
          );
          for (const id of rest) expect(logLength(id)).toBeLessThanOrEqual(maxLog);

          const snapshotsSent = c.network.stats().sent.snapshot;
          if (v.crash) await c.restart(victim);
          else net.connect(victim);
          const restoresBefore = checked(c, victim).restores;
          await agree(`s${iter}-back`, 3);
          await c.ensureSame(10_000);
          // It could only have caught up from a snapshot: the entries it lacked are gone from every log.
          expect(c.network.stats().sent.snapshot).toBeGreaterThan(snapshotsSent);
          expect(checked(c, victim).restores).toBeGreaterThan(restoresBefore);
          expect(c.node(victim).stats().snapshotIndex).toBeGreaterThan(victimLast);
        }
        for (const id of c.members.keys()) expect(logLength(id)).toBeLessThanOrEqual(maxLog);
        const items = await expectConsistent(c, checker, []);
        expect(items).toEqual([...acked].sort((a, b) => a.index - b.index).map((a) => a.command));
        for (const a of acked) for (const n of c.nodes()) expect(checked(c, n.id).commandAt(a.index)).toBe(a.command);
      } finally {
        await c.shutdown();
      }
    }, 30_000);
  }
});
