// The SnapshotStore contract, run against the file and the memory store.

import { afterEach, beforeEach, describe, expect, it } from "bun:test";
import type { SnapshotMeta } from "../../src/raft/core/types.ts";
import { SnapshotNotFoundError } from "../../src/storage/errors.ts";
import type { SnapshotStore } from "../../src/storage/types.ts";

export interface SnapshotHarness {
  /** A fresh, empty store keeping `retain` snapshots. */
  create(retain: number): SnapshotStore;
  cleanup(): void;
}

export function meta(index: number, term = 1): SnapshotMeta {
  return {
    index,
    term,
    configuration: { servers: [{ id: "n1", address: "127.0.0.1:7001", suffrage: "voter", meta: { http: "127.0.0.1:8001" } }] },
    configurationIndex: 1,
  };
}

export function bytes(seed: number, length = 1000): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = (seed * 31 + i * 7) & 0xff;
  return out;
}

export function snapshotStoreSuite(name: string, makeHarness: () => SnapshotHarness): void {
  describe(`${name}: SnapshotStore contract`, () => {
    let harness: SnapshotHarness;

    beforeEach(() => {
      harness = makeHarness();
    });
    afterEach(() => harness.cleanup());

    it("is empty at first", async () => {
      const store = harness.create(2);
      expect(await store.list()).toEqual([]);
      expect(await store.latest()).toBeUndefined();
      await expect(store.open(1)).rejects.toBeInstanceOf(SnapshotNotFoundError);
    });

    it("round-trips meta and data, with size and checksum", async () => {
      const store = harness.create(2);
      const data = bytes(1);
      const stored = await store.create(meta(10, 2), data);
      expect(stored.meta).toEqual(meta(10, 2));
      expect(stored.size).toBe(data.length);
      expect(stored.crc32).toBe(Bun.hash.crc32(data));
      const opened = await store.open(10);
      expect(opened.stored).toEqual(stored);
      expect(opened.data).toEqual(data);
      expect((await store.latest())?.data).toEqual(data);
    });

    it("round-trips an empty snapshot", async () => {
      const store = harness.create(2);
      await store.create(meta(3), new Uint8Array(0));
      expect((await store.open(3)).data).toEqual(new Uint8Array(0));
    });

    it("lists newest first and keeps only the newest `retain`", async () => {
      const store = harness.create(2);
      for (const index of [10, 20, 30]) await store.create(meta(index), bytes(index));
      expect((await store.list()).map((s) => s.meta.index)).toEqual([30, 20]);
      await expect(store.open(10)).rejects.toBeInstanceOf(SnapshotNotFoundError);
      const latest = await store.latest();
      expect(latest?.stored.meta.index).toBe(30);
      expect(latest?.data).toEqual(bytes(30));
    });

    it("keeps one when retain is 1", async () => {
      const store = harness.create(1);
      await store.create(meta(1), bytes(1));
      await store.create(meta(2), bytes(2));
      expect((await store.list()).map((s) => s.meta.index)).toEqual([2]);
    });
  });
}
