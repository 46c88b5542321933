// The Raft database's schema and format, and finding a gap in its log.

import type { Database } from "bun:sqlite";
import { CorruptLogError } from "./errors.ts";
import { openSqliteFile, type SqliteFileFormat } from "./sqlite-file.ts";

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

const RAFT_FORMAT: SqliteFileFormat = {
  metaTable: "meta",
  format: STORE_FORMAT,
  version: STORE_VERSION,
  what: "a Pontoon Raft store",
  create: (db) => db.exec(SCHEMA),
};

/**
 * Opens (creating if absent) and validates the Raft database. quick_check is
 * cheap for a compacted log; the row checksums catch what SQLite cannot see:
 * damaged values.
 */
export function openRaftDatabase(file: string): Database {
  // FULL: every commit fsyncs the WAL, so a returned transaction() is durable
  // (NORMAL in WAL mode may lose the last commits on power loss).
  return openSqliteFile(file, RAFT_FORMAT, { pragmas: ["synchronous = FULL"] });
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
