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
  // Every change, kept per key up to kv.history versions: history, rollback,
  // and watches that resume from an index. A delete is a change with no value.
  `CREATE TABLE kv_changes (
     idx INTEGER NOT NULL,
     key TEXT NOT NULL,
     op TEXT NOT NULL CHECK (op IN ('put', 'delete')),
     value BLOB,
     create_index INTEGER NOT NULL,
     PRIMARY KEY (idx, key)
   ) WITHOUT ROWID;
   CREATE INDEX kv_changes_by_key ON kv_changes (key, idx);
   CREATE TABLE kv_meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
   INSERT INTO kv_meta (name, value) VALUES ('pruned_through', 0);`,
  // Consul's per-key flags (an opaque number apps use to tag a value), for the Consul-compatible API.
  `ALTER TABLE kv_entries ADD COLUMN flags INTEGER NOT NULL DEFAULT 0`,
  // Key TTLs: when the key expires, by the leader's clock (null: never).
  `ALTER TABLE kv_entries ADD COLUMN expires_at INTEGER;
   CREATE INDEX kv_entries_by_expiry ON kv_entries (expires_at) WHERE expires_at IS NOT NULL;`,
];

export interface Change {
  index: number;
  key: string;
  op: "put" | "delete";
  /** null for a delete. */
  value: Uint8Array | null;
  createIndex: number;
}

interface ChangeRow {
  idx: number;
  key: string;
  op: "put" | "delete";
  value: Uint8Array | null;
  create_index: number;
}

const toChange = (r: ChangeRow): Change => ({ index: r.idx, key: r.key, op: r.op, value: r.value, createIndex: r.create_index });

/** Records a change and forgets the key's versions beyond the newest `keep`; returns the change. */
export function recordChange(db: Database, change: Change, keep: number): Change {
  db.query("INSERT INTO kv_changes (idx, key, op, value, create_index) VALUES (?, ?, ?, ?, ?)").run(change.index, change.key, change.op, change.value, change.createIndex);
  const cutoff = db.query<{ idx: number }, [string, number]>("SELECT idx FROM kv_changes WHERE key = ? ORDER BY idx DESC LIMIT 1 OFFSET ?").get(change.key, keep);
  if (cutoff) {
    db.query("DELETE FROM kv_changes WHERE key = ? AND idx <= ?").run(change.key, cutoff.idx);
    // A watch resuming from before this point could miss a change: it must re-read instead (410).
    db.query("UPDATE kv_meta SET value = max(value, ?) WHERE name = 'pruned_through'").run(cutoff.idx);
  }
  return change;
}

/** The key's retained versions, newest first. */
export function keyHistory(db: Database, key: string): Change[] {
  return db.query<ChangeRow, [string]>("SELECT idx, key, op, value, create_index FROM kv_changes WHERE key = ? ORDER BY idx DESC").all(key).map(toChange);
}

export function changeAt(db: Database, key: string, index: number): Change | null {
  const row = db.query<ChangeRow, [number, string]>("SELECT idx, key, op, value, create_index FROM kv_changes WHERE idx = ? AND key = ?").get(index, key);
  return row ? toChange(row) : null;
}

/** Retained changes after `after` under `prefix`, in log order (and key order within one index). */
export function changesSince(db: Database, prefix: string, after: number, limit: number): Change[] {
  return db
    .query<ChangeRow, [number, string, string, number]>(
      "SELECT idx, key, op, value, create_index FROM kv_changes WHERE idx > ? AND key >= ? AND key < ? ORDER BY idx, key LIMIT ?",
    )
    .all(after, prefix, `${prefix}\u{10FFFF}`, limit)
    .filter((r) => r.key.startsWith(prefix))
    .map(toChange);
}

/** Changes at or below this index may have been forgotten. */
export function prunedThrough(db: Database): number {
  return db.query<{ value: number }, []>("SELECT value FROM kv_meta WHERE name = 'pruned_through'").get()?.value ?? 0;
}

/** Index of the last retained change to `key` (exact) or under `prefix`; 0 when none. */
export function lastChangeIndex(db: Database, keyOrPrefix: string, exact: boolean): number {
  const row = exact
    ? db.query<{ idx: number | null }, [string]>("SELECT max(idx) AS idx FROM kv_changes WHERE key = ?").get(keyOrPrefix)
    : db.query<{ idx: number | null }, [string, string]>("SELECT max(idx) AS idx FROM kv_changes WHERE key >= ? AND key < ?").get(keyOrPrefix, `${keyOrPrefix}\u{10FFFF}`);
  return row?.idx ?? 0;
}

export interface StoredEntry {
  key: string;
  value: Uint8Array;
  createIndex: number;
  modifyIndex: number;
  /** Consul's flags; 0 unless a Consul client set them. */
  flags: number;
}

interface Row {
  key: string;
  value: Uint8Array;
  create_index: number;
  modify_index: number;
  flags: number;
}

const toEntry = (r: Row): StoredEntry => ({ key: r.key, value: r.value, createIndex: r.create_index, modifyIndex: r.modify_index, flags: r.flags });

export function getEntry(db: Database, key: string): StoredEntry | null {
  const row = db.query<Row, [string]>("SELECT key, value, create_index, modify_index, flags FROM kv_entries WHERE key = ?").get(key);
  return row ? toEntry(row) : null;
}

/** Entries whose key starts with `prefix`, in key order (byte order of UTF-8, as SQLite compares TEXT). */
export function listEntries(db: Database, prefix: string, limit = -1): StoredEntry[] {
  const rows =
    prefix === ""
      ? db.query<Row, [number]>("SELECT key, value, create_index, modify_index, flags FROM kv_entries ORDER BY key LIMIT ?").all(limit)
      : db
          .query<Row, [string, string, number]>("SELECT key, value, create_index, modify_index, flags FROM kv_entries WHERE key >= ? AND key < ? ORDER BY key LIMIT ?")
          .all(prefix, `${prefix}\u{10FFFF}`, limit);
  return rows.filter((r) => r.key.startsWith(prefix)).map(toEntry);
}

/** Writes the key; `expiresAt` (leader clock, ms) gives it a TTL, null takes any away, as etcd's put without a lease does. */
export function putEntry(db: Database, key: string, value: Uint8Array, index: number, flags: number, expiresAt: number | null = null): void {
  db.query(
    `INSERT INTO kv_entries (key, value, create_index, modify_index, flags, expires_at) VALUES (?1, ?2, ?3, ?3, ?4, ?5)
     ON CONFLICT(key) DO UPDATE SET value = excluded.value, modify_index = excluded.modify_index, flags = excluded.flags, expires_at = excluded.expires_at`,
  ).run(key, value, index, flags, expiresAt);
}

/** Keys whose TTL ran out at `now` (leader clock), oldest first. */
export function expiredKeys(db: Database, now: number, limit: number): string[] {
  return db
    .query<{ key: string }, [number, number]>("SELECT key FROM kv_entries WHERE expires_at IS NOT NULL AND expires_at <= ? ORDER BY expires_at LIMIT ?")
    .all(now, limit)
    .map((r) => r.key);
}

/** When the key expires (leader clock, ms), or null. */
export function expiryOf(db: Database, key: string): number | null {
  return db.query<{ expires_at: number | null }, [string]>("SELECT expires_at FROM kv_entries WHERE key = ?").get(key)?.expires_at ?? null;
}

export function deleteEntry(db: Database, key: string): boolean {
  return db.query("DELETE FROM kv_entries WHERE key = ?").run(key).changes > 0;
}
