// Durability through RaftNode: a crashed node restarts on its storage and
// rebuilds its state machine; a persistent state machine is not replayed;
// shutdown settles every pending call; the same on real SQLite files.

import { afterEach, describe, expect, it } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ShutdownError } from "../../../src/raft/errors.ts";
import { FileSnapshotStore } from "../../../src/storage/file-snapshot-store.ts";
import { openSqliteStorage } from "../../../src/storage/sqlite-storage.ts";
import { ListFSM, bytes, makeCluster } from "../harness.ts";

/** A state machine that survives restarts (like fsm.db) and says how far it got. */
class PersistentListFSM extends ListFSM {
  appliedIndex(): number {
    return this.lastIndex;
  }
}

async function applyAll(node: { apply(b: Uint8Array): Promise<{ index: number }> }, commands: string[]): Promise<number> {
  let last = 0;
  for (const c of commands) last = (await node.apply(bytes(c))).index;
  return last;
}

describe("Crash and restart", () => {
  it("a crashed follower restarts on its storage, rebuilds its state machine and catches up", async () => {
    const c = await makeCluster(3);
    try {
      const leader = await c.leader();
      const follower = c.nodes().find((n) => n !== leader)!.id;
      const first = await applyAll(leader, ["a", "b"]);
      await c.waitForReplication(first);
      await c.crash(follower);
      const last = await applyAll(leader, ["c"]);
      await c.restart(follower);
      await c.waitForReplication(last);
      expect(c.fsm(follower).items).toEqual(["a", "b", "c"]);
    } finally {
      await c.shutdown();
    }
  });

  it("a whole cluster restarted keeps every acknowledged command and elects a leader again", async () => {
    const c = await makeCluster(3);
    try {
      const leader = await c.leader();
      const term = leader.stats().term;
      const last = await applyAll(leader, ["a", "b", "c"]);
      for (const id of ["n1", "n2", "n3"]) await c.crash(id);
      for (const id of ["n1", "n2", "n3"]) await c.restart(id);
      const next = await c.leader();
      expect(next.stats().term).toBeGreaterThan(term);
      await c.waitForReplication(last);
      expect(await c.ensureSame()).toEqual(["a", "b", "c"]);
    } finally {
      await c.shutdown();
    }
  });

  it("a persistent state machine is neither restored from the snapshot nor replayed on restart", async () => {
    const c = await makeCluster(1, { fsm: () => new PersistentListFSM(), trailingLogs: 0 });
    try {
      const leader = await c.leader();
      await applyAll(leader, ["a", "b"]);
      await leader.snapshot();
      const last = await applyAll(leader, ["c"]);
      await c.crash("n1");
      const again = await c.restart("n1", true);
      await c.leader();
      expect(again.stats().appliedIndex).toBeGreaterThanOrEqual(last);
      expect(c.fsm("n1").restores).toBe(0);
      expect(c.fsm("n1").items).toEqual(["a", "b", "c"]);
    } finally {
      await c.shutdown();
    }
  });
});

describe("Shutdown", () => {
  it("rejects every pending call with ShutdownError, and every later one", async () => {
    const c = await makeCluster(3, { electionTicks: 50 });
    try {
      const leader = await c.leader();
      c.partition(leader.id);
      const pending = [leader.apply(bytes("never")), leader.barrier(), leader.verifyLeader(), leader.readIndex()];
      const states: string[] = [];
      leader.onStateChange((s) => states.push(s));
      await leader.shutdown();
      for (const p of pending) {
        const error = await p.then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(error).toBeInstanceOf(ShutdownError);
        expect((error as ShutdownError).code).toBe("SHUTDOWN");
      }
      expect(leader.state()).toBe("Shutdown");
      expect(states).toEqual(["Shutdown"]);
      await expect(leader.apply(bytes("late"))).rejects.toBeInstanceOf(ShutdownError);
      await leader.shutdown(); // idempotent
    } finally {
      await c.shutdown();
    }
  });
});

describe("On SQLite files", () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it("a cluster stopped and reopened from its files keeps its log, snapshot and state", async () => {
    const dir = mkdtempSync(join(tmpdir(), "pontoon-node-"));
    dirs.push(dir);
    const c = await makeCluster(3, {
      openStorage: (id) => openSqliteStorage(join(dir, `${id}.db`)),
      snapshots: (id) => new FileSnapshotStore(join(dir, `${id}-snapshots`)),
      trailingLogs: 2,
    });
    try {
      const leader = await c.leader();
      await applyAll(leader, ["a", "b", "c", "d"]);
      await leader.snapshot();
      const last = await applyAll(leader, ["e"]);
      await c.waitForReplication(last);
      for (const id of ["n1", "n2", "n3"]) await c.crash(id);
      for (const id of ["n1", "n2", "n3"]) await c.restart(id);
      await c.leader();
      await c.waitForReplication(last);
      expect(await c.ensureSame()).toEqual(["a", "b", "c", "d", "e"]);
      expect(c.fsm(leader.id).restores).toBe(1);
      const next = await c.leader();
      const more = await next.apply(bytes("f"));
      await c.waitForReplication(more.index);
      expect(await c.ensureSame()).toEqual(["a", "b", "c", "d", "e", "f"]);
    } finally {
      await c.shutdown();
    }
  });
});
