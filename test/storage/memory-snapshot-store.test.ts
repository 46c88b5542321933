import { describe, expect, it } from "bun:test";
import { DiscardSnapshotStore } from "../../src/storage/discard-snapshot-store.ts";
import { SnapshotNotFoundError } from "../../src/storage/errors.ts";
import { MemorySnapshotStore } from "../../src/storage/memory-snapshot-store.ts";
import { bytes, meta, snapshotStoreSuite } from "./snapshot-store.case.ts";

snapshotStoreSuite("MemorySnapshotStore", () => ({
  create: (retain) => new MemorySnapshotStore({ retain }),
  cleanup: () => {},
}));

describe("MemorySnapshotStore", () => {
  it("is not changed by a caller mutating the buffer it stored", async () => {
    const store = new MemorySnapshotStore();
    const data = bytes(1);
    await store.create(meta(5), data);
    data[0] = data[0]! ^ 0xff;
    expect((await store.open(5)).data).toEqual(bytes(1));
  });
});

describe("DiscardSnapshotStore", () => {
  it("accepts snapshots and never has any", async () => {
    const store = new DiscardSnapshotStore();
    const stored = await store.create(meta(5), bytes(1));
    expect(stored.meta.index).toBe(5);
    expect(await store.list()).toEqual([]);
    expect(await store.latest()).toBeUndefined();
    await expect(store.open(5)).rejects.toBeInstanceOf(SnapshotNotFoundError);
  });
});
