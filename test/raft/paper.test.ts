// The core checked sentence by sentence against the Raft paper and the
// dissertation, stepping a synchronous in-memory network by hand.

import { describe, expect, it } from "bun:test";
import { NotLeaderError, ConfigurationChangeError, TransferInProgressError } from "../../src/raft/core/errors.ts";
import { CoreNetwork, bytes } from "./core-network.ts";

describe("§5.2 Leader election", () => {
  it("a follower that hears nothing within its election timeout becomes a candidate, and with a majority, leader", () => {
    const net = CoreNetwork.bootstrapped(3);
    const leader = net.elect();
    const status = net.core(leader).status();
    expect(status.role).toBe("Leader");
    for (const c of net.cores.values()) expect(c.status().leader).toBe(leader);
  });

  it("a lone voter elects itself and commits on its own", () => {
    const net = CoreNetwork.bootstrapped(1);
    const leader = net.elect();
    net.core(leader).propose(bytes("x"));
    net.drain();
    expect(net.commands(leader)).toEqual(["x"]);
  });

  it("a node that is not in any configuration never campaigns", () => {
    const net = new CoreNetwork(["a"]);
    net.tickAll(100);
    expect(net.core("a").status().role).toBe("Follower");
  });

  it("a new leader is elected after the old one is cut off, in a higher term", () => {
    const net = CoreNetwork.bootstrapped(3);
    const first = net.elect();
    const term = net.core(first).term;
    net.isolate(first);
    net.tickAll(50);
    const others = [...net.cores.keys()].filter((id) => id !== first);
    const second = others.find((id) => net.core(id).status().role === "Leader");
    expect(second).toBeDefined();
    expect(net.core(second!).term).toBeGreaterThan(term);
  });

  it("§6.2 CheckQuorum: a leader cut off from the majority steps down", () => {
    const net = CoreNetwork.bootstrapped(3);
    const leader = net.elect();
    net.isolate(leader);
    net.tickAll(25);
    expect(net.core(leader).status().role).not.toBe("Leader");
  });

  it("§9.6 Pre-Vote: a partitioned node rejoining does not disrupt the leader's term", () => {
    const net = CoreNetwork.bootstrapped(3);
    const leader = net.elect();
    const term = net.core(leader).term;
    const follower = [...net.cores.keys()].find((id) => id !== leader)!;
    net.isolate(follower);
    net.tickAll(100);
    // Pre-Vote never won, so it never bumped its term.
    expect(net.core(follower).term).toBe(term);
    net.heal();
    net.tickAll(5);
    expect(net.core(leader).status().role).toBe("Leader");
    expect(net.core(leader).term).toBe(term);
  });
});

describe("§5.3 Log replication", () => {
  it("the leader commits an entry once a majority stores it, and every node applies it", () => {
    const net = CoreNetwork.bootstrapped(3);
    const leader = net.elect();
    net.core(leader).propose(bytes("a"));
    net.core(leader).propose(bytes("b"));
    net.drain();
    net.tickAll(2);
    for (const id of net.cores.keys()) expect(net.commands(id)).toEqual(["a", "b"]);
  });

  it("proposals to a follower fail with NotLeaderError naming the leader", () => {
    const net = CoreNetwork.bootstrapped(3);
    const leader = net.elect();
    const follower = [...net.cores.keys()].find((id) => id !== leader)!;
    try {
      net.core(follower).propose(bytes("x"));
      throw new Error("expected NotLeaderError");
    } catch (e) {
      expect(e).toBeInstanceOf(NotLeaderError);
      expect((e as NotLeaderError).leader).toBe(leader);
    }
  });

  it("no entry commits without a majority", () => {
    const net = CoreNetwork.bootstrapped(3);
    const leader = net.elect();
    const [a, b] = [...net.cores.keys()].filter((id) => id !== leader);
    net.isolate(a!);
    net.isolate(b!);
    const commit = net.core(leader).commit;
    net.core(leader).propose(bytes("lonely"));
    net.tickAll(3);
    expect(net.core(leader).commit).toBe(commit);
    expect(net.commands(leader)).toEqual([]);
  });

  it("a follower's conflicting uncommitted entries are overwritten by the leader's (fast backtracking)", () => {
    const net = CoreNetwork.bootstrapped(3);
    const old = net.elect();
    net.isolate(old);
    // The isolated leader accepts many entries it can never commit.
    for (let i = 0; i < 200; i++) net.core(old).propose(bytes(`stale-${i}`));
    net.drain();
    net.tickAll(40);
    const fresh = net.leader()!;
    expect(fresh).not.toBe(old);
    for (let i = 0; i < 5; i++) net.core(fresh).propose(bytes(`new-${i}`));
    net.drain();
    const before = net.delivered.length;
    net.heal();
    net.tickAll(30);
    for (const id of net.cores.keys()) expect(net.commands(id)).toEqual(["new-0", "new-1", "new-2", "new-3", "new-4"]);
    // One conflicting term is skipped in one round trip, not one entry at a time.
    const appendsToOld = net.delivered.slice(before).filter((m) => m.type === "append" && m.to === old).length;
    expect(appendsToOld).toBeLessThan(40);
  });
});

describe("§5.4.2 Committing entries from previous terms (Figure 8)", () => {
  it("a leader does not commit an entry of an older term by counting replicas", () => {
    const net = CoreNetwork.bootstrapped(3);
    const first = net.elect();
    const [b, c] = [...net.cores.keys()].filter((id) => id !== first);
    // The first leader writes an entry only it and b store, but b's ack is lost: it cannot commit.
    net.cutLink(first, c!);
    net.dropFilter = (m) => m.type === "appendResp" && m.from === b;
    net.core(first).propose(bytes("term-old"));
    net.drain();
    const oldIndex = net.core(first).log.lastIndex();
    expect(net.core(first).commit).toBeLessThan(oldIndex);
    net.dropFilter = undefined;
    net.heal();
    net.isolate(first);
    // b (which has the entry) or c becomes leader; either way the old entry only commits with a new-term entry.
    net.tickAll(60);
    const leader = net.leader()!;
    expect(leader).not.toBe(first);
    const lc = net.core(leader);
    if (lc.commit >= oldIndex) expect(lc.log.term(lc.commit)).toBe(lc.term);
  });
});

describe("§6 Membership changes", () => {
  it("adds a non-voter, promotes it to voter, demotes and removes it, one change at a time", () => {
    const net = CoreNetwork.bootstrapped(3);
    const leader = net.elect();
    net.tickAll(2);
    net.addNode("n4");
    const lc = net.core(leader);
    lc.proposeMembershipChange({ kind: "addNonvoter", id: "n4", address: "n4" });
    expect(() => lc.proposeMembershipChange({ kind: "addVoter", id: "n4", address: "n4" })).toThrow(ConfigurationChangeError);
    net.tickAll(3);
    expect(net.core("n4").status().configuration.servers.find((s) => s.id === "n4")?.suffrage).toBe("nonvoter");
    lc.proposeMembershipChange({ kind: "addVoter", id: "n4", address: "n4" });
    net.tickAll(3);
    expect(lc.status().configuration.servers.filter((s) => s.suffrage === "voter")).toHaveLength(4);
    lc.propose(bytes("with-four"));
    net.tickAll(3);
    expect(net.commands("n4")).toContain("with-four");
    lc.proposeMembershipChange({ kind: "demoteVoter", id: "n4" });
    net.tickAll(3);
    lc.proposeMembershipChange({ kind: "removeServer", id: "n4" });
    net.tickAll(3);
    expect(lc.status().configuration.servers.map((s) => s.id)).not.toContain("n4");
  });

  it("removing the leader makes it step down once the change commits", () => {
    const net = CoreNetwork.bootstrapped(3);
    const leader = net.elect();
    net.tickAll(2);
    net.core(leader).proposeMembershipChange({ kind: "removeServer", id: leader });
    net.tickAll(2);
    expect(net.core(leader).status().role).toBe("Follower");
    net.tickAll(60);
    const next = net.leader()!;
    expect(next).not.toBe(leader);
    expect(net.core(next).status().configuration.servers.map((s) => s.id)).not.toContain(leader);
  });
});

describe("§3.10 Leadership transfer", () => {
  it("TimeoutNow hands leadership to the chosen voter, refusing proposals meanwhile", () => {
    const net = CoreNetwork.bootstrapped(3);
    const leader = net.elect();
    net.tickAll(2);
    const target = [...net.cores.keys()].find((id) => id !== leader)!;
    net.cutLink(leader, target);
    net.core(leader).transferLeadership(target);
    expect(() => net.core(leader).propose(bytes("x"))).toThrow(TransferInProgressError);
    net.heal();
    net.tickAll(3);
    expect(net.leader()).toBe(target);
  });
});

describe("§6.4 Read-only queries", () => {
  it("ReadIndex completes after a quorum confirms leadership", () => {
    const net = CoreNetwork.bootstrapped(3);
    const leader = net.elect();
    net.tickAll(2);
    net.core(leader).propose(bytes("v"));
    net.drain();
    net.core(leader).readIndex(42);
    net.drain();
    const reads = net.reads.get(leader)!;
    expect(reads.map((r) => r.id)).toEqual([42]);
    expect(reads[0]!.index).toBe(net.core(leader).commit);
  });

  it("ReadIndex does not complete on a leader cut off from its quorum", () => {
    const net = CoreNetwork.bootstrapped(3);
    const leader = net.elect();
    net.tickAll(2);
    net.isolate(leader);
    net.core(leader).readIndex(7);
    net.tickAll(3);
    expect(net.reads.get(leader)!).toEqual([]);
  });

  it("the leader lease is valid while a quorum acknowledges heartbeats, and lapses when cut off", () => {
    const net = CoreNetwork.bootstrapped(3);
    const leader = net.elect();
    net.tickAll(3);
    expect(net.core(leader).leaseRead()).toBe(net.core(leader).commit);
    net.isolate(leader);
    net.tickAll(9);
    expect(net.core(leader).status().role === "Leader" ? net.core(leader).leaseRead() : null).toBeNull();
  });

  it("§6.4.1 a follower restarted at once still refuses votes for an election timeout, so a lease it granted holds", () => {
    // The lease rests on the acknowledging followers not voting for anyone
    // else within an election timeout. A follower that crashes and restarts
    // at once has forgotten its leader; without this rule it votes straight
    // away, a new leader commits, and the old one serves a stale lease read.
    const net = CoreNetwork.bootstrapped(3, { electionTicks: 10 });
    const leader = net.elect();
    const [acker, other] = [...net.cores.keys()].filter((id) => id !== leader) as [string, string];
    net.core(leader).propose(bytes("before"));
    net.tickAll(2);
    const staleCommit = net.core(leader).commit;
    // `other` stops hearing the leader and times out; its campaigns fail while `acker` follows the leader.
    net.dropFilter = (m) => m.from === leader && m.to === other;
    net.tickAll(25);
    expect(net.core(leader).leaseRead()).toBe(staleCommit);

    net.dropFilter = undefined;
    net.isolate(leader);
    net.restart(acker);
    net.core(other).campaign();
    net.drain();
    net.tickAll(2);
    // Within the lease nobody else may lead, so nothing new can commit.
    expect(net.core(acker).status().role === "Leader" || net.core(other).status().role === "Leader").toBe(false);
    expect(net.core(leader).leaseRead()).toBe(staleCommit);

    // Once the lease has lapsed the others elect a leader and carry on.
    net.tickAll(30);
    const successor = net.leader() ?? "no leader";
    expect([acker, other]).toContain(successor);
    // Its no-op, of its own term, commits: the cluster moved past what the old lease served.
    expect(net.core(successor).commit).toBeGreaterThan(staleCommit);
    expect(net.core(leader).status().role === "Leader" ? net.core(leader).leaseRead() : null).toBeNull();
  });
});

describe("§7 Log compaction", () => {
  it("a follower that fell behind the compaction point catches up by snapshot, in chunks", () => {
    const net = CoreNetwork.bootstrapped(3, { snapshotChunkBytes: 64 });
    const leader = net.elect();
    const lagging = [...net.cores.keys()].find((id) => id !== leader)!;
    net.isolate(lagging);
    for (let i = 0; i < 20; i++) net.core(leader).propose(bytes(`v${i}`));
    net.tickAll(2);
    const lc = net.core(leader);
    lc.compact(lc.applied, net.snapshotOf(leader));
    expect(lc.status().firstIndex).toBeGreaterThan(2);
    net.heal();
    net.tickAll(5);
    const chunks = net.delivered.filter((m) => m.type === "snapshot" && m.to === lagging);
    expect(chunks.length).toBeGreaterThan(1);
    expect(net.commands(lagging)).toEqual(net.commands(leader));
    // And it keeps replicating normally afterwards.
    lc.propose(bytes("after"));
    net.tickAll(2);
    expect(net.commands(lagging).at(-1)).toBe("after");
  });

  it("§5 persistence: a restarted node recovers its log and hard state from disk", () => {
    const net = CoreNetwork.bootstrapped(3);
    const leader = net.elect();
    for (let i = 0; i < 5; i++) net.core(leader).propose(bytes(`p${i}`));
    net.tickAll(2);
    const follower = [...net.cores.keys()].find((id) => id !== leader)!;
    const before = net.core(follower).status();
    net.restart(follower);
    const after = net.core(follower).status();
    expect(after.term).toBe(before.term);
    expect(after.lastIndex).toBe(before.lastIndex);
    net.tickAll(3);
    expect(net.commands(follower)).toEqual(net.commands(leader));
  });
});
