// The RaftStorage contract, run against every implementation (SQLite and
// memory) so that tests and the simulator, which use the memory store, see
// exactly the behaviour production gets from SQLite.

import { afterEach, beforeEach, describe, expect, it } from "bun:test";
import { EntryType, type Entry } from "../../src/raft/core/types.ts";
import { LogUsageError } from "../../src/storage/errors.ts";
import type { RaftStorage } from "../../src/storage/types.ts";

export interface StorageHarness {
  /** A fresh, empty storage. */
  create(): RaftStorage;
  /** Closes `storage` and opens the same data again; omitted for stores that do not survive close. */
  reopen?(storage: RaftStorage): RaftStorage;
  /** Removes whatever create() made. */
  cleanup(): void;
}

const encoder = new TextEncoder();

export function entry(index: number, term: number, text = `cmd-${index}-${term}`): Entry {
  return { index, term, type: EntryType.Command, data: encoder.encode(text) };
}

export function entries(from: number, to: number, term: number): Entry[] {
  const out: Entry[] = [];
  for (let i = from; i <= to; i++) out.push(entry(i, term));
  return out;
}

export function logStoreSuite(name: string, makeHarness: () => StorageHarness): void {
  describe(`${name}: RaftStorage contract`, () => {
    let harness: StorageHarness;
    let storage: RaftStorage;

    beforeEach(() => {
      harness = makeHarness();
      storage = harness.create();
    });
    afterEach(() => {
      storage.close();
      harness.cleanup();
    });

    describe("LogStore", () => {
      it("reports 0 for both indexes and no entries when empty", () => {
        expect(storage.log.firstIndex()).toBe(0);
        expect(storage.log.lastIndex()).toBe(0);
        expect(storage.log.getEntry(1)).toBeUndefined();
        expect(storage.log.getEntries(2, 1)).toEqual([]);
      });

      it("appends entries and reads them back one at a time and as a range", () => {
        storage.log.storeEntries(entries(1, 5, 1));
        storage.log.storeEntries(entries(6, 8, 2));
        expect(storage.log.firstIndex()).toBe(1);
        expect(storage.log.lastIndex()).toBe(8);
        expect(storage.log.getEntry(6)).toEqual(entry(6, 2));
        expect(storage.log.getEntry(9)).toBeUndefined();
        expect(storage.log.getEntries(4, 7)).toEqual([entry(4, 1), entry(5, 1), entry(6, 2), entry(7, 2)]);
      });

      it("keeps every entry type and empty data intact", () => {
        const kinds: Entry[] = [
          { index: 1, term: 1, type: EntryType.Noop, data: new Uint8Array(0) },
          { index: 2, term: 1, type: EntryType.Config, data: encoder.encode('{"servers":[]}') },
          { index: 3, term: 1, type: EntryType.Command, data: new Uint8Array([0, 255, 1, 254]) },
        ];
        storage.log.storeEntries(kinds);
        expect(storage.log.getEntries(1, 3)).toEqual(kinds);
      });

      it("replaces the stored suffix when a batch overwrites existing indexes (§5.3 conflict)", () => {
        storage.log.storeEntries(entries(1, 10, 1));
        storage.log.storeEntries(entries(6, 7, 2));
        expect(storage.log.lastIndex()).toBe(7);
        expect(storage.log.getEntry(8)).toBeUndefined();
        expect(storage.log.getEntries(5, 7)).toEqual([entry(5, 1), entry(6, 2), entry(7, 2)]);
      });

      it("is not changed by a caller mutating the arrays it stored or read", () => {
        const batch = entries(1, 2, 1);
        storage.log.storeEntries(batch);
        batch[0]!.data[0] = 0;
        storage.log.getEntry(2)!.data[0] = 0;
        expect(storage.log.getEntries(1, 2)).toEqual(entries(1, 2, 1));
      });

      it("compacts a prefix with deleteRange and keeps appending after it", () => {
        storage.log.storeEntries(entries(1, 10, 1));
        storage.log.deleteRange(1, 6);
        expect(storage.log.firstIndex()).toBe(7);
        expect(storage.log.lastIndex()).toBe(10);
        expect(storage.log.getEntry(6)).toBeUndefined();
        storage.log.storeEntries(entries(11, 12, 2));
        expect(storage.log.getEntries(7, 12).map((e) => e.index)).toEqual([7, 8, 9, 10, 11, 12]);
      });

      it("deletes a suffix and everything, clamping ranges to what is stored", () => {
        storage.log.storeEntries(entries(5, 10, 1));
        storage.log.deleteRange(9, 100);
        expect([storage.log.firstIndex(), storage.log.lastIndex()]).toEqual([5, 8]);
        storage.log.deleteRange(0, 1000);
        expect([storage.log.firstIndex(), storage.log.lastIndex()]).toEqual([0, 0]);
        storage.log.deleteRange(1, 10);
      });

      it("starts over at any index after the whole log was deleted (snapshot install)", () => {
        storage.log.storeEntries(entries(1, 10, 1));
        storage.log.deleteRange(storage.log.firstIndex(), storage.log.lastIndex());
        storage.log.storeEntries(entries(101, 103, 3));
        expect([storage.log.firstIndex(), storage.log.lastIndex()]).toEqual([101, 103]);
        expect(storage.log.getEntries(101, 103)).toEqual(entries(101, 103, 3));
      });

      it("refuses batches that are not contiguous or would leave a gap, changing nothing", () => {
        storage.log.storeEntries(entries(1, 3, 1));
        expect(() => storage.log.storeEntries([entry(4, 1), entry(6, 1)])).toThrow(LogUsageError);
        expect(() => storage.log.storeEntries(entries(5, 6, 1))).toThrow(LogUsageError);
        expect(() => storage.log.storeEntries(entries(0, 1, 1))).toThrow(LogUsageError);
        expect(storage.log.lastIndex()).toBe(3);
      });

      it("refuses to delete from the middle or to read outside the stored range", () => {
        storage.log.storeEntries(entries(1, 10, 1));
        storage.log.deleteRange(1, 2);
        expect(() => storage.log.deleteRange(5, 6)).toThrow(LogUsageError);
        expect(() => storage.log.getEntries(2, 5)).toThrow(LogUsageError);
        expect(() => storage.log.getEntries(9, 11)).toThrow(LogUsageError);
        expect(storage.log.getEntries(3, 10)).toHaveLength(8);
      });
    });

    describe("StableStore", () => {
      it("has no hard state until one is set, then round-trips it", () => {
        expect(storage.stable.getHardState()).toBeUndefined();
        storage.stable.setHardState({ term: 3, vote: "n2", commit: 17 });
        expect(storage.stable.getHardState()).toEqual({ term: 3, vote: "n2", commit: 17 });
        storage.stable.setHardState({ term: 4, vote: null, commit: 18 });
        expect(storage.stable.getHardState()).toEqual({ term: 4, vote: null, commit: 18 });
      });

      it("round-trips arbitrary keys and overwrites them", () => {
        expect(storage.stable.get("k")).toBeUndefined();
        storage.stable.set("k", new Uint8Array([1, 2]));
        storage.stable.set("k", new Uint8Array([3]));
        storage.stable.set("empty", new Uint8Array(0));
        expect(storage.stable.get("k")).toEqual(new Uint8Array([3]));
        expect(storage.stable.get("empty")).toEqual(new Uint8Array(0));
      });
    });

    describe("transaction", () => {
      it("commits log and stable writes together and returns fn's result", () => {
        const result = storage.transaction(() => {
          storage.log.storeEntries(entries(1, 3, 1));
          storage.stable.setHardState({ term: 1, vote: "n1", commit: 3 });
          return "done";
        });
        expect(result).toBe("done");
        expect(storage.log.lastIndex()).toBe(3);
        expect(storage.stable.getHardState()?.commit).toBe(3);
      });

      it("stores nothing when fn throws: entries, truncation, deletes, hard state and values all roll back", () => {
        storage.log.storeEntries(entries(1, 10, 1));
        storage.stable.setHardState({ term: 1, vote: "n1", commit: 5 });
        storage.stable.set("k", new Uint8Array([1]));
        expect(() =>
          storage.transaction(() => {
            storage.log.storeEntries(entries(8, 12, 2));
            storage.log.deleteRange(1, 4);
            storage.stable.setHardState({ term: 2, vote: "n2", commit: 9 });
            storage.stable.set("k", new Uint8Array([2]));
            storage.stable.set("new", new Uint8Array([3]));
            throw new Error("crash in the middle");
          }),
        ).toThrow("crash in the middle");
        expect([storage.log.firstIndex(), storage.log.lastIndex()]).toEqual([1, 10]);
        expect(storage.log.getEntries(1, 10)).toEqual(entries(1, 10, 1));
        expect(storage.stable.getHardState()).toEqual({ term: 1, vote: "n1", commit: 5 });
        expect(storage.stable.get("k")).toEqual(new Uint8Array([1]));
        expect(storage.stable.get("new")).toBeUndefined();
      });

      it("rolls back only the inner transaction when a nested one throws and the outer catches", () => {
        storage.transaction(() => {
          storage.log.storeEntries(entries(1, 2, 1));
          try {
            storage.transaction(() => {
              storage.log.storeEntries(entries(3, 4, 1));
              throw new Error("inner");
            });
          } catch {
            // the outer transaction carries on without the inner writes
          }
          storage.log.storeEntries(entries(3, 3, 2));
        });
        expect(storage.log.getEntries(1, 3)).toEqual([entry(1, 1), entry(2, 1), entry(3, 2)]);
      });

      it("refuses an async fn rather than committing half of it", () => {
        expect(() => storage.transaction(async () => storage.log.storeEntries(entries(1, 1, 1)))).toThrow(LogUsageError);
        expect(storage.log.lastIndex()).toBe(0);
      });
    });

    describe("durability across close and reopen", () => {
      it("keeps the log, the hard state and values after reopening", () => {
        if (!harness.reopen) return;
        storage.transaction(() => {
          storage.log.storeEntries(entries(1, 20, 1));
          storage.log.deleteRange(1, 5);
          storage.log.storeEntries(entries(18, 22, 2));
          storage.stable.setHardState({ term: 2, vote: "n3", commit: 21 });
          storage.stable.set("k", new Uint8Array([9]));
        });
        storage = harness.reopen(storage);
        expect([storage.log.firstIndex(), storage.log.lastIndex()]).toEqual([6, 22]);
        expect(storage.log.getEntries(6, 22)).toEqual([...entries(6, 17, 1), ...entries(18, 22, 2)]);
        expect(storage.stable.getHardState()).toEqual({ term: 2, vote: "n3", commit: 21 });
        expect(storage.stable.get("k")).toEqual(new Uint8Array([9]));
      });
    });
  });
}
