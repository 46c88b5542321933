// An example plugin: feature flags, replicated. A flag is on or off, rolled
// out to a percentage of users (the same users every time, on every node),
// and versioned by the Raft index of its last change. Load it by path:
//
//   plugins: [kv, ./plugins/examples/feature-flags/index.ts]
//
// plugins/README.md walks through it line by line.

import { Type } from "@sinclair/typebox";
import { Elysia, t } from "elysia";
import { PluginError, definePlugin, type Database } from "../../../src/fsm/sdk.ts";

/** A flag as the table keeps it and the API answers it. */
export interface Flag {
  name: string;
  enabled: boolean;
  /** Percentage of users (0-100) who get the flag while it is enabled. */
  rollout: number;
  description: string;
  /** The Raft index of its last change: a version number every node agrees on. */
  version: number;
}

const name = Type.String({ pattern: "^[a-z0-9][a-z0-9._-]{0,63}$", description: "flag name: lower-case letters, digits, . _ -" });

function getFlag(db: Database, flag: string): Flag | null {
  const row = db.query<{ name: string; enabled: number; rollout: number; description: string; version: number }, [string]>("SELECT * FROM flags_flags WHERE name = ?").get(flag);
  return row ? { ...row, enabled: row.enabled === 1 } : null;
}

/** FNV-1a: a user lands in the same bucket on every node and every call (no Math.random, no clock). */
function bucket(flag: string, user: string): number {
  let h = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(`${flag}\0${user}`)) h = Math.imul(h ^ byte, 0x01000193) >>> 0;
  return h % 100;
}

export default definePlugin({
  name: "flags",
  description: "Feature flags with percentage rollouts (an example plugin)",
  // The YAML section `flags:`; defaults are filled in, and a bad value stops the node with the path named.
  config: Type.Object({ maxFlags: Type.Integer({ minimum: 1, maximum: 100_000, default: 1000 }) }, { additionalProperties: false, default: {} }),
  // Its own tab in the web console: page.ts, bundled and served by the node (plugins/README.md, "A console page").
  consolePage: { title: "Feature flags", module: "./page.ts" },
  migrations: ["CREATE TABLE flags_flags (name TEXT PRIMARY KEY, enabled INTEGER NOT NULL, rollout INTEGER NOT NULL, description TEXT NOT NULL, version INTEGER NOT NULL) WITHOUT ROWID"],
  commands: {
    set: Type.Object({
      name,
      enabled: Type.Boolean(),
      rollout: Type.Optional(Type.Integer({ minimum: 0, maximum: 100, description: "percentage of users who get it (default 100)" })),
      description: Type.Optional(Type.String({ maxLength: 500 })),
    }),
    delete: Type.Object({ name }),
  },
  // Deterministic: only the tables, the arguments and ctx (index, config). Every node runs this and gets the same rows.
  apply: {
    set: (ctx, args): Flag => {
      const exists = getFlag(ctx.db, args.name) !== null;
      const count = ctx.db.query<{ n: number }, []>("SELECT count(*) AS n FROM flags_flags").get()!.n;
      if (!exists && count >= ctx.config.maxFlags) throw new PluginError("TOO_MANY_FLAGS", `there are already ${count} flags (maxFlags in the plugin's YAML section, feature-flags:)`, 409);
      ctx.db
        .query("INSERT OR REPLACE INTO flags_flags (name, enabled, rollout, description, version) VALUES (?, ?, ?, ?, ?)")
        .run(args.name, args.enabled ? 1 : 0, args.rollout ?? 100, args.description ?? "", ctx.index);
      return getFlag(ctx.db, args.name)!;
    },
    delete: (ctx, args): { deleted: boolean } => ({ deleted: ctx.db.query("DELETE FROM flags_flags WHERE name = ?").run(args.name).changes > 0 }),
  },
  // Mounted at /v1/flags; the TypeBox schemas validate requests and appear in GET /openapi.
  routes: (flags) =>
    new Elysia({ name: "flags-routes" })
      .get("/", async () => (await flags.read("linearizable", (db) => db.query<Flag, []>("SELECT * FROM flags_flags ORDER BY name").all())).value.map((f) => ({ ...f, enabled: Boolean(f.enabled) })), {
        detail: { summary: "Every flag" },
      })
      .put("/:name", async ({ params, body }) => (await flags.write("set", { name: params.name, ...body })).value, {
        body: t.Object({ enabled: t.Boolean(), rollout: t.Optional(t.Integer({ minimum: 0, maximum: 100 })), description: t.Optional(t.String({ maxLength: 500 })) }),
        detail: { summary: "Create or replace a flag" },
      })
      .delete("/:name", async ({ params }) => (await flags.write("delete", { name: params.name })).value, { detail: { summary: "Delete a flag" } })
      .get(
        "/:name",
        async ({ params, query }) => {
          const { value: flag } = await flags.read(query.consistency ?? "linearizable", (db) => getFlag(db, params.name));
          if (!flag) throw new PluginError("FLAG_NOT_FOUND", `no flag ${JSON.stringify(params.name)}`, 404);
          if (query.user === undefined) return flag;
          return { name: flag.name, user: query.user, on: flag.enabled && bucket(flag.name, query.user) < flag.rollout, version: flag.version };
        },
        {
          query: t.Object({
            user: t.Optional(t.String({ minLength: 1, maxLength: 256, description: "evaluate the flag for this user" })),
            consistency: t.Optional(t.Union([t.Literal("linearizable"), t.Literal("leader"), t.Literal("stale")])),
          }),
          detail: { summary: "A flag, or with ?user= whether it is on for that user" },
        },
      ),
});
