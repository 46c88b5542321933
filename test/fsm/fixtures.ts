// What the plugin host tests share: a counter plugin that fails on demand, the
// kv plugin as a node runs it, committed entries built by hand (as Raft would
// hand them to the FSM), and a temp directory that closes its hosts.

import { Type } from "@sinclair/typebox";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { encodeCommand } from "../../src/fsm/command-codec.ts";
import { PluginHost, type HostedPlugin } from "../../src/fsm/plugin-host.ts";
import { PluginError, definePlugin, type Database } from "../../src/fsm/sdk.ts";
import type { CommittedCommand } from "../../src/raft/fsm.ts";
import kv from "../../plugins/kv/index.ts";

/**
 * add(name, by) adds to a named counter, announces the new value, and then,
 * if asked, fails: so a failing command has writes and events to undo.
 */
export const counterPlugin = definePlugin({
  name: "counter",
  migrations: ["CREATE TABLE counter_values (name TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID"],
  commands: {
    add: Type.Object({
      name: Type.String(),
      by: Type.Integer(),
      fail: Type.Optional(Type.Union([Type.Literal("refused"), Type.Literal("crash")])),
    }),
  },
  apply: {
    add: (ctx, { name, by, fail }): number => {
      const row = ctx.db
        .query<{ n: number }, [string, number]>(
          "INSERT INTO counter_values (name, n) VALUES (?1, ?2) ON CONFLICT(name) DO UPDATE SET n = n + excluded.n RETURNING n",
        )
        .get(name, by)!;
      ctx.emit({ name, n: row.n });
      if (fail === "refused") throw new PluginError("COUNTER_REFUSED", `counter ${name} refuses to reach ${row.n}`, 409, { name, wouldBe: row.n });
      if (fail === "crash") throw new TypeError(`counter ${name} crashed`);
      return row.n;
    },
  },
});

export const counter: HostedPlugin = { definition: counterPlugin, config: {} };
export const kvHosted: HostedPlugin = { definition: kv, config: { maxValueBytes: 1024 * 1024, history: 10 } };

const utf8 = new TextEncoder();
export const bytes = (s: string): Uint8Array => utf8.encode(s);

/** A committed entry holding one plugin command (term 1 and a fixed leader clock unless told). */
export function entry(index: number, plugin: string, command: string, args: unknown, term = 1, timestamp = 1_700_000_000_000): CommittedCommand {
  return { index, term, data: encodeCommand({ plugin, command, args, timestamp }) };
}

export const add = (index: number, name: string, by: number, fail?: "refused" | "crash"): CommittedCommand =>
  entry(index, "counter", "add", fail ? { name, by, fail } : { name, by });

export const put = (index: number, key: string, value: string, cas?: number): CommittedCommand =>
  entry(index, "kv", "put", cas === undefined ? { key, value: bytes(value) } : { key, value: bytes(value), cas });

export function counters(db: Database): Record<string, number> {
  const rows = db.query<{ name: string; n: number }, []>("SELECT name, n FROM counter_values ORDER BY name").all();
  return Object.fromEntries(rows.map((r) => [r.name, r.n]));
}

export function appliedIndexOnDisk(db: Database): string | undefined {
  return db.query<{ value: string }, []>("SELECT value FROM _pontoon_meta WHERE key = 'applied_index'").get()?.value;
}

/**
 * Every table a plugin or the host keeps, row by row in key order, as bytes:
 * two hosts are in the same state exactly when these are equal. BLOBs are
 * written out in hex so a single differing byte shows.
 */
export function stateBytes(db: Database): Uint8Array {
  const tables = db
    .query<{ name: string }, []>("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
    .all()
    .map((r) => r.name);
  const dump: Record<string, unknown[]> = {};
  for (const table of tables) {
    dump[table] = db
      .query<Record<string, unknown>, []>(`SELECT * FROM "${table}" ORDER BY 1, 2`)
      .all()
      .map((row) => Object.entries(row).map(([column, value]) => [column, value instanceof Uint8Array ? `0x${Buffer.from(value).toString("hex")}` : value]));
  }
  return utf8.encode(JSON.stringify(dump));
}

/** A temp directory for fsm.db files; cleanup() closes every host opened in it and removes it. */
export function fsmDir(prefix: string) {
  const dir = mkdtempSync(join(tmpdir(), `pontoon-${prefix}-`));
  const opened: PluginHost[] = [];
  return {
    dir,
    file: (name = "fsm.db") => join(dir, name),
    open(name = "fsm.db", plugins: HostedPlugin[] = [kvHosted, counter]): PluginHost {
      const host = new PluginHost(join(dir, name), plugins);
      opened.push(host);
      return host;
    },
    cleanup(): void {
      for (const host of opened) {
        try {
          host.close();
        } catch {
          // already closed by the test
        }
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
