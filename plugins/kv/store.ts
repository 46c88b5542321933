// The kv tables and every statement on them. apply and the queries both go
// through here, so the SQL lives in one place.

import type { Database } from "../../src/fsm/sdk.ts";

export const migrations = [
  `CREATE TABLE kv_entries (
     key TEXT PRIMARY KEY,
     value BLOB NOT NULL,
     create_index INTEGER NOT NULL,
     modify_index INTEGER NOT NULL
   ) WITHOUT ROWID`,
];

export interface StoredEntry {
  key: string;
  value: Uint8Array;
  createIndex: number;
  modifyIndex: number;
}

interface Row {
  key: string;
  value: Uint8Array;
  create_index: number;
  modify_index: number;
}

const toEntry = (r: Row): StoredEntry => ({ key: r.key, value: r.value, createIndex: r.create_index, modifyIndex: r.modify_index });

export function getEntry(db: Database, key: string): StoredEntry | null {
  const row = db.query<Row, [string]>("SELECT key, value, create_index, modify_index FROM kv_entries WHERE key = ?").get(key);
  return row ? toEntry(row) : null;
}

/** Entries whose key starts with `prefix`, in key order (byte order of UTF-8, as SQLite compares TEXT). */
export function listEntries(db: Database, prefix: string, limit = -1): StoredEntry[] {
  const rows =
    prefix === ""
      ? db.query<Row, [number]>("SELECT key, value, create_index, modify_index FROM kv_entries ORDER BY key LIMIT ?").all(limit)
      : db
          .query<Row, [string, string, number]>("SELECT key, value, create_index, modify_index FROM kv_entries WHERE key >= ? AND key < ? ORDER BY key LIMIT ?")
          .all(prefix, `${prefix}\u{10FFFF}`, limit);
  return rows.filter((r) => r.key.startsWith(prefix)).map(toEntry);
}

export function putEntry(db: Database, key: string, value: Uint8Array, index: number): void {
  db.query(
    `INSERT INTO kv_entries (key, value, create_index, modify_index) VALUES (?1, ?2, ?3, ?3)
     ON CONFLICT(key) DO UPDATE SET value = excluded.value, modify_index = excluded.modify_index`,
  ).run(key, value, index);
}

export function deleteEntry(db: Database, key: string): boolean {
  return db.query("DELETE FROM kv_entries WHERE key = ?").run(key).changes > 0;
}
