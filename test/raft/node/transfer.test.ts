// Leadership transfer (dissertation §3.10): the leader brings the target up
// to date and sends TimeoutNow; the call resolves once another node leads.

import { describe, expect, it } from "bun:test";
import { LeadershipTransferError } from "../../../src/raft/errors.ts";
import { bytes, makeCluster, waitFor } from "../harness.ts";

describe("LeadershipTransfer", () => {
  it("hands leadership to the most up-to-date voter when no target is named", async () => {
    const c = await makeCluster(3);
    try {
      const old = await c.leader();
      await old.apply(bytes("a"));
      const next = await old.leadershipTransfer();
      expect(next.id).not.toBe(old.id);
      expect(next.address).toBe(`mem://${next.id}`);
      await waitFor("the new leader to lead", () => c.node(next.id).state() === "Leader");
      expect(old.state()).not.toBe("Leader");
      const { index } = await c.node(next.id).apply(bytes("b"));
      await c.waitForReplication(index);
      expect(await c.ensureSame()).toEqual(["a", "b"]);
    } finally {
      await c.shutdown();
    }
  });

  it("hands leadership to a named voter", async () => {
    const c = await makeCluster(3);
    try {
      const old = await c.leader();
      const target = c.nodes().find((n) => n !== old)!.id;
      const next = await old.leadershipTransfer(target);
      expect(next.id).toBe(target);
    } finally {
      await c.shutdown();
    }
  });

  it("refuses to transfer to itself", async () => {
    const c = await makeCluster(3);
    try {
      const leader = await c.leader();
      const error = await leader.leadershipTransfer(leader.id).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(LeadershipTransferError);
    } finally {
      await c.shutdown();
    }
  });

  it("rejects when the target cannot take over", async () => {
    const c = await makeCluster(3);
    try {
      const leader = await c.leader();
      const target = c.nodes().find((n) => n !== leader)!.id;
      await c.crash(target);
      const error = await leader.leadershipTransfer(target, { timeoutMs: 3_000 }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(LeadershipTransferError);
      expect(leader.state()).toBe("Leader");
    } finally {
      await c.shutdown();
    }
  });
});
