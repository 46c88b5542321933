import { afterEach, beforeEach, describe, expect, it } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CorruptSnapshotError } from "../../src/storage/errors.ts";
import { FileSnapshotStore } from "../../src/storage/file-snapshot-store.ts";
import { bytes, meta, snapshotStoreSuite } from "./snapshot-store.case.ts";

snapshotStoreSuite("FileSnapshotStore", () => {
  const dir = mkdtempSync(join(tmpdir(), "pontoon-snap-"));
  return {
    create: (retain) => new FileSnapshotStore(dir, { retain }),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
});

describe("FileSnapshotStore on disk", () => {
  let dir: string;
  let corrupt: string[];
  let store: FileSnapshotStore;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "pontoon-snap-disk-"));
    corrupt = [];
    store = new FileSnapshotStore(dir, { retain: 3, onCorrupt: (file) => corrupt.push(file) });
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const fileOf = (index: number, term = 1) => join(dir, `snapshot-${String(index).padStart(20, "0")}-${term}.snap`);

  function flipByte(path: string, offsetFromEnd: number): void {
    const content = readFileSync(path);
    content[content.length - offsetFromEnd] = content[content.length - offsetFromEnd]! ^ 0x01;
    writeFileSync(path, content);
  }

  async function openError(index: number): Promise<CorruptSnapshotError> {
    try {
      await store.open(index);
    } catch (error) {
      expect(error).toBeInstanceOf(CorruptSnapshotError);
      return error as CorruptSnapshotError;
    }
    throw new Error("expected open to throw");
  }

  it("names each file snapshot-<index, 20 digits>-<term>.snap and leaves nothing else behind", async () => {
    await store.create(meta(42, 7), bytes(1));
    expect(readdirSync(dir)).toEqual(["snapshot-00000000000000000042-7.snap"]);
    expect(readFileSync(fileOf(42, 7)).subarray(0, 7).toString()).toBe("PNTSNAP");
  });

  it("ignores and removes temp files left by a crash in the middle of a write", async () => {
    await store.create(meta(10), bytes(10));
    writeFileSync(join(dir, ".tmp-snapshot-00000000000000000020-1.snap-123-0"), "half a snapshot");
    expect((await store.list()).map((s) => s.meta.index)).toEqual([10]);
    expect((await store.latest())?.stored.meta.index).toBe(10);
    const reopened = new FileSnapshotStore(dir);
    expect(readdirSync(dir)).toEqual([fileOf(10).slice(dir.length + 1)]);
    expect((await reopened.latest())?.data).toEqual(bytes(10));
  });

  it("throws CorruptSnapshotError naming the file when a data byte is flipped, and latest() falls back", async () => {
    await store.create(meta(10), bytes(10));
    await store.create(meta(20), bytes(20));
    flipByte(fileOf(20), 5);
    const error = await openError(20);
    expect(error.code).toBe("SNAPSHOT_CORRUPT");
    expect(error.message).toContain(fileOf(20));
    expect(error.message).toContain("checksum");
    const latest = await store.latest();
    expect(latest?.stored.meta.index).toBe(10);
    expect(latest?.data).toEqual(bytes(10));
    expect(corrupt).toEqual([fileOf(20)]);
  });

  it("catches a flipped byte in the header meta", async () => {
    await store.create(meta(10), bytes(10));
    const content = readFileSync(fileOf(10));
    const at = content.indexOf("127.0.0.1");
    content[at] = "9".charCodeAt(0);
    writeFileSync(fileOf(10), content);
    expect((await openError(10)).message).toContain("header fails its checksum");
    expect(await store.list()).toEqual([]);
    expect(corrupt).toEqual([fileOf(10)]);
  });

  it("catches a truncated file, bad magic and an unknown version", async () => {
    for (const index of [1, 2, 3]) await store.create(meta(index), bytes(index));
    truncateSync(fileOf(1), readFileSync(fileOf(1)).length - 1);
    const bad = readFileSync(fileOf(2));
    bad[0] = 0;
    writeFileSync(fileOf(2), bad);
    const future = readFileSync(fileOf(3));
    future[7] = 9;
    writeFileSync(fileOf(3), future);
    expect((await openError(1)).message).toContain("header promises");
    expect((await openError(2)).message).toContain("magic");
    expect((await openError(3)).message).toContain("version 9");
    expect(await store.latest()).toBeUndefined();
    expect(corrupt).toEqual([fileOf(3), fileOf(2), fileOf(1)]);
  });

  it("refuses a file whose header disagrees with its name", async () => {
    await store.create(meta(10), bytes(10));
    writeFileSync(fileOf(11), readFileSync(fileOf(10)));
    expect((await openError(11)).message).toContain("does not match the file name");
  });

  it("streams a large snapshot to disk and back", async () => {
    const big = bytes(3, 8 * 1024 * 1024);
    await store.create(meta(100), big);
    expect(Bun.hash.crc32((await store.open(100)).data)).toBe(Bun.hash.crc32(big));
  });
});
