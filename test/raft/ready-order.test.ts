// Ready.sendBeforePersist: a leader's appends may go out while it persists
// (dissertation §10.2.1), but nothing that must be durable first: not a
// follower's acknowledgements or votes, and not a leader's messages in the
// Ready that records its new term.

import { describe, expect, it } from "bun:test";
import { RaftCore } from "../../src/raft/core/raft.ts";
import { seededRandom } from "../../src/raft/core/random.ts";
import { bytes, CoreNetwork } from "./core-network.ts";

describe("Ready.sendBeforePersist", () => {
  it("lets a leader's appends go first, and keeps every other message for after the persist", () => {
    const net = CoreNetwork.bootstrapped(3);
    const leader = net.core(net.elect());
    leader.propose(bytes("x"));
    const rd = leader.ready();
    expect(rd.entries).toHaveLength(1);
    expect(rd.sendBeforePersist).toBe(2);
    expect(rd.messages.slice(0, 2).map((m) => m.type)).toEqual(["append", "append"]);
  });

  it("gives a follower nothing to send early: its acknowledgements vouch for what it stored", () => {
    const net = CoreNetwork.bootstrapped(3);
    const leaderId = net.elect();
    const leader = net.core(leaderId);
    leader.propose(bytes("x"));
    const follower = [...net.cores.keys()].find((id) => id !== leaderId)!;
    const append = leader.ready().messages.find((m) => m.to === follower)!;
    net.core(follower).step(append);
    const rd = net.core(follower).ready();
    expect(rd.entries).toHaveLength(1);
    expect(rd.messages.map((m) => m.type)).toEqual(["appendResp"]);
    expect(rd.sendBeforePersist).toBe(0);
  });

  it("sends nothing early in the Ready where a lone voter wins its election: its new term must be durable first", () => {
    const core = new RaftCore({ id: "a", random: seededRandom(1) });
    core.bootstrap({ servers: [{ id: "a", address: "a", suffrage: "voter" }, { id: "b", address: "b", suffrage: "nonvoter" }] });
    core.ready();
    core.campaign();
    expect(core.status().role).toBe("Leader");
    const rd = core.ready();
    expect(rd.hardState?.term).toBe(2);
    expect(rd.messages.some((m) => m.type === "append" && m.to === "b")).toBe(true);
    expect(rd.sendBeforePersist).toBe(0);
    // Once b answers, the leader's next appends, in a term already durable, may go first.
    const b = new RaftCore({ id: "b", random: seededRandom(2) });
    let toB = rd.messages.filter((m) => m.to === "b");
    for (let round = 0; toB.length > 0 && round < 10; round++) {
      for (const m of toB) b.step(m);
      for (const m of b.ready().messages) core.step(m);
      toB = core.ready().messages;
    }
    expect(b.status().lastIndex).toBe(core.status().lastIndex);
    core.propose(bytes("x"));
    const next = core.ready();
    expect(next.sendBeforePersist).toBe(1);
    expect(next.messages[0]).toMatchObject({ type: "append", to: "b" });
  });
});
