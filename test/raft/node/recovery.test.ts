// What a node loads on open, table-driven: the stored log is kept only where
// it continues the newest snapshot (§5.3 Log Matching); a crash between
// storing a leader's snapshot and replacing the log leaves entries that do not.

import { describe, expect, it } from "bun:test";
import { EntryType, type Entry } from "../../../src/raft/core/types.ts";
import { silentLogger } from "../../../src/raft/logger.ts";
import { recover } from "../../../src/raft/recovery.ts";
import { MemorySnapshotStore } from "../../../src/storage/memory-snapshot-store.ts";
import { MemoryStorage } from "../../../src/storage/memory-storage.ts";
import { ListFSM, bytes } from "../harness.ts";
import { RaftNode } from "../../../src/raft/node.ts";
import { StorageClosedError } from "../../../src/storage/errors.ts";
import { MemoryNetwork } from "../../../src/transport/memory-transport.ts";

const configuration = { servers: [{ id: "n1", address: "mem://n1", suffrage: "voter" as const }] };

function entries(from: number, to: number, term: number): Entry[] {
  const out: Entry[] = [];
  for (let i = from; i <= to; i++) out.push({ index: i, term, type: EntryType.Command, data: bytes(`e${i}`) });
  return out;
}

const cases: { name: string; log: [number, number, number] | null; snapshot: [number, number] | null; kept: [number, number] | null }[] = [
  { name: "no snapshot: the whole log", log: [1, 10, 1], snapshot: null, kept: [1, 10] },
  { name: "log continues the snapshot exactly", log: [6, 10, 1], snapshot: [5, 1], kept: [6, 10] },
  { name: "trailing entries before the snapshot, matching term: keep what follows", log: [1, 10, 1], snapshot: [5, 1], kept: [6, 10] },
  { name: "entry at the snapshot index has another term: discard", log: [1, 10, 1], snapshot: [5, 2], kept: null },
  { name: "log entirely behind the snapshot: discard", log: [1, 4, 1], snapshot: [8, 1], kept: null },
  { name: "a gap after the snapshot: discard", log: [9, 12, 1], snapshot: [5, 1], kept: null },
  { name: "snapshot and no log", log: null, snapshot: [5, 1], kept: null },
];

describe("Recovery", () => {
  for (const c of cases) {
    it(c.name, async () => {
      const storage = new MemoryStorage();
      if (c.log) storage.log.storeEntries(entries(...c.log));
      const snapshots = new MemorySnapshotStore();
      const fsm = new ListFSM();
      if (c.snapshot) {
        const [index, term] = c.snapshot;
        await snapshots.create({ index, term, configuration, configurationIndex: 1 }, bytes(JSON.stringify({ items: ["s"], lastIndex: index })));
      }
      const r = await recover(storage, snapshots, fsm, silentLogger);
      const got = r.initial.entries!;
      if (c.kept) expect([got[0]!.index, got.at(-1)!.index]).toEqual(c.kept);
      else expect(got).toEqual([]);
      if (!c.kept) expect(storage.log.lastIndex()).toBe(0);
      expect(r.applied).toBe(c.snapshot?.[0] ?? 0);
      expect(fsm.restores).toBe(c.snapshot ? 1 : 0);
    });
  }

  for (const [where, fsmIndex] of [
    ["at", 5],
    ["past", 8],
  ] as const) {
    it(`skips restoring a persistent state machine already ${where} the snapshot`, async () => {
      const storage = new MemoryStorage();
      storage.log.storeEntries(entries(6, 10, 1));
      const snapshots = new MemorySnapshotStore();
      await snapshots.create({ index: 5, term: 1, configuration, configurationIndex: 1 }, bytes("{}"));
      const fsm = Object.assign(new ListFSM(), { appliedIndex: () => fsmIndex });
      const r = await recover(storage, snapshots, fsm, silentLogger);
      expect(fsm.restores).toBe(0);
      expect(r.applied).toBe(fsmIndex);
      expect(r.fsmPoint).toMatchObject({ index: fsmIndex, term: 1, configurationIndex: 1 });
    });
  }

  it("refuses a state machine ahead of the log", async () => {
    const storage = new MemoryStorage();
    storage.log.storeEntries(entries(1, 3, 1));
    const fsm = Object.assign(new ListFSM(), { appliedIndex: () => 9 });
    await expect(recover(storage, new MemorySnapshotStore(), fsm, silentLogger)).rejects.toMatchObject({ code: "CORRUPT_STATE" });
  });

  it("refuses, and deletes nothing, when the log does not continue the snapshot but the state machine applied past it", async () => {
    const storage = new MemoryStorage();
    storage.log.storeEntries(entries(1, 10, 1));
    const snapshots = new MemorySnapshotStore();
    // An older snapshot (the newest was damaged, say) whose entry 5 has another term than the log's.
    await snapshots.create({ index: 5, term: 2, configuration, configurationIndex: 1 }, bytes("{}"));
    const fsm = Object.assign(new ListFSM(), { appliedIndex: () => 8 });
    await expect(recover(storage, snapshots, fsm, silentLogger)).rejects.toMatchObject({ code: "CORRUPT_STATE" });
    expect([storage.log.firstIndex(), storage.log.lastIndex()]).toEqual([1, 10]);
  });

  it("a node that fails to open closes the storage and transport it was given", async () => {
    const storage = new MemoryStorage();
    storage.log.storeEntries(entries(1, 3, 1));
    const fsm = Object.assign(new ListFSM(), { appliedIndex: () => 9 });
    let transportClosed = false;
    const transport = new MemoryNetwork().transport("mem://n1");
    const close = transport.close.bind(transport);
    transport.close = () => ((transportClosed = true), close());
    await expect(RaftNode.open({ id: "n1", storage, snapshots: new MemorySnapshotStore(), transport, fsm })).rejects.toMatchObject({ code: "CORRUPT_STATE" });
    expect(transportClosed).toBe(true);
    expect(() => storage.log.lastIndex()).toThrow(StorageClosedError);
  });
});
