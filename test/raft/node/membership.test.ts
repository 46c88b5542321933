// Single-server membership changes through RaftNode (dissertation §4.1):
// each call waits for the previous change to commit, and resolves once the
// new configuration is committed and applied on the leader.

import { describe, expect, it } from "bun:test";
import { ConfigurationChangeError } from "../../../src/raft/errors.ts";
import { bytes, makeCluster, waitFor } from "../harness.ts";

const suffrages = (servers: { id: string; suffrage: string }[]) => Object.fromEntries(servers.map((s) => [s.id, s.suffrage]));

describe("Membership", () => {
  it("addVoter: the new server joins, catches up on the log and counts as a voter", async () => {
    const c = await makeCluster(3);
    try {
      const leader = await c.leader();
      await leader.apply(bytes("before"));
      const n4 = await c.add("n4");
      const { index } = await leader.addVoter("n4", n4.address);
      const config = leader.getConfiguration();
      expect(config.index).toBe(index);
      expect(config.committed).toBe(true);
      expect(suffrages(config.configuration.servers)).toEqual({ n1: "voter", n2: "voter", n3: "voter", n4: "voter" });
      const after = await leader.apply(bytes("after"));
      await c.waitForReplication(after.index);
      expect(c.fsm("n4").items).toEqual(["before", "after"]);
      await waitFor("n4 to see itself as a voter", () => n4.node!.getConfiguration().configuration.servers.some((s) => s.id === "n4" && s.suffrage === "voter"));
    } finally {
      await c.shutdown();
    }
  });

  it("addNonvoter then demoteVoter: suffrage changes are reflected in the configuration", async () => {
    const c = await makeCluster(3);
    try {
      const leader = await c.leader();
      const n4 = await c.add("n4");
      await leader.addNonvoter("n4", n4.address);
      expect(suffrages(leader.getConfiguration().configuration.servers).n4).toBe("nonvoter");
      const follower = c.nodes().find((n) => n !== leader && n.id !== "n4")!;
      await leader.demoteVoter(follower.id);
      expect(suffrages(leader.getConfiguration().configuration.servers)[follower.id]).toBe("nonvoter");
      // Two voters are left: writes still commit, and the learners still receive them.
      const { index } = await leader.apply(bytes("x"));
      await c.waitForReplication(index);
      expect(await c.ensureSame()).toEqual(["x"]);
    } finally {
      await c.shutdown();
    }
  });

  it("removeServer: the server leaves the configuration and the cluster carries on without it", async () => {
    const c = await makeCluster(3);
    try {
      const leader = await c.leader();
      const victim = c.nodes().find((n) => n !== leader)!;
      await leader.removeServer(victim.id);
      expect(leader.getConfiguration().configuration.servers.map((s) => s.id)).not.toContain(victim.id);
      await c.crash(victim.id);
      const { index } = await leader.apply(bytes("without"));
      expect(leader.stats().commitIndex).toBeGreaterThanOrEqual(index);
    } finally {
      await c.shutdown();
    }
  });

  it("§4.2.2 removing the leader: it steps down once the change commits and the rest elect a leader", async () => {
    const c = await makeCluster(3);
    try {
      const leader = await c.leader();
      await leader.removeServer(leader.id);
      await waitFor("the removed leader to step down", () => leader.state() !== "Leader");
      const rest = c.nodes().filter((n) => n !== leader).map((n) => n.id);
      const next = await c.leader(5_000, rest);
      expect(next.getConfiguration().configuration.servers.map((s) => s.id).sort()).toEqual(rest.sort());
    } finally {
      await c.shutdown();
    }
  });

  it("concurrent changes are applied one at a time, all of them", async () => {
    const c = await makeCluster(1);
    try {
      const leader = await c.leader();
      const [a, b] = [await c.add("n2"), await c.add("n3")];
      const results = await Promise.all([leader.addNonvoter("n2", a.address), leader.addNonvoter("n3", b.address)]);
      expect(results[0]!.index).not.toBe(results[1]!.index);
      expect(suffrages(leader.getConfiguration().configuration.servers)).toEqual({ n1: "voter", n2: "nonvoter", n3: "nonvoter" });
    } finally {
      await c.shutdown();
    }
  });

  it("refuses a change whose prevIndex is stale", async () => {
    const c = await makeCluster(1);
    try {
      const leader = await c.leader();
      const { index } = leader.getConfiguration();
      const n2 = await c.add("n2");
      await leader.addNonvoter("n2", n2.address, index);
      const error = await leader.removeServer("n2", index).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ConfigurationChangeError);
      expect((error as ConfigurationChangeError).code).toBe("CONFIGURATION_CHANGE_REJECTED");
    } finally {
      await c.shutdown();
    }
  });
});

describe("Membership logging", () => {
  it("logs members added and removed once the change is applied", async () => {
    const lines: { id: string; message: string; fields?: Record<string, unknown> }[] = [];
    const c = await makeCluster(1, {
      logger: (id) => ({ debug() {}, info: (message, fields) => lines.push({ id, message, fields }), warn() {}, error() {} }),
    });
    try {
      const leader = await c.leader();
      expect(lines.some((l) => l.id === "n1" && l.message === "became leader")).toBe(true);
      const n2 = await c.add("n2");
      await leader.addNonvoter("n2", n2.address);
      await leader.removeServer("n2");
      const events = lines.filter((l) => l.id === "n1" && l.message.startsWith("member")).map((l) => [l.message, l.fields?.id]);
      expect(events).toContainEqual(["member added", "n2"]);
      expect(events).toContainEqual(["member removed", "n2"]);
    } finally {
      await c.shutdown();
    }
  });
});
