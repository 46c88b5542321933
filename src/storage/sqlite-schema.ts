// Opening the Raft database: pragmas, schema, format version, integrity.
// Everything that can go wrong with the file itself is turned into an error
// that names the file and tells the operator what to do, because SQLite's own
// wording ("file is not a database") gives no hint about the remedy.

import { Database, SQLiteError } from "bun:sqlite";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { CorruptLogError, CorruptStorageError, StorageError, UnsupportedFormatError } from "./errors.ts";

/** Written into the meta table; bump the version when the schema or an encoding changes. */
export const STORE_FORMAT = "pontoon-raft-log";
export const STORE_VERSION = 1;

const SCHEMA = `
  CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
  CREATE TABLE log (
    idx  INTEGER PRIMARY KEY,
    term INTEGER NOT NULL,
    type INTEGER NOT NULL,
    data BLOB NOT NULL,
    crc  INTEGER NOT NULL
  );
  CREATE TABLE stable (key TEXT PRIMARY KEY, value BLOB NOT NULL, crc INTEGER NOT NULL) WITHOUT ROWID;
  CREATE TABLE hard_state (id INTEGER PRIMARY KEY CHECK (id = 1), value BLOB NOT NULL);
`;

/** Maps SQLite's damage and locking errors to ours; anything else passes through unchanged. */
export function translateSqliteError(file: string, error: unknown): unknown {
  if (error instanceof StorageError || !(error instanceof SQLiteError)) return error;
  const code = error.code ?? "";
  if (code.startsWith("SQLITE_NOTADB")) {
    return new CorruptStorageError(file, "it is not a SQLite database (garbage, truncated, or overwritten)");
  }
  if (code.startsWith("SQLITE_CORRUPT")) {
    return new CorruptStorageError(file, `SQLite reports the database is damaged (${error.message})`);
  }
  if (code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED")) {
    return new StorageError(
      "STORAGE_LOCKED",
      `${file} is locked by another process; is a second Pontoon node using the same data directory?`,
    );
  }
  return error;
}

/** Opens (creating if absent) and validates the database; throws our errors, never SQLite's. */
export function openRaftDatabase(file: string): Database {
  if (file !== ":memory:") mkdirSync(dirname(file), { recursive: true });
  const db = new Database(file, { create: true, strict: true });
  try {
    // EXCLUSIVE locking before entering WAL: the WAL index then lives in
    // process memory (no -shm file), and a second process pointed at the
    // same data directory fails at open instead of interleaving writes.
    db.exec("PRAGMA locking_mode = EXCLUSIVE");
    // The first statement that reads the header: garbage fails here.
    db.exec("PRAGMA journal_mode = WAL");
    // FULL: every commit fsyncs the WAL, so a returned transaction() is durable
    // (NORMAL in WAL mode may lose the last commits on power loss).
    db.exec("PRAGMA synchronous = FULL");
    ensureSchema(db, file);
    checkIntegrity(db, file);
    return db;
  } catch (error) {
    try {
      db.close(true);
    } catch {
      // the original error is the one worth reporting
    }
    throw translateSqliteError(file, error);
  }
}

function ensureSchema(db: Database, file: string): void {
  // IMMEDIATE: take the write lock before looking, so creation cannot race.
  db.transaction(() => {
    const tables = db
      .query<{ name: string }, []>("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
      .all()
      .map((row) => row.name);
    if (tables.length === 0) {
      db.exec(SCHEMA);
      const put = db.query<unknown, [string, string]>("INSERT INTO meta (key, value) VALUES (?, ?)");
      put.run("format", STORE_FORMAT);
      put.run("version", String(STORE_VERSION));
      return;
    }
    if (!tables.includes("meta")) {
      throw new CorruptStorageError(file, `it is a SQLite database but not a Pontoon Raft store (tables: ${tables.join(", ")})`);
    }
    const meta = new Map(
      db
        .query<{ key: string; value: string }, []>("SELECT key, value FROM meta")
        .all()
        .map((row) => [row.key, row.value]),
    );
    if (meta.get("format") !== STORE_FORMAT) {
      throw new CorruptStorageError(file, `it is not a Pontoon Raft store (format is ${JSON.stringify(meta.get("format"))})`);
    }
    const version = meta.get("version") ?? "(none)";
    if (version !== String(STORE_VERSION)) {
      throw new UnsupportedFormatError(file, version, String(STORE_VERSION));
    }
  }).immediate();
}

/**
 * quick_check reads every page (cheap for a compacted Raft log) and catches a
 * truncated or overwritten file now, at startup, rather than in the middle of
 * serving. The row checksums catch what SQLite cannot see: damaged values.
 */
function checkIntegrity(db: Database, file: string): void {
  const problems = db
    .query<{ quick_check: string }, []>("PRAGMA quick_check(5)")
    .all()
    .map((row) => row.quick_check);
  if (problems.length !== 1 || problems[0] !== "ok") {
    throw new CorruptStorageError(file, `SQLite integrity check failed: ${problems.join("; ")}`);
  }
}

/** Finds the first missing index when the log's row count does not match its bounds. */
export function findGap(db: Database, file: string, first: number): CorruptLogError {
  const row = db
    .query<{ idx: number }, [number]>(
      "SELECT idx FROM log AS l WHERE idx > ? AND NOT EXISTS (SELECT 1 FROM log WHERE idx = l.idx - 1) ORDER BY idx LIMIT 1",
    )
    .get(first);
  if (!row) return new CorruptLogError(file, first, "the log's row count does not match its bounds");
  const before = db.query<{ prev: number }, [number]>("SELECT MAX(idx) AS prev FROM log WHERE idx < ?").get(row.idx);
  const missing = (before?.prev ?? first) + 1;
  return new CorruptLogError(file, missing, "the entry is missing (the log has a gap)");
}
