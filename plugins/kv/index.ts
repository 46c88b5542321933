// The kv plugin: Pontoon's config center. Keys and values as CONTRACT.md
// describes them, versioned by Raft index (createIndex/modifyIndex, like
// Consul), with check-and-set on modifyIndex.

import { PluginError, definePlugin } from "../../src/fsm/sdk.ts";
import { kvCommands, kvConfig } from "./commands.ts";
import { kvRoutes } from "./routes.ts";
import { deleteEntry, getEntry, migrations, putEntry, type StoredEntry } from "./store.ts";

export default definePlugin({
  name: "kv",
  description: "Keys and values with Raft-index versions and check-and-set",
  config: kvConfig,
  migrations,
  commands: kvCommands,
  apply: {
    put: (ctx, args): { index: number } => {
      checkCas(getEntry(ctx.db, args.key), args.cas);
      putEntry(ctx.db, args.key, args.value, ctx.index);
      return { index: ctx.index };
    },
    delete: (ctx, args): { index: number; deleted: boolean } => {
      if (args.cas !== undefined) checkCas(getEntry(ctx.db, args.key), args.cas);
      return { index: ctx.index, deleted: deleteEntry(ctx.db, args.key) };
    },
  },
  routes: kvRoutes,
});

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
