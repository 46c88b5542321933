// Writes and reads through the leader: apply futures, NotLeaderError with the
// leader's address, barrier, ReadIndex (§6.4) and the leader lease (§6.4.1).

import { describe, expect, it } from "bun:test";
import { LeadershipLostError, NotLeaderError, TimeoutError } from "../../../src/raft/errors.ts";
import type { CommittedCommand } from "../../../src/raft/fsm.ts";
import { MemoryStorage } from "../../../src/storage/memory-storage.ts";
import type { RaftStorage } from "../../../src/storage/types.ts";
import { ListFSM, bytes, makeCluster, waitFor } from "../harness.ts";

/** Counts storage transactions: each is one fsync on SQLite. */
function counting(storage: RaftStorage, counter: { transactions: number }): RaftStorage {
  return {
    log: storage.log,
    stable: storage.stable,
    transaction: (fn) => {
      counter.transactions++;
      return storage.transaction(fn);
    },
    close: () => storage.close(),
  };
}

/** Records how commands arrived, to show that one turn's commands reach applyBatch together. */
class BatchFSM extends ListFSM {
  batches: number[] = [];
  applyBatch(entries: CommittedCommand[]): unknown[] {
    this.batches.push(entries.length);
    return entries.map((e) => this.apply(e));
  }
}

describe("Apply", () => {
  it("resolves with the index and the state machine's response, once applied on the leader", async () => {
    const c = await makeCluster(3);
    try {
      const leader = await c.leader();
      const r = await leader.apply(bytes("a"));
      expect(r.response).toEqual({ position: 1, command: "a" });
      expect(r.index).toBe(leader.stats().appliedIndex);
      await c.waitForReplication(r.index);
      expect(await c.ensureSame()).toEqual(["a"]);
    } finally {
      await c.shutdown();
    }
  });

  it("keeps the order of concurrent proposals and commits one turn's proposals together (group commit)", async () => {
    const c = await makeCluster(3, { fsm: () => new BatchFSM() });
    try {
      const leader = await c.leader();
      const commands = Array.from({ length: 200 }, (_, i) => `c${i}`);
      const results = await Promise.all(commands.map((cmd) => leader.apply(bytes(cmd))));
      const indexes = results.map((r) => r.index);
      expect(indexes).toEqual([...indexes].sort((a, b) => a - b));
      expect(results.map((r) => (r.response as { command: string }).command)).toEqual(commands);
      await c.waitForReplication(indexes.at(-1)!);
      expect(await c.ensureSame()).toEqual(commands);
      const fsm = c.fsm(leader.id) as BatchFSM;
      expect(Math.max(...fsm.batches)).toBeGreaterThan(1);
    } finally {
      await c.shutdown();
    }
  });

  it("group commit: proposals made in one turn are persisted in one transaction", async () => {
    const counter = { transactions: 0 };
    const c = await makeCluster(1, { storage: () => counting(new MemoryStorage(), counter) });
    try {
      const leader = await c.leader();
      const before = counter.transactions;
      const results = await Promise.all(Array.from({ length: 100 }, (_, i) => leader.apply(bytes(`g${i}`))));
      expect(results).toHaveLength(100);
      // One pass for the batch (a tick's pass may land in between): far fewer than one per proposal.
      expect(counter.transactions - before).toBeLessThanOrEqual(3);
    } finally {
      await c.shutdown();
    }
  });

  it("rejects with what the state machine threw, and carries on", async () => {
    const c = await makeCluster(1);
    try {
      const leader = await c.leader();
      await expect(leader.apply(bytes("fail:bad"))).rejects.toThrow("refused fail:bad");
      const r = await leader.apply(bytes("ok"));
      expect(r.response).toEqual({ position: 1, command: "ok" });
    } finally {
      await c.shutdown();
    }
  });

  it("fails fast on a follower with NotLeaderError naming the leader and its address", async () => {
    const c = await makeCluster(3);
    try {
      const leader = await c.leader();
      const follower = c.nodes().find((n) => n !== leader)!;
      await waitFor("the follower to know the leader", () => follower.leader()?.id === leader.id);
      const calls: [string, () => Promise<unknown>][] = [
        ["apply", () => follower.apply(bytes("x"))],
        ["barrier", () => follower.barrier()],
        ["verifyLeader", () => follower.verifyLeader()],
        ["readIndex", () => follower.readIndex()],
        ["leaseRead", () => follower.leaseRead()],
        ["addVoter", () => follower.addVoter("n9", "mem://n9")],
        ["removeServer", () => follower.removeServer(leader.id)],
        ["leadershipTransfer", () => follower.leadershipTransfer()],
      ];
      for (const [name, call] of calls) {
        const error = await call().then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(error, name).toBeInstanceOf(NotLeaderError);
        const e = error as NotLeaderError;
        expect(e.code).toBe("NOT_LEADER");
        expect(e.leader).toBe(leader.id);
        expect(e.leaderAddress).toBe(`mem://${leader.id}`);
      }
    } finally {
      await c.shutdown();
    }
  });

  it("times out with TimeoutError when a quorum cannot be reached in time", async () => {
    const c = await makeCluster(3, { electionTicks: 50 });
    try {
      const leader = await c.leader();
      c.partition(leader.id);
      const started = Date.now();
      const error = await leader.apply(bytes("lost"), { timeoutMs: 50 }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TimeoutError);
      expect((error as TimeoutError).code).toBe("TIMEOUT");
      expect(Date.now() - started).toBeLessThan(1_000);
    } finally {
      await c.shutdown();
    }
  });

  it("rejects with LeadershipLostError when the leader steps down with the entry in flight", async () => {
    const c = await makeCluster(3);
    try {
      const leader = await c.leader();
      c.partition(leader.id);
      const error = await leader.apply(bytes("in-flight"), { timeoutMs: 5_000 }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(LeadershipLostError);
      expect((error as LeadershipLostError).code).toBe("LEADERSHIP_LOST");
    } finally {
      await c.shutdown();
    }
  });
});

describe("Barrier", () => {
  it("resolves once every entry the leader had is applied", async () => {
    const c = await makeCluster(3);
    try {
      const leader = await c.leader();
      const pending = ["a", "b", "c"].map((s) => leader.apply(bytes(s)));
      const index = await leader.barrier();
      expect(index).toBeGreaterThanOrEqual((await pending[2]!).index);
      expect(c.fsm(leader.id).items).toEqual(["a", "b", "c"]);
    } finally {
      await c.shutdown();
    }
  });
});

describe("Linearizable reads", () => {
  it("verifyLeader resolves on a connected leader and fails on one cut off from the majority", async () => {
    const c = await makeCluster(3);
    try {
      const leader = await c.leader();
      await leader.verifyLeader();
      c.partition(leader.id);
      const error = await leader.verifyLeader({ timeoutMs: 3_000 }).catch((e: unknown) => e);
      expect(error instanceof LeadershipLostError || error instanceof TimeoutError).toBe(true);
    } finally {
      await c.shutdown();
    }
  });

  it("readIndex resolves at or after every acknowledged write, with it applied locally", async () => {
    const c = await makeCluster(3);
    try {
      const leader = await c.leader();
      const { index } = await leader.apply(bytes("w"));
      const readAt = await leader.readIndex();
      expect(readAt).toBeGreaterThanOrEqual(index);
      expect(leader.stats().appliedIndex).toBeGreaterThanOrEqual(readAt);
      expect(c.fsm(leader.id).items).toContain("w");
    } finally {
      await c.shutdown();
    }
  });

  it("readIndex on a single node resolves without a round trip", async () => {
    const c = await makeCluster(1);
    try {
      const leader = await c.leader();
      const { index } = await leader.apply(bytes("w"));
      expect(await leader.readIndex()).toBeGreaterThanOrEqual(index);
    } finally {
      await c.shutdown();
    }
  });

  it("leaseRead serves at or after the last acknowledged write", async () => {
    const c = await makeCluster(3);
    try {
      const leader = await c.leader();
      const { index } = await leader.apply(bytes("w"));
      const readAt = await leader.leaseRead();
      expect(readAt).toBeGreaterThanOrEqual(index);
      expect(leader.stats().appliedIndex).toBeGreaterThanOrEqual(readAt);
    } finally {
      await c.shutdown();
    }
  });

  it("§6.4.1 a leader whose event loop stalled past its lease does not serve from it: its clock counts real time, not timer callbacks", async () => {
    const tickMs = 10;
    const electionTicks = 10;
    const c = await makeCluster(3, { tickMs, electionTicks });
    try {
      const leader = await c.leader();
      await leader.apply(bytes("w"));
      c.partition(leader.id);
      // Block the whole process for four election timeouts (400 ms of 10 ms ticks): no timer fires meanwhile, as
      // under a GC pause, a long fsync or SIGSTOP. That is well past the lease (under one election timeout) and
      // the two CheckQuorum rounds after which a leader cut off from its quorum steps down (two election
      // timeouts); the clock catches up at most three election timeouts at once, so a longer stall changes nothing.
      Bun.sleepSync(4 * electionTicks * tickMs);
      const error = await leader.leaseRead({ timeoutMs: 300 }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(NotLeaderError);
      expect(leader.state()).toBe("Follower");
    } finally {
      await c.shutdown();
    }
  });
});

/** Applies after a macrotask, and records whether two applies ever overlapped. */
class SlowFSM extends ListFSM {
  inFlight = 0;
  overlapped = false;
  override async apply(entry: CommittedCommand): Promise<unknown> {
    this.inFlight++;
    if (this.inFlight > 1) this.overlapped = true;
    await Bun.sleep(1);
    try {
      return super.apply(entry);
    } finally {
      this.inFlight--;
    }
  }
}

describe("An asynchronous state machine", () => {
  it("is awaited one command at a time, in log order, while proposals keep arriving", async () => {
    const c = await makeCluster(3, { fsm: () => new SlowFSM() });
    try {
      const leader = await c.leader();
      const commands = Array.from({ length: 30 }, (_, i) => `s${i}`);
      const results = await Promise.all(commands.map((cmd) => leader.apply(bytes(cmd))));
      await c.waitForReplication(results.at(-1)!.index);
      expect(await c.ensureSame()).toEqual(commands);
      for (const n of c.nodes()) expect((c.fsm(n.id) as SlowFSM).overlapped).toBe(false);
    } finally {
      await c.shutdown();
    }
  });
});

describe("Stats", () => {
  it("reports indexes, the configuration and, on the leader, each peer's progress", async () => {
    const c = await makeCluster(3);
    try {
      const leader = await c.leader();
      const { index } = await leader.apply(bytes("a"));
      await c.waitForReplication(index);
      await waitFor("the leader to see every follower match", () => leader.stats().peers.every((p) => p.match >= index));
      const s = leader.stats();
      expect(s).toMatchObject({ id: leader.id, state: "Leader", commitIndex: index, appliedIndex: index, lastIndex: index, firstIndex: 1, snapshotIndex: 0 });
      expect(s.leader).toEqual({ id: leader.id, address: `mem://${leader.id}` });
      expect(s.configuration.servers).toHaveLength(3);
      expect(s.peers).toHaveLength(2);
      for (const p of s.peers) expect(p.state).toBe("replicate");
      const follower = c.nodes().find((n) => n !== leader)!.stats();
      expect(follower.peers).toEqual([]);
      expect(follower.lastContactMs).toBeLessThan(500);
    } finally {
      await c.shutdown();
    }
  });
});
