// The kv plugin: Pontoon's config center. Keys and values as CONTRACT.md
// describes them, versioned by Raft index (createIndex/modifyIndex, like
// Consul), with check-and-set on modifyIndex.

import { Elysia } from "elysia";
import { PluginError, definePlugin } from "../../src/fsm/sdk.ts";
import type { ApplyContext } from "../../src/fsm/sdk.ts";
import { kvCommands, kvConfig, type KvConfig, type KvEvent } from "./commands.ts";
import { kvRoutes } from "./routes.ts";
import { applyTxn } from "./txn.ts";
import { txnRoutes } from "./txn-routes.ts";
import { watchRoutes } from "./watch-routes.ts";
import { changeAt, deleteEntry, expiredKeys, expiryOf, getEntry, listEntries, migrations, putEntry, recordChange, type StoredEntry } from "./store.ts";

export default definePlugin({
  name: "kv",
  description: "Keys and values with Raft-index versions and check-and-set",
  config: kvConfig,
  migrations,
  commands: kvCommands,
  apply: {
    put: (ctx, args): { index: number } => {
      const current = getEntry(ctx.db, args.key);
      checkCas(current, args.cas);
      write(ctx, args.key, args.value, current, args.flags ?? 0, args.ttlMs === undefined ? null : ctx.timestamp + args.ttlMs);
      return { index: ctx.index };
    },
    expire: (ctx, args): { index: number; expired: number } => {
      // Decided again here, from the entry's expiry and this command's leader
      // timestamp: a key written again since the sweep looked is kept.
      let expired = 0;
      for (const key of args.keys) {
        const expiresAt = expiryOf(ctx.db, key);
        if (expiresAt === null || expiresAt > ctx.timestamp) continue;
        if (remove(ctx, key, getEntry(ctx.db, key))) expired++;
      }
      return { index: ctx.index, expired };
    },
    deletePrefix: (ctx, args): { index: number; deleted: number } => {
      const doomed = listEntries(ctx.db, args.prefix);
      for (const entry of doomed) remove(ctx, entry.key, entry);
      return { index: ctx.index, deleted: doomed.length };
    },
    delete: (ctx, args): { index: number; deleted: boolean } => {
      const current = getEntry(ctx.db, args.key);
      if (args.cas !== undefined) checkCas(current, args.cas);
      return { index: ctx.index, deleted: remove(ctx, args.key, current) };
    },
    rollback: (ctx, args): { index: number; deleted: boolean } => {
      const version = changeAt(ctx.db, args.key, args.toIndex);
      if (!version) {
        throw new PluginError("VERSION_NOT_FOUND", `key ${JSON.stringify(args.key)} has no retained version at index ${args.toIndex} (kv.history keeps the last ${ctx.config.history}); see ?history`, 404, { field: "toIndex" });
      }
      const current = getEntry(ctx.db, args.key);
      if (version.op === "delete") return { index: ctx.index, deleted: remove(ctx, args.key, current) };
      write(ctx, args.key, version.value!, current, current?.flags ?? 0);
      return { index: ctx.index, deleted: false };
    },
    txn: (ctx, args) =>
      applyTxn(
        ctx,
        args,
        (key, value, current, flags) => write(ctx, key, value, current, flags),
        (key, current) => remove(ctx, key, current),
      ),
  },
  // A restored backup's versions come from another log: every key becomes one version, at the restore.
  restored: (ctx) => {
    ctx.db.query("UPDATE kv_entries SET create_index = ?1, modify_index = ?1").run(ctx.index);
    ctx.db.exec("DELETE FROM kv_changes");
    for (const entry of listEntries(ctx.db, "")) {
      recordChange(ctx.db, { index: ctx.index, key: entry.key, op: "put", value: entry.value, createIndex: ctx.index }, ctx.config.history);
      ctx.emit({ op: "put", key: entry.key, value: entry.value, createIndex: ctx.index } satisfies KvEvent);
    }
    // A watch resuming from before the restore re-reads (410) instead of replaying another log's changes.
    ctx.db.query("UPDATE kv_meta SET value = ? WHERE name = 'pruned_through'").run(ctx.index - 1);
  },
  routes: kvRoutes,
  // Expired keys are found by the leader's clock and deleted by a replicated command.
  leaderTask: {
    everyMs: 500,
    async run(kv) {
      for (;;) {
        const keys = kv.peek((db) => expiredKeys(db, Date.now(), 1000));
        if (keys.length === 0) return;
        const { value } = await kv.write("expire", { keys });
        // Rewritten since the sweep looked: keep going only while something expires.
        if (value.expired === 0) return;
      }
    },
  },
  rootRoutes: (kv) => new Elysia({ name: "kv-root" }).use(watchRoutes(kv)).use(txnRoutes(kv)),
  localRoutes: ["/v1/watch"],
});

function write(ctx: ApplyContext<KvConfig>, key: string, value: Uint8Array, current: StoredEntry | null, flags: number, expiresAt: number | null = null): void {
  putEntry(ctx.db, key, value, ctx.index, flags, expiresAt);
  const createIndex = current?.createIndex ?? ctx.index;
  recordChange(ctx.db, { index: ctx.index, key, op: "put", value, createIndex }, ctx.config.history);
  ctx.emit({ op: "put", key, value, createIndex } satisfies KvEvent);
}

function remove(ctx: ApplyContext<KvConfig>, key: string, current: StoredEntry | null): boolean {
  if (!current) return false;
  deleteEntry(ctx.db, key);
  recordChange(ctx.db, { index: ctx.index, key, op: "delete", value: null, createIndex: current.createIndex }, ctx.config.history);
  ctx.emit({ op: "delete", key, value: null, createIndex: current.createIndex } satisfies KvEvent);
  return true;
}

/** Consul's cas semantics: 0 means "only if absent"; M > 0 means "only if modifyIndex is M". */
function checkCas(current: StoredEntry | null, cas: number | undefined): void {
  if (cas === undefined) return;
  const ok = cas === 0 ? current === null : current !== null && current.modifyIndex === cas;
  if (ok) return;
  const why = cas === 0 ? "the key exists" : current === null ? "the key does not exist" : `its modifyIndex is ${current.modifyIndex}`;
  throw new PluginError("CAS_FAILED", `check-and-set failed: expected modifyIndex ${cas}, but ${why}`, 409, {
    current: current === null ? null : { key: current.key, value: new TextDecoder().decode(current.value), createIndex: current.createIndex, modifyIndex: current.modifyIndex },
  });
}
