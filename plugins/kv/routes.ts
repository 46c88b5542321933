// The kv HTTP routes (CONTRACT.md "Key-value"), mounted at /v1/kv.

import { Elysia, t } from "elysia";
import { CONSISTENCY_LEVELS, PluginError, blockingWaitMs, parseDuration, requireKeyAccess } from "../../src/fsm/sdk.ts";
import { waitForChange } from "./blocking.ts";
import type { KvRuntime } from "./commands.ts";
import { assertKey, assertPrefix } from "./keys.ts";
import { getEntry, keyHistory, lastChangeIndex, listEntries, type StoredEntry } from "./store.ts";

export const consistencyQuery = t.Optional(
  t.Union(CONSISTENCY_LEVELS.map((level) => t.Literal(level)), {
    description: "linearizable (default): never stale; leader: under the leader's lease; stale: whatever this node has",
  }),
);
const blockingQuery = {
  index: t.Optional(t.Numeric({ minimum: 0, description: "blocking query: answer once something here changes after this index (from X-Pontoon-Index)" })),
  wait: t.Optional(t.String({ description: 'with index: the longest to wait, e.g. "30s" (default 5m, at most 10m)' })),
};
const casQuery = t.Optional(t.Numeric({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, multipleOf: 1, description: "write only if the key's modifyIndex is this (0: only if absent)" }));

const entrySchema = t.Object({ key: t.String(), value: t.String(), createIndex: t.Integer(), modifyIndex: t.Integer() });
const decoder = new TextDecoder();

function present(e: StoredEntry): typeof entrySchema.static {
  return { key: e.key, value: decoder.decode(e.value), createIndex: e.createIndex, modifyIndex: e.modifyIndex };
}

/** The key after /v1/kv/, percent-decoded and validated. */
function keyOf(params: Record<string, string | undefined>): string {
  let key: string;
  try {
    key = decodeURIComponent(params["*"] ?? "");
  } catch {
    throw new PluginError("INVALID_KEY", "the key in the path is not valid percent-encoding", 400, { field: "key" });
  }
  assertKey(key);
  return key;
}

/**
 * With `?index=N`, waits until the last change at `keyOrPrefix` is past N (or
 * the wait ends); then the read runs as usual. X-Pontoon-Index carries that
 * last-change index for the next call.
 */
async function block(kv: KvRuntime, keyOrPrefix: string, exact: boolean, index: number | undefined, wait: string | undefined, request: Request): Promise<void> {
  if (index === undefined) return;
  const ms = blockingWaitMs(wait);
  const matches = exact ? (key: string) => key === keyOrPrefix : (key: string) => key.startsWith(keyOrPrefix);
  await waitForChange(kv, matches, index, () => kv.peek((db) => lastChangeIndex(db, keyOrPrefix, exact)), ms, request.signal);
}

export function kvRoutes(kv: KvRuntime) {
  return new Elysia({ name: "kv-routes" })
    .get(
      "",
      async ({ query, set, request }) => {
        const prefix = query.prefix ?? "";
        assertPrefix(prefix);
        requireKeyAccess("read", prefix, true);
        await block(kv, prefix, false, query.index, query.wait, request);
        const { index, value } = await kv.read(query.consistency ?? "linearizable", (db) => ({ items: listEntries(db, prefix), changed: lastChangeIndex(db, prefix, false) }));
        set.headers["x-pontoon-index"] = String(value.changed);
        return { index, items: value.items.map(present) };
      },
      {
        query: t.Object({ prefix: t.Optional(t.String({ description: "list keys starting with this (all when empty)" })), consistency: consistencyQuery, ...blockingQuery }),
        detail: { summary: "List keys by prefix, ordered by key" },
      },
    )
    .get(
      "/*",
      async ({ params, query, set, request }) => {
        const key = keyOf(params);
        requireKeyAccess("read", key);
        if (query.history !== undefined) {
          const { value: versions } = await kv.read(query.consistency ?? "linearizable", (db) => keyHistory(db, key));
          if (versions.length === 0) throw new PluginError("KEY_NOT_FOUND", `key ${JSON.stringify(key)} has no retained history`, 404);
          return { key, versions: versions.map((v) => ({ index: v.index, op: v.op, value: v.value === null ? null : decoder.decode(v.value), createIndex: v.createIndex })) };
        }
        await block(kv, key, true, query.index, query.wait, request);
        const { value } = await kv.read(query.consistency ?? "linearizable", (db) => ({ entry: getEntry(db, key), changed: lastChangeIndex(db, key, true) }));
        const { entry, changed } = value;
        set.headers["x-pontoon-index"] = String(changed);
        if (!entry) throw new PluginError("KEY_NOT_FOUND", `key ${JSON.stringify(key)} does not exist`, 404);
        if (query.raw !== undefined) {
          return new Response(entry.value, { headers: { "content-type": "application/octet-stream", "x-pontoon-index": String(changed), "x-pontoon-modify-index": String(entry.modifyIndex) } });
        }
        return present(entry);
      },
      {
        query: t.Object({
          raw: t.Optional(t.String({ description: "present: answer the stored bytes alone" })),
          history: t.Optional(t.String({ description: "present: answer the key's retained versions, newest first" })),
          consistency: consistencyQuery,
          ...blockingQuery,
        }),
        detail: { summary: "Read one key" },
      },
    )
    .post(
      "/*",
      async ({ params, body }) => {
        const path = params["*"] ?? "";
        if (!path.endsWith("/rollback")) throw new PluginError("ROUTE_NOT_FOUND", "POST under /v1/kv is only <key>/rollback; writes are PUT", 404);
        const key = keyOf({ "*": path.slice(0, -"/rollback".length) });
        requireKeyAccess("write", key);
        const { value } = await kv.write("rollback", { key, toIndex: body.toIndex });
        return value;
      },
      {
        body: t.Object({ toIndex: t.Integer({ minimum: 1, description: "the index of the version to write back (see ?history)" }) }),
        detail: { summary: "Write an old version of a key back as a new version (POST /v1/kv/<key>/rollback)" },
      },
    )
    .put(
      "/*",
      async ({ params, query, body }) => {
        const key = keyOf(params);
        requireKeyAccess("write", key);
        const value = new Uint8Array(body as ArrayBuffer);
        if (value.length > kv.config.maxValueBytes) {
          throw new PluginError("VALUE_TOO_LARGE", `the value is ${value.length} bytes; the limit is ${kv.config.maxValueBytes} (kv.maxValueBytes)`, 413, { field: "body" });
        }
        const { cas } = query;
        const ttlMs = query.ttl === undefined ? undefined : parseDuration(query.ttl);
        if (ttlMs === null || (ttlMs !== undefined && ttlMs < 1)) {
          throw new PluginError("INVALID_TTL", `ttl must be a duration like "30s" or "10m", got ${JSON.stringify(query.ttl)}`, 400, { field: "ttl" });
        }
        const { index } = await kv.write("put", { key, value, ...(cas === undefined ? {} : { cas }), ...(ttlMs === undefined ? {} : { ttlMs }) });
        return { index };
      },
      {
        parse: "arrayBuffer",
        query: t.Object({ cas: casQuery, ttl: t.Optional(t.String({ description: 'delete the key this long after the write, e.g. "30s" (by the leader\'s clock); a put without ttl removes any' })) }),
        detail: { summary: "Write a key (body: the raw value)" },
      },
    )
    .delete(
      "/*",
      async ({ params, query }) => {
        const key = keyOf(params);
        requireKeyAccess("write", key);
        const { cas } = query;
        const { value } = await kv.write("delete", cas === undefined ? { key } : { key, cas });
        return value;
      },
      { query: t.Object({ cas: casQuery }), detail: { summary: "Delete a key" } },
    );
}
