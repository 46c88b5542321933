// The production RaftStorage: the log, the stable values and the hard state
// in one SQLite file, so that one transaction() is one WAL commit and one
// fsync however many entries and values it wrote (group commit).

import type { Database, Statement } from "bun:sqlite";
import type { Entry, EntryType, HardState } from "../raft/core/types.ts";
import { EntryType as EntryTypes } from "../raft/core/types.ts";
import { entryChecksum } from "./entry-checksum.ts";
import { CorruptLogError, CorruptStorageError, LogUsageError, StorageClosedError } from "./errors.ts";
import { decodeHardState, encodeHardState } from "./hard-state-codec.ts";
import { boundsAfterDelete, checkAppend, checkRead, clampDelete } from "./log-contract.ts";
import { translateSqliteError } from "./sqlite-file.ts";
import { findGap, openRaftDatabase } from "./sqlite-schema.ts";
import type { LogStore, RaftStorage, StableStore } from "./types.ts";

interface LogRow {
  idx: number;
  term: number;
  type: number;
  data: Uint8Array;
  crc: number;
}

const KNOWN_TYPES: ReadonlySet<number> = new Set(Object.values(EntryTypes));

/** Opens (or creates) the Raft database at `path`; throws a StorageError naming the file if it cannot be trusted. */
export function openSqliteStorage(path: string): RaftStorage {
  const db = openRaftDatabase(path);
  try {
    return new SqliteStorage(path, db);
  } catch (error) {
    // Loading the bounds found damage: release the file (and its lock) before reporting it.
    db.close(true);
    throw translateSqliteError(path, error);
  }
}

class SqliteStorage implements RaftStorage {
  readonly log: SqliteLogStore;
  readonly stable: SqliteStableStore;
  private closed = false;
  // Built once: bun:sqlite uses a savepoint when it is called inside another
  // transaction, so nesting (storeEntries inside transaction) just works.
  private readonly tx: (fn: () => unknown) => unknown;

  constructor(
    readonly path: string,
    private readonly db: Database,
  ) {
    this.tx = db.transaction((fn: () => unknown) => {
      const result = fn();
      // bun:sqlite commits when fn returns, i.e. before an await would resume:
      // refuse instead of silently committing half the work.
      if (result instanceof Promise) throw new LogUsageError("transaction(fn): fn must be synchronous");
      return result;
    });
    const atomic = <T>(fn: () => T): T => this.transaction(fn);
    const open = (): void => this.ensureOpen();
    this.log = new SqliteLogStore(path, db, atomic, open);
    this.stable = new SqliteStableStore(path, db, open);
  }

  transaction<T>(fn: () => T): T {
    this.ensureOpen();
    const bounds = this.log.saveBounds();
    try {
      return this.tx(fn) as T;
    } catch (error) {
      // SQLite rolled back; the cached bounds must follow it.
      this.log.restoreBounds(bounds);
      throw translateSqliteError(this.path, error);
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    // true: finalize our prepared statements and release the file (and its
    // exclusive lock) now, not when the statements are garbage collected,
    // so the same path can be reopened at once (restarts in tests).
    this.db.close(true);
  }

  private ensureOpen(): void {
    if (this.closed) throw new StorageClosedError(this.path);
  }
}

class SqliteLogStore implements LogStore {
  // firstIndex/lastIndex are asked for on every step of the core; keep them
  // in memory and move them only when a write (or a rollback) moves them.
  private first = 0;
  private last = 0;
  private readonly insert: Statement<unknown, [number, number, number, Uint8Array, number]>;
  private readonly truncateFrom: Statement<unknown, [number]>;
  private readonly deleteBetween: Statement<unknown, [number, number]>;
  private readonly selectOne: Statement<LogRow, [number]>;
  private readonly selectRange: Statement<LogRow, [number, number]>;

  constructor(
    private readonly file: string,
    private readonly db: Database,
    private readonly atomic: <T>(fn: () => T) => T,
    private readonly ensureOpen: () => void,
  ) {
    this.insert = db.prepare("INSERT OR REPLACE INTO log (idx, term, type, data, crc) VALUES (?, ?, ?, ?, ?)");
    this.truncateFrom = db.prepare("DELETE FROM log WHERE idx >= ?");
    this.deleteBetween = db.prepare("DELETE FROM log WHERE idx BETWEEN ? AND ?");
    this.selectOne = db.prepare("SELECT idx, term, type, data, crc FROM log WHERE idx = ?");
    this.selectRange = db.prepare("SELECT idx, term, type, data, crc FROM log WHERE idx BETWEEN ? AND ? ORDER BY idx");
    this.loadBounds();
  }

  firstIndex(): number {
    this.ensureOpen();
    return this.first;
  }

  lastIndex(): number {
    this.ensureOpen();
    return this.last;
  }

  getEntry(index: number): Entry | undefined {
    this.ensureOpen();
    if (this.last === 0 || index < this.first || index > this.last) return undefined;
    const row = this.read(() => this.selectOne.get(index));
    if (!row) throw new CorruptLogError(this.file, index, "the entry is missing (the log has a gap)");
    return this.verify(row, index);
  }

  getEntries(lo: number, hi: number): Entry[] {
    this.ensureOpen();
    if (lo > hi) return [];
    checkRead(lo, hi, this.first, this.last);
    const rows = this.read(() => this.selectRange.all(lo, hi));
    const out = new Array<Entry>(rows.length);
    for (let i = 0; i < rows.length; i++) out[i] = this.verify(rows[i]!, lo + i);
    if (rows.length !== hi - lo + 1) {
      throw new CorruptLogError(this.file, lo + rows.length, "the entry is missing (the log has a gap)");
    }
    return out;
  }

  storeEntries(entries: Entry[]): void {
    this.ensureOpen();
    if (entries.length === 0) return;
    checkAppend(entries, this.first, this.last);
    const start = entries[0]!.index;
    this.atomic(() => {
      // Only delete when overwriting: the common append skips the statement.
      if (this.last !== 0 && start <= this.last) this.truncateFrom.run(start);
      for (const e of entries) this.insert.run(e.index, e.term, e.type, e.data, entryChecksum(e.index, e.term, e.type, e.data));
      if (this.last === 0 || start < this.first) this.first = start;
      this.last = entries[entries.length - 1]!.index;
    });
  }

  deleteRange(lo: number, hi: number): void {
    this.ensureOpen();
    const range = clampDelete(lo, hi, this.first, this.last);
    if (!range) return;
    this.atomic(() => {
      this.deleteBetween.run(range[0], range[1]);
      [this.first, this.last] = boundsAfterDelete(range[0], range[1], this.first, this.last);
    });
  }

  saveBounds(): [number, number] {
    return [this.first, this.last];
  }

  restoreBounds([first, last]: [number, number]): void {
    this.first = first;
    this.last = last;
  }

  private loadBounds(): void {
    const row = this.db
      .query<{ first: number | null; last: number | null; n: number }, []>(
        "SELECT MIN(idx) AS first, MAX(idx) AS last, COUNT(*) AS n FROM log",
      )
      .get();
    this.first = row?.first ?? 0;
    this.last = row?.last ?? 0;
    if (this.last === 0) return;
    // A hole can only come from outside damage; refuse to start on it.
    if (row!.n !== this.last - this.first + 1) throw findGap(this.db, this.file, this.first);
    // The newest entry is the one a crash would have been writing: check it now.
    this.getEntry(this.last);
  }

  private verify(row: LogRow, expected: number): Entry {
    if (row.idx !== expected) {
      throw new CorruptLogError(this.file, expected, `the entry is missing (the log has a gap; next stored index is ${row.idx})`);
    }
    if (!(row.data instanceof Uint8Array)) {
      throw new CorruptLogError(this.file, expected, "the entry's data is not a blob");
    }
    if (entryChecksum(row.idx, row.term, row.type, row.data) !== row.crc) {
      throw new CorruptLogError(this.file, expected, "the entry fails its checksum");
    }
    if (!KNOWN_TYPES.has(row.type)) {
      throw new CorruptLogError(this.file, expected, `unknown entry type ${row.type} (written by a newer Pontoon?)`);
    }
    return { index: row.idx, term: row.term, type: row.type as EntryType, data: row.data };
  }

  private read<T>(fn: () => T): T {
    try {
      return fn();
    } catch (error) {
      throw translateSqliteError(this.file, error);
    }
  }
}

class SqliteStableStore implements StableStore {
  private readonly selectValue: Statement<{ value: Uint8Array; crc: number }, [string]>;
  private readonly upsertValue: Statement<unknown, [string, Uint8Array, number]>;
  private readonly selectHardState: Statement<{ value: Uint8Array }, []>;
  private readonly upsertHardState: Statement<unknown, [Uint8Array]>;

  constructor(
    private readonly file: string,
    db: Database,
    private readonly ensureOpen: () => void,
  ) {
    this.selectValue = db.prepare("SELECT value, crc FROM stable WHERE key = ?");
    this.upsertValue = db.prepare("INSERT OR REPLACE INTO stable (key, value, crc) VALUES (?, ?, ?)");
    this.selectHardState = db.prepare("SELECT value FROM hard_state WHERE id = 1");
    this.upsertHardState = db.prepare("INSERT OR REPLACE INTO hard_state (id, value) VALUES (1, ?)");
  }

  getHardState(): HardState | undefined {
    this.ensureOpen();
    const row = this.guard(() => this.selectHardState.get());
    if (!row) return undefined;
    const decoded = decodeHardState(row.value);
    if (typeof decoded === "string") throw new CorruptStorageError(this.file, decoded);
    return decoded;
  }

  setHardState(state: HardState): void {
    this.ensureOpen();
    this.guard(() => this.upsertHardState.run(encodeHardState(state)));
  }

  get(key: string): Uint8Array | undefined {
    this.ensureOpen();
    const row = this.guard(() => this.selectValue.get(key));
    if (!row) return undefined;
    if (Bun.hash.crc32(row.value) !== row.crc) {
      throw new CorruptStorageError(this.file, `stable value ${JSON.stringify(key)} fails its checksum`);
    }
    return row.value;
  }

  set(key: string, value: Uint8Array): void {
    this.ensureOpen();
    this.guard(() => this.upsertValue.run(key, value, Bun.hash.crc32(value)));
  }

  private guard<T>(fn: () => T): T {
    try {
      return fn();
    } catch (error) {
      throw translateSqliteError(this.file, error);
    }
  }
}
