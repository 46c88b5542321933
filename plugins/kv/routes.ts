// The kv HTTP routes (CONTRACT.md "Key-value"), mounted at /v1/kv.

import { Elysia, t } from "elysia";
import { PluginError, type PluginRuntime } from "../../src/fsm/sdk.ts";
import type { KvConfig, kvCommands } from "./commands.ts";
import { assertKey, assertPrefix } from "./keys.ts";
import { getEntry, listEntries, type StoredEntry } from "./store.ts";

type KvRuntime = PluginRuntime<typeof kvCommands, KvConfig, { put: { index: number }; delete: { index: number; deleted: boolean } }>;

export const consistencyQuery = t.Optional(
  t.Union([t.Literal("linearizable"), t.Literal("leader"), t.Literal("stale")], {
    description: "linearizable (default): never stale; leader: under the leader's lease; stale: whatever this node has",
  }),
);
const casQuery = t.Optional(t.Numeric({ minimum: 0, description: "write only if the key's modifyIndex is this (0: only if absent)" }));

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

export function kvRoutes(kv: KvRuntime) {
  return new Elysia({ name: "kv-routes" })
    .get(
      "",
      async ({ query, set }) => {
        const prefix = query.prefix ?? "";
        assertPrefix(prefix);
        const { index, value } = await kv.read(query.consistency ?? "linearizable", (db) => listEntries(db, prefix));
        set.headers["x-pontoon-index"] = String(index);
        return { index, items: value.map(present) };
      },
      {
        query: t.Object({ prefix: t.Optional(t.String({ description: "list keys starting with this (all when empty)" })), consistency: consistencyQuery }),
        detail: { summary: "List keys by prefix, ordered by key" },
      },
    )
    .get(
      "/*",
      async ({ params, query, set }) => {
        const key = keyOf(params);
        const { index, value: entry } = await kv.read(query.consistency ?? "linearizable", (db) => getEntry(db, key));
        set.headers["x-pontoon-index"] = String(index);
        if (!entry) throw new PluginError("KEY_NOT_FOUND", `key ${JSON.stringify(key)} does not exist`, 404);
        if (query.raw !== undefined) {
          return new Response(entry.value, { headers: { "content-type": "application/octet-stream", "x-pontoon-index": String(index), "x-pontoon-modify-index": String(entry.modifyIndex) } });
        }
        return present(entry);
      },
      {
        query: t.Object({ raw: t.Optional(t.String({ description: "present: answer the stored bytes alone" })), consistency: consistencyQuery }),
        detail: { summary: "Read one key" },
      },
    )
    .put(
      "/*",
      async ({ params, query, body }) => {
        const key = keyOf(params);
        const value = new Uint8Array(body as ArrayBuffer);
        if (value.length > kv.config.maxValueBytes) {
          throw new PluginError("VALUE_TOO_LARGE", `the value is ${value.length} bytes; the limit is ${kv.config.maxValueBytes} (kv.maxValueBytes)`, 413, { field: "body" });
        }
        const cas = query.cas === undefined ? undefined : Number(query.cas);
        if (cas !== undefined && !Number.isSafeInteger(cas)) throw new PluginError("INVALID_CAS", "cas must be a whole number >= 0", 400, { field: "cas" });
        const { index } = await kv.write("put", cas === undefined ? { key, value } : { key, value, cas });
        return { index };
      },
      { parse: "arrayBuffer", query: t.Object({ cas: casQuery }), detail: { summary: "Write a key (body: the raw value)" } },
    )
    .delete(
      "/*",
      async ({ params, query }) => {
        const key = keyOf(params);
        const cas = query.cas === undefined ? undefined : Number(query.cas);
        const { value } = await kv.write("delete", cas === undefined ? { key } : { key, cas });
        return value;
      },
      { query: t.Object({ cas: casQuery }), detail: { summary: "Delete a key" } },
    );
}
