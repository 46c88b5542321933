// fsm.db: the plugins' tables plus the host's own bookkeeping (the last
// applied index, the plugin list the leader announced, each member's HTTP
// address), opened, checked and migrated.

import type { Database } from "bun:sqlite";
import { CorruptStorageError } from "../storage/errors.ts";
import { openSqliteFile, type SqliteFileFormat } from "../storage/sqlite-file.ts";
import type { AnyPluginDefinition } from "./sdk.ts";

export const FSM_FORMAT = "pontoon-fsm";
export const FSM_VERSION = 1;

const HOST_SCHEMA = `
  CREATE TABLE IF NOT EXISTS _pontoon_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS _pontoon_migrations (plugin TEXT PRIMARY KEY, applied INTEGER NOT NULL) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS _pontoon_members (id TEXT PRIMARY KEY, http TEXT NOT NULL, plugins TEXT NOT NULL) WITHOUT ROWID;
`;

const FSM_FILE: SqliteFileFormat = {
  metaTable: "_pontoon_meta",
  format: FSM_FORMAT,
  version: FSM_VERSION,
  what: "Pontoon's state machine store",
  create(db) {
    db.exec(HOST_SCHEMA);
    writeMeta(db, "applied_index", "0");
  },
  // Host tables added since the file was made.
  upgrade: (db) => db.exec(HOST_SCHEMA),
};

/** Opens fsm.db; `checked` skips the page check of bytes just checked (a restored snapshot). */
export function openFsmDatabase(file: string, options: { checked?: boolean } = {}): Database {
  return openSqliteFile(file, FSM_FILE, {
    pragmas: [
      // NORMAL: a power loss may drop the last batches, together with the
      // applied index written in the same transaction; the node then replays
      // them from the Raft log (or restores the snapshot), so nothing is lost.
      "synchronous = NORMAL",
      // Checkpoint every 8,192 pages (32 MiB of WAL) instead of SQLite's 1,000:
      // a checkpoint copies each changed page once and fsyncs, and a config
      // store rewrites the same hot pages over and over, so rarer checkpoints
      // copy far less. 3 nodes, 64 clients on the leader: 3,085 -> 3,861 puts/s.
      "wal_autocheckpoint = 8192",
      // Each command runs in a savepoint, and a savepoint keeps the original of
      // every page it changes in a statement journal: a temp file by default.
      // In memory, a kv put applies in 24 us instead of 57 (history's deletes
      // touch many pages). It is only ever needed to roll back one command.
      "temp_store = MEMORY",
    ],
    checked: options.checked,
  });
}

export function readMeta(db: Database, key: string): string | undefined {
  return db.query<{ value: string }, [string]>("SELECT value FROM _pontoon_meta WHERE key = ?").get(key)?.value;
}

export function writeMeta(db: Database, key: string, value: string): void {
  db.query("INSERT INTO _pontoon_meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value").run(key, value);
}

/**
 * Runs each plugin's migrations that have not run yet, in one transaction.
 * Migrations are not replicated: every node runs the same plugin code, so
 * every node reaches the same schema, including after restoring a snapshot
 * taken by an older version.
 */
export function migrate(db: Database, plugins: AnyPluginDefinition[], file: string): void {
  db.transaction(() => {
    for (const plugin of plugins) {
      const done = db.query<{ applied: number }, [string]>("SELECT applied FROM _pontoon_migrations WHERE plugin = ?").get(plugin.name)?.applied ?? 0;
      const migrations = plugin.migrations as string[];
      if (done > migrations.length) {
        throw new CorruptStorageError(
          file,
          `plugin "${plugin.name}" has ${migrations.length} migrations but the database already ran ${done}: it was written by a newer version of the plugin`,
        );
      }
      for (let i = done; i < migrations.length; i++) db.exec(migrations[i]!);
      db.query("INSERT INTO _pontoon_migrations (plugin, applied) VALUES (?, ?) ON CONFLICT(plugin) DO UPDATE SET applied = excluded.applied").run(
        plugin.name,
        migrations.length,
      );
    }
  }).immediate();
}
