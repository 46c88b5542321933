// The storage layer's answers to disk faults, without processes: what each
// error says, and the checks an end-to-end test would be slow to vary
// (test/fault/disk-faults.test.ts runs them on real nodes).

import { Database } from "bun:sqlite";
import { afterEach, beforeEach, describe, expect, it } from "bun:test";
import { mkdtempSync, rmSync, statSync, truncateSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RaftError } from "../../src/raft/core/errors.ts";
import { FatalNodeError } from "../../src/raft/errors.ts";
import { dataFaultMessage } from "../../src/storage/data-fault.ts";
import { CorruptLogError, CorruptSnapshotError, CorruptStorageError, fileWriteError, StorageIoError } from "../../src/storage/errors.ts";
import { FileSnapshotStore } from "../../src/storage/file-snapshot-store.ts";
import { PluginHost } from "../../src/fsm/plugin-host.ts";
import { translateSqliteError } from "../../src/storage/sqlite-file.ts";
import { openSqliteStorage } from "../../src/storage/sqlite-storage.ts";
import { entries } from "./log-store.case.ts";
import { bytes, meta } from "./snapshot-store.case.ts";
import { kvHosted, put } from "../fsm/fixtures.ts";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "pontoon-disk-faults-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe("a SQLite file cut inside its last page", () => {
  it("is refused at open, although SQLite itself reads the short page as zeros and quick_check passes", () => {
    const path = join(dir, "raft.db");
    const storage = openSqliteStorage(path);
    storage.log.storeEntries(entries(1, 50, 1));
    storage.close();
    truncateSync(path, statSync(path).size - 1);
    expect(() => openSqliteStorage(path)).toThrow(CorruptStorageError);
    expect(() => openSqliteStorage(path)).toThrow(/is \d+ bytes, not a whole number of 4096-byte pages \(truncated\)/);
  });
});

describe("a write the disk has no room for", () => {
  it("SQLITE_FULL becomes STORAGE_FULL naming the file and saying to free space and restart", () => {
    const path = join(dir, "fsm.db");
    const db = new Database(path);
    db.exec("CREATE TABLE t (x BLOB); PRAGMA max_page_count = 8");
    let caught: unknown;
    try {
      for (let i = 0; i < 100; i++) db.query("INSERT INTO t VALUES (?)").run(new Uint8Array(4096));
    } catch (error) {
      caught = translateSqliteError(path, error);
    } finally {
      db.close();
    }
    expect(caught).toBeInstanceOf(StorageIoError);
    expect((caught as StorageIoError).code).toBe("STORAGE_FULL");
    expect((caught as Error).message).toBe(`cannot write ${path}: the disk is full (SQLITE_FULL); free space, then start the node again: it resumes from what it had stored`);
  });

  it("a full fsm.db while applying stops the batch with STORAGE_FULL naming fsm.db, and nothing of the batch is applied", () => {
    const file = join(dir, "fsm.db");
    const host = new PluginHost(file, [kvHosted]);
    try {
      host.applyBatch([put(1, "small", "fits")]);
      const pages = host.database.query<{ page_count: number }, []>("PRAGMA page_count").get()!.page_count;
      host.database.exec(`PRAGMA max_page_count = ${pages + 2}`);
      const big = Array.from({ length: 20 }, (_, i) => put(2 + i, `big/${i}`, "x".repeat(8_000)));
      let caught: unknown;
      try {
        host.applyBatch(big);
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(StorageIoError);
      expect((caught as Error).message).toStartWith(`cannot write ${file}: the disk is full`);
      expect(host.appliedIndex()).toBe(1);
    } finally {
      host.close();
    }
  });

  const cases: { errno: string; code: string }[] = [
    { errno: "ENOSPC", code: "STORAGE_FULL" },
    { errno: "EDQUOT", code: "STORAGE_FULL" },
    { errno: "EFBIG", code: "STORAGE_FULL" },
    { errno: "EIO", code: "STORAGE_IO" },
  ];
  for (const { errno, code } of cases) {
    it(`a file system ${errno} while writing a snapshot is ${code}, naming the file`, () => {
      const error = fileWriteError("/data/snapshots/snapshot-1.snap", Object.assign(new Error(`${errno}: write`), { code: errno }));
      expect(error).toBeInstanceOf(StorageIoError);
      expect((error as StorageIoError).code).toBe(code);
      expect((error as Error).message).toStartWith("cannot write /data/snapshots/snapshot-1.snap: ");
    });
  }

  it("any other error passes through unchanged", () => {
    const other = Object.assign(new Error("EACCES"), { code: "EACCES" });
    expect(fileWriteError("/x", other)).toBe(other);
  });
});

describe("a store that refuses a corrupt snapshot instead of skipping it", () => {
  it("latest() rejects with the newest file's damage when onCorrupt throws", async () => {
    const store = new FileSnapshotStore(dir, {
      onCorrupt: (_file, error) => {
        throw error;
      },
    });
    await store.create(meta(10), bytes(100));
    await store.create(meta(20), bytes(100));
    const newest = join(dir, `snapshot-${String(20).padStart(20, "0")}-1.snap`);
    truncateSync(newest, statSync(newest).size - 1);
    const caught = await store.latest().catch((error: unknown) => error);
    expect(caught).toBeInstanceOf(CorruptSnapshotError);
    expect((caught as Error).message).toContain(newest);
    expect((caught as Error).message).toContain("remove this node's data directory and let it rejoin the cluster");
  });
});

describe("dataFaultMessage: the operator's line at start-up", () => {
  const cases: { name: string; error: unknown; says: string | undefined }[] = [
    { name: "a corrupt entry keeps its own message", error: new CorruptLogError("/d/raft.db", 7, "the entry fails its checksum"), says: "Raft log /d/raft.db is corrupt at index 7" },
    { name: "a storage error wrapped in a FatalNodeError is found through its cause", error: new FatalNodeError("persisting entries", new StorageIoError("/d/raft.db", "the disk is full", true)), says: "cannot write /d/raft.db: the disk is full" },
    { name: "the Raft layer's CORRUPT_STATE gets the data directory and the advice", error: new RaftError("CORRUPT_STATE", "stored log starts at 173 but the snapshot ends at 0"), says: "stored log starts at 173 but the snapshot ends at 0 (data directory /d); remove this node's data directory" },
    { name: "a port in use is not a data fault", error: Object.assign(new Error("in use"), { code: "EADDRINUSE" }), says: undefined },
    { name: "a RaftError of another kind is not a data fault", error: new RaftError("BAD_OPTIONS", "heartbeatTicks must be smaller"), says: undefined },
  ];
  for (const { name, error, says } of cases) {
    it(name, () => {
      const message = dataFaultMessage(error, "/d");
      if (says === undefined) expect(message).toBeUndefined();
      else expect(message).toContain(says);
    });
  }
});
