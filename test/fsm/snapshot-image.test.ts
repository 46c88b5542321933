import { afterEach, beforeEach, describe, expect, it } from "bun:test";
import { PluginMismatchError } from "../../src/fsm/errors.ts";
import type { PluginHost } from "../../src/fsm/plugin-host.ts";
import { SNAPSHOT_IMAGE_VERSION, SnapshotImageError, decodeSnapshotImage, encodeSnapshotImage } from "../../src/fsm/snapshot-image.ts";
import { listEntries } from "../../plugins/kv/store.ts";
import { add, appliedIndexOnDisk, counter, counters, entry, fsmDir, kvHosted, put, stateBytes } from "./fixtures.ts";

let tmp: ReturnType<typeof fsmDir>;
beforeEach(() => {
  tmp = fsmDir("snapshot-image");
});
afterEach(() => tmp.cleanup());

/** A host with kv, counter and host-command state at applied index 6. */
function populated(name = "source.db"): PluginHost {
  const host = tmp.open(name);
  host.applyBatch([put(1, "app/a", "1"), put(2, "app/b", "2"), add(3, "hits", 5)]);
  host.applyBatch([entry(4, "_host", "member", { id: "n1", http: "http://n1:8500", plugins: ["kv", "counter"] }), put(5, "app/a", "1b"), add(6, "hits", 1)]);
  return host;
}

/** The offset where the SQLite image starts inside a snapshot (after magic, version, header length and header). */
function databaseOffset(image: Uint8Array): number {
  return 8 + 1 + 4 + new DataView(image.buffer, image.byteOffset).getUint32(9);
}

describe("snapshot image format", () => {
  it("round-trips the header and the database bytes", () => {
    const database = Uint8Array.from({ length: 256 }, (_, i) => i);
    const { header, database: back } = decodeSnapshotImage(encodeSnapshotImage({ plugins: ["kv", "counter"], appliedIndex: 42 }, database));
    expect(header).toEqual({ plugins: ["kv", "counter"], appliedIndex: 42 });
    expect(back).toEqual(database);
  });

  const valid = encodeSnapshotImage({ plugins: ["kv"], appliedIndex: 7 }, new Uint8Array([1, 2, 3]));
  const altered = (at: number, value: number): Uint8Array => {
    const copy = valid.slice();
    copy[at] = value;
    return copy;
  };
  const withHeader = (json: string): Uint8Array => {
    const text = new TextEncoder().encode(json);
    const out = new Uint8Array(13 + text.length);
    out.set(valid.subarray(0, 9));
    new DataView(out.buffer).setUint32(9, text.length);
    out.set(text, 13);
    return out;
  };
  const cases: { name: string; image: Uint8Array; says: string }[] = [
    { name: "an empty file", image: new Uint8Array(0), says: "not a Pontoon state machine snapshot" },
    { name: "a flipped magic byte", image: altered(0, valid[0]! ^ 0x01), says: "not a Pontoon state machine snapshot" },
    { name: "another format version", image: altered(8, SNAPSHOT_IMAGE_VERSION + 1), says: `format version ${SNAPSHOT_IMAGE_VERSION + 1}` },
    { name: "a header length past the end", image: altered(12, 0xff), says: "header is truncated" },
    { name: "an image cut inside its header", image: valid.subarray(0, 20), says: "header is truncated" },
    { name: "a header that is not JSON", image: withHeader('{"plugins":["kv"],'), says: "header is not JSON" },
    { name: "a header without appliedIndex", image: withHeader('{"plugins":["kv"]}'), says: "lacks plugins or appliedIndex" },
    { name: "a header without plugins", image: withHeader('{"appliedIndex":3}'), says: "lacks plugins or appliedIndex" },
  ];
  for (const c of cases) {
    it(`rejects ${c.name} with SnapshotImageError`, () => {
      expect(() => decodeSnapshotImage(c.image)).toThrow(SnapshotImageError);
      expect(() => decodeSnapshotImage(c.image)).toThrow(c.says);
    });
  }
});

describe("PluginHost.snapshot and restore", () => {
  it("restores on a fresh host the same state and applied index the snapshot was taken at", () => {
    const source = populated();
    const image = source.snapshot();
    expect(decodeSnapshotImage(image).header).toEqual({ plugins: ["counter", "kv"], appliedIndex: 6 });

    const target = tmp.open("target.db");
    let restored = 0;
    target.onRestored(() => restored++);
    target.restore(image);
    expect(restored).toBe(1);
    expect(target.appliedIndex()).toBe(6);
    expect(stateBytes(target.database)).toEqual(stateBytes(source.database));
    expect(counters(target.database)).toEqual({ hits: 6 });
  });

  it("replaces the state a host already had, and keeps the restored state across a restart", () => {
    const image = populated().snapshot();
    const target = tmp.open("target.db");
    target.applyBatch([put(1, "stale", "x"), add(2, "other", 9)]);
    target.restore(image);
    expect(listEntries(target.database, "").map((e) => e.key)).toEqual(["app/a", "app/b"]);
    expect(counters(target.database)).toEqual({ hits: 6 });
    target.close();

    const reopened = tmp.open("target.db");
    expect(reopened.appliedIndex()).toBe(6);
    expect(appliedIndexOnDisk(reopened.database)).toBe("6");
    expect(counters(reopened.database)).toEqual({ hits: 6 });
  });

  it("carries on applying after a restore exactly as the snapshotted host does", () => {
    const source = populated();
    const target = tmp.open("target.db");
    target.restore(source.snapshot());
    const next = [put(7, "app/a", "2", 5), add(8, "hits", 4)];
    expect(target.applyBatch(next)).toEqual(source.applyBatch(next));
    expect(stateBytes(target.database)).toEqual(stateBytes(source.database));
  });

  it("refuses a snapshot of a different plugin list with PluginMismatchError, leaving the state untouched", () => {
    const kvOnly = tmp.open("kv-only.db", [kvHosted]);
    kvOnly.applyBatch([put(1, "other", "x")]);
    const image = kvOnly.snapshot();

    const target = populated("target.db");
    const before = stateBytes(target.database);
    let restored = 0;
    target.onRestored(() => restored++);
    expect(() => target.restore(image)).toThrow(PluginMismatchError);
    expect(() => target.restore(image)).toThrow("the snapshot holds plugins [kv]; this node runs plugins [counter, kv]");
    expect(restored).toBe(0);
    expect(target.appliedIndex()).toBe(6);
    expect(stateBytes(target.database)).toEqual(before);
    // Still a working host.
    expect(target.applyBatch([add(7, "hits", 1)])).toEqual([{ ok: true, value: 7 }]);
  });

  it("refuses a snapshot taken with more plugins than this node runs", () => {
    const image = populated().snapshot();
    const target = tmp.open("target.db", [counter]);
    target.applyBatch([add(1, "hits", 1)]);
    expect(() => target.restore(image)).toThrow(PluginMismatchError);
    expect(target.appliedIndex()).toBe(1);
    expect(counters(target.database)).toEqual({ hits: 1 });
  });

  it("rejects an image whose header was damaged with SnapshotImageError, leaving the state untouched", () => {
    const image = populated().snapshot();
    const target = populated("target.db");
    target.applyBatch([add(7, "hits", 100)]);
    const before = stateBytes(target.database);
    const damaged = [
      image.subarray(0, 11), // cut before the header ends
      (() => {
        const copy = image.slice();
        copy[3]! ^= 0x20; // magic
        return copy;
      })(),
      (() => {
        const copy = image.slice();
        copy[13] = 0x00; // the header's opening brace
        return copy;
      })(),
    ];
    for (const bad of damaged) {
      expect(() => target.restore(bad)).toThrow(SnapshotImageError);
      expect(target.appliedIndex()).toBe(7);
      expect(stateBytes(target.database)).toEqual(before);
    }
  });

  // Restore opens and checks the image beside fsm.db before replacing it.
  it("rejects an image whose database part was truncated or overwritten, leaving the state untouched", () => {
    const image = populated().snapshot();
    const start = databaseOffset(image);
    const target = populated("target.db");
    const before = stateBytes(target.database);
    const sqliteHeaderFlipped = image.slice();
    sqliteHeaderFlipped[start + 20]! ^= 0xff; // reserved-bytes-per-page: SQLite no longer recognises the file
    for (const bad of [image.subarray(0, start + Math.floor((image.length - start) / 2)), sqliteHeaderFlipped]) {
      expect(() => target.restore(bad)).toThrow(SnapshotImageError);
      expect(() => target.restore(bad)).toThrow(/its database is unusable \([\s\S]*\); the current state was kept$/);
      expect(target.appliedIndex()).toBe(6);
      expect(stateBytes(target.database)).toEqual(before);
    }
  });

  it("rejects an image whose database part is missing instead of restoring an empty state", () => {
    const image = populated().snapshot();
    const target = populated("target.db");
    const bare = image.subarray(0, databaseOffset(image));
    expect(() => target.restore(bare)).toThrow(SnapshotImageError);
    // SQLite opens an empty file as an empty database: only the applied index it lacks gives it away.
    expect(() => target.restore(bare)).toThrow("its database is unusable (its header says applied index 6, its database holds 0)");
    expect(target.appliedIndex()).toBe(6);
  });
});
