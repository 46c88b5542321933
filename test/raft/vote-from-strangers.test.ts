// Only a voter of our configuration may claim a leadership transfer's right to
// skip the leader lease: a forged or removed server's transfer vote with a
// huge term cannot depose a healthy leader and push every node to a term no
// election can leave. Its request is still heard as an ordinary one.

import { describe, expect, it } from "bun:test";
import { RaftCore } from "../../src/raft/core/raft.ts";
import { seededRandom } from "../../src/raft/core/random.ts";
import { CoreNetwork } from "./core-network.ts";

describe("vote requests from non-voters", () => {
  it("do not skip the leader lease, transfer flag or not: the term and the vote stay", () => {
    const net = CoreNetwork.bootstrapped(3);
    const leaderId = net.elect();
    const follower = [...net.cores.keys()].find((id) => id !== leaderId)!;
    const core = net.core(follower);
    const before = core.status().term;
    core.ready();
    for (const transfer of [false, true]) {
      for (const preVote of [false, true]) {
        core.step({ type: "vote", from: "intruder", to: follower, term: Number.MAX_SAFE_INTEGER, preVote, lastLogIndex: 1e9, lastLogTerm: 1e9, transfer });
      }
    }
    expect(core.status().term).toBe(before);
    expect(core.status().role).toBe("Follower");
    expect(core.ready().messages).toEqual([]);
  });

  it("are still heard by a node that knows no configuration yet", () => {
    const core = new RaftCore({ id: "fresh", random: seededRandom(3) });
    core.step({ type: "vote", from: "someone", to: "fresh", term: 5, preVote: false, lastLogIndex: 0, lastLogTerm: 0, transfer: false });
    expect(core.status().term).toBe(5);
  });

  it("are heard from a voter of the committed configuration that the latest one removes", () => {
    const net = CoreNetwork.bootstrapped(3);
    const leaderId = net.elect();
    const [, b] = [...net.cores.keys()].filter((id) => id !== leaderId);
    const leader = net.core(leaderId);
    // The leader appends a removal of b, not yet replicated or committed: b is still a committed voter.
    net.drain();
    leader.proposeMembershipChange({ kind: "removeServer", id: b! });
    expect(leader.status().configuration.servers.map((s) => s.id)).not.toContain(b);
    const term = leader.status().term;
    leader.step({ type: "vote", from: b!, to: leaderId, term: term + 1, preVote: false, lastLogIndex: 1e9, lastLogTerm: term, transfer: true });
    expect(leader.status().term).toBe(term + 1);
  });
});
