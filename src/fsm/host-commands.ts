// The host's own replicated commands, under the reserved plugin name "_host":
// the members' HTTP addresses (so any node can forward to the leader and
// answer GET /v1/cluster) and the plugins each member runs (so the leader
// never proposes a command some member could not apply).

import { Type, type Static } from "@sinclair/typebox";
import type { Database } from "bun:sqlite";
import type { ApplyContext } from "./sdk.ts";

export const HOST_PLUGIN = "_host";

export const hostCommands = {
  member: Type.Object({
    id: Type.String({ minLength: 1, maxLength: 64 }),
    http: Type.String({ minLength: 1, maxLength: 300 }),
    plugins: Type.Array(Type.String()),
  }),
  forget: Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) }),
  /** Every plugin table replaced by a backup's rows (pontoon snapshot restore); the host then calls each plugin's `restored`. */
  restore: Type.Object({ image: Type.Uint8Array() }),
  /**
   * Corruption check (src/server/corruption-check.ts): every node hashes its
   * replicated state as of this entry and reports the hash; `voters` is how
   * many voters the leader counted, so every node finds the same majority.
   */
  checkHash: Type.Object({ voters: Type.Integer({ minimum: 1, maximum: 1000 }) }),
  /** One node's hash of its state at the checkHash entry `index`. Changes no state: each node compares it with its own. */
  hashReport: Type.Object({
    id: Type.String({ minLength: 1, maxLength: 64 }),
    index: Type.Integer({ minimum: 1 }),
    hash: Type.String({ pattern: "^[0-9a-f]{16}$" }),
  }),
};

export type HashReport = Static<typeof hostCommands.hashReport>;

export type MemberRecord = Static<typeof hostCommands.member>;
export type HostCommand = keyof typeof hostCommands;

/** Applies a host command; the caller has checked the name (an unknown one means this node is older than the leader). */
export function applyHostCommand(ctx: Omit<ApplyContext, "config" | "emit">, command: HostCommand, args: unknown): null {
  switch (command) {
    case "member": {
      const m = args as MemberRecord;
      ctx.db
        .query("INSERT INTO _pontoon_members (id, http, plugins) VALUES (?, ?, ?) ON CONFLICT(id) DO UPDATE SET http = excluded.http, plugins = excluded.plugins")
        .run(m.id, m.http, JSON.stringify([...m.plugins].sort()));
      return null;
    }
    case "forget":
      ctx.db.query("DELETE FROM _pontoon_members WHERE id = ?").run((args as { id: string }).id);
      return null;
    case "restore":
      // Loaded by the plugin host, which also runs each plugin's `restored` hook.
      return null;
    case "checkHash":
    case "hashReport":
      // Seen by the plugin host's check listeners; the replicated state does not change.
      return null;
  }
}

export function readMembers(db: Database): Map<string, { http: string; plugins: string[] }> {
  const rows = db.query<{ id: string; http: string; plugins: string }, []>("SELECT id, http, plugins FROM _pontoon_members").all();
  return new Map(rows.map((r) => [r.id, { http: r.http, plugins: JSON.parse(r.plugins) as string[] }]));
}

/** Whether a member's stored record already says this (plugins compared sorted, as stored). */
export function recordSays(record: { http: string; plugins: string[] } | undefined, http: string, plugins: readonly string[]): boolean {
  return record !== undefined && record.http === http && record.plugins.join() === [...plugins].sort().join();
}
