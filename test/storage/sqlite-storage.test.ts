import { Database } from "bun:sqlite";
import { afterEach, beforeEach, describe, expect, it } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EntryType, type Entry } from "../../src/raft/core/types.ts";
import {
  CorruptLogError,
  CorruptStorageError,
  StorageClosedError,
  StorageError,
  UnsupportedFormatError,
} from "../../src/storage/errors.ts";
import { openSqliteStorage } from "../../src/storage/sqlite-storage.ts";
import { entries, logStoreSuite } from "./log-store.case.ts";

logStoreSuite("SqliteStorage", () => {
  const dir = mkdtempSync(join(tmpdir(), "pontoon-sqlite-"));
  const path = join(dir, "raft.db");
  return {
    create: () => openSqliteStorage(path),
    reopen: (storage) => {
      storage.close();
      return openSqliteStorage(path);
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
});

describe("SqliteStorage on a damaged or foreign file", () => {
  let dir: string;
  let path: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "pontoon-sqlite-damage-"));
    path = join(dir, "raft.db");
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  /** Writes a log of 1..n and closes it, so the test can tamper with the file. */
  function writeLog(n: number): void {
    const storage = openSqliteStorage(path);
    storage.log.storeEntries(entries(1, n, 1));
    storage.stable.setHardState({ term: 1, vote: "n1", commit: n });
    storage.close();
  }

  /** Changes the file behind the store's back, as a disk or an operator might. */
  function tamper(sql: string): void {
    const db = new Database(path);
    db.exec(sql);
    db.close();
  }

  function openError(): unknown {
    try {
      openSqliteStorage(path).close();
    } catch (error) {
      return error;
    }
    throw new Error("expected openSqliteStorage to throw");
  }

  it("throws CorruptLogError naming the file and index when an entry's data no longer matches its checksum", () => {
    writeLog(10);
    tamper("UPDATE log SET data = X'DEADBEEF' WHERE idx = 4");
    const storage = openSqliteStorage(path);
    try {
      expect(storage.log.getEntries(1, 3)).toHaveLength(3);
      let caught: unknown;
      try {
        storage.log.getEntries(1, 10);
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(CorruptLogError);
      const error = caught as CorruptLogError;
      expect(error.code).toBe("LOG_CORRUPT");
      expect(error.index).toBe(4);
      expect(error.message).toContain(path);
      expect(error.message).toContain("remove this node's data directory and let it rejoin");
      expect(() => storage.log.getEntry(4)).toThrow(CorruptLogError);
    } finally {
      storage.close();
    }
  });

  it("catches a changed term too, not only changed data", () => {
    writeLog(5);
    tamper("UPDATE log SET term = 9 WHERE idx = 2");
    const storage = openSqliteStorage(path);
    expect(() => storage.log.getEntry(2)).toThrow(CorruptLogError);
    storage.close();
  });

  it("refuses to open a log with a hole in it, naming the first missing index", () => {
    writeLog(10);
    tamper("DELETE FROM log WHERE idx IN (5, 6)");
    const error = openError();
    expect(error).toBeInstanceOf(CorruptLogError);
    expect((error as CorruptLogError).index).toBe(5);
    // The failed open released the file: an operator's repair tool can open it.
    tamper("DELETE FROM log WHERE idx > 4");
  });

  it("refuses to open when the newest entry is damaged", () => {
    writeLog(10);
    tamper("UPDATE log SET data = X'00' WHERE idx = 10");
    expect(openError()).toBeInstanceOf(CorruptLogError);
  });

  it("reports a damaged hard state as corrupt storage", () => {
    writeLog(3);
    tamper("UPDATE hard_state SET value = X'0100000000' || substr(value, 6)");
    const storage = openSqliteStorage(path);
    expect(() => storage.stable.getHardState()).toThrow(CorruptStorageError);
    storage.close();
  });

  it("says a garbage file is not a database, naming it and the remedy", () => {
    writeFileSync(path, "definitely not sqlite ".repeat(500));
    const error = openError();
    expect(error).toBeInstanceOf(CorruptStorageError);
    expect((error as Error).message).toContain(path);
    expect((error as Error).message).toContain("not a SQLite database");
    expect((error as Error).message).toContain("rejoin");
  });

  it("says a truncated file cannot be read", () => {
    writeLog(2000);
    const size = readFileSync(path).length;
    truncateSync(path, Math.floor(size / 2));
    expect(openError()).toBeInstanceOf(CorruptStorageError);
  });

  it("says a SQLite file of another program is not a Pontoon store", () => {
    tamper("CREATE TABLE users (id INTEGER PRIMARY KEY)");
    const error = openError();
    expect(error).toBeInstanceOf(CorruptStorageError);
    expect((error as Error).message).toContain("not a Pontoon Raft store");
  });

  it("refuses a file written in an unknown format version", () => {
    writeLog(1);
    tamper("UPDATE meta SET value = '99' WHERE key = 'version'");
    const error = openError();
    expect(error).toBeInstanceOf(UnsupportedFormatError);
    expect((error as Error).message).toContain("version 99");
  });

  it("refuses a second opener while the first holds the file (two nodes, one data directory)", () => {
    const first = openSqliteStorage(path);
    try {
      const error = openError();
      expect(error).toBeInstanceOf(StorageError);
      expect((error as StorageError).code).toBe("STORAGE_LOCKED");
    } finally {
      first.close();
    }
  });

  it("throws StorageClosedError after close", () => {
    const storage = openSqliteStorage(path);
    storage.close();
    expect(() => storage.log.lastIndex()).toThrow(StorageClosedError);
    expect(() => storage.transaction(() => 1)).toThrow(StorageClosedError);
  });
});

describe("SqliteStorage group commit", () => {
  it("stores batches of hundreds of entries quickly (one fsync per transaction)", () => {
    const dir = mkdtempSync(join(tmpdir(), "pontoon-sqlite-speed-"));
    const storage = openSqliteStorage(join(dir, "raft.db"));
    try {
      const payload = new Uint8Array(100);
      const batches = 50;
      const perBatch = 400;
      const started = performance.now();
      for (let b = 0; b < batches; b++) {
        const batch: Entry[] = [];
        for (let i = 0; i < perBatch; i++) batch.push({ index: b * perBatch + i + 1, term: 1, type: EntryType.Command, data: payload });
        storage.transaction(() => {
          storage.log.storeEntries(batch);
          storage.stable.setHardState({ term: 1, vote: "n1", commit: (b + 1) * perBatch });
        });
      }
      const seconds = (performance.now() - started) / 1000;
      const rate = (batches * perBatch) / seconds;
      console.log(`sqlite storeEntries: ${Math.round(rate)} entries/s in batches of ${perBatch}`);
      expect(rate).toBeGreaterThan(20_000);
      expect(storage.log.getEntries(1, batches * perBatch)).toHaveLength(batches * perBatch);
    } finally {
      storage.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
