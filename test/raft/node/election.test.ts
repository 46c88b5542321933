// Elections as seen through RaftNode: bootstrap, one leader, observers,
// CheckQuorum stepping down a cut-off leader (§5.2, §6.2 of the dissertation).

import { describe, expect, it } from "bun:test";
import { AlreadyBootstrappedError } from "../../../src/raft/errors.ts";
import type { LeaderInfo, NodeState } from "../../../src/raft/node.ts";
import { makeCluster, waitFor } from "../harness.ts";

describe("Election", () => {
  it("a bootstrapped cluster of three elects one leader that every node knows, with its address", async () => {
    const c = await makeCluster(3);
    try {
      const leader = await c.leader();
      await waitFor("every node to know the leader", () => c.nodes().every((n) => n.leader()?.id === leader.id));
      for (const n of c.nodes()) expect(n.leader()).toEqual({ id: leader.id, address: `mem://${leader.id}` });
      expect(c.nodes().filter((n) => n.state() === "Leader")).toHaveLength(1);
      expect(leader.stats().peers.map((p) => p.id).sort()).toEqual(c.nodes().filter((n) => n !== leader).map((n) => n.id).sort());
    } finally {
      await c.shutdown();
    }
  });

  it("a lone voter elects itself", async () => {
    const c = await makeCluster(1);
    try {
      const leader = await c.leader();
      expect(leader.id).toBe("n1");
      expect(leader.leader()).toEqual({ id: "n1", address: "mem://n1" });
    } finally {
      await c.shutdown();
    }
  });

  it("a node in no configuration never campaigns", async () => {
    const c = await makeCluster(1, { bootstrap: false });
    try {
      const n = c.node("n1");
      const ticksWorth = 30 * 10 * 2;
      await Bun.sleep(ticksWorth); // the only fixed wait: proving something does NOT happen
      expect(n.state()).toBe("Follower");
      expect(n.leader()).toBeNull();
    } finally {
      await c.shutdown();
    }
  });

  it("bootstrapCluster refuses a node that already has state", async () => {
    const c = await makeCluster(1);
    try {
      const n = c.node("n1");
      await expect(n.bootstrapCluster({ servers: [{ id: "n1", address: "mem://n1", suffrage: "voter" }] })).rejects.toBeInstanceOf(
        AlreadyBootstrappedError,
      );
    } finally {
      await c.shutdown();
    }
  });

  it("observers hear role and leader changes, and nothing after unsubscribing", async () => {
    const c = await makeCluster(1, { bootstrap: false });
    try {
      const n = c.node("n1");
      const states: [NodeState, NodeState][] = [];
      const leaders: [LeaderInfo | null, LeaderInfo | null][] = [];
      const offState = n.onStateChange((s, prev) => states.push([s, prev]));
      const offLeader = n.onLeaderChange((l, prev) => leaders.push([l, prev]));
      await n.bootstrapCluster({ servers: [{ id: "n1", address: "mem://n1", suffrage: "voter" }] });
      await c.leader();
      // A lone voter wins within one tick, so Candidate may never be observed.
      expect(states.at(-1)![0]).toBe("Leader");
      const seen = states.length;
      expect(leaders).toEqual([[{ id: "n1", address: "mem://n1" }, null]]);
      offState();
      offLeader();
      await n.shutdown();
      expect(states).toHaveLength(seen);
    } finally {
      await c.shutdown();
    }
  });

  it("§6.2 CheckQuorum: a leader cut off from the majority steps down, the majority elects another, and healing reunites them", async () => {
    const c = await makeCluster(3);
    try {
      const old = await c.leader();
      const term = old.stats().term;
      c.partition(old.id);
      const others = c.nodes().filter((n) => n !== old).map((n) => n.id);
      const next = await c.leader(5_000, others);
      expect(next.stats().term).toBeGreaterThan(term);
      await waitFor("the old leader to step down", () => old.state() !== "Leader");
      c.heal();
      await waitFor("the old leader to follow the new one", () => old.leader()?.id === next.id);
    } finally {
      await c.shutdown();
    }
  });
});
