// The kv plugin's command and config schemas: what goes into the Raft log,
// and what its YAML section may say.

import { Type, type Static } from "@sinclair/typebox";
import { keySchema } from "./keys.ts";
import type { PluginRuntime } from "../../src/fsm/sdk.ts";
import { txnCommand, type TxnResult } from "./txn.ts";

export const kvConfig = Type.Object(
  {
    maxValueBytes: Type.Integer({ minimum: 1, maximum: 64 * 1024 * 1024, default: 1024 * 1024, description: "largest value accepted, in bytes (413 above it)" }),
    history: Type.Integer({ minimum: 1, maximum: 1000, default: 10, description: "versions kept per key, for history, rollback and resuming watches" }),
  },
  { additionalProperties: false, default: {} },
);
export type KvConfig = Static<typeof kvConfig>;

const key = keySchema;
const cas = Type.Optional(Type.Integer({ minimum: 0, description: "write only if the key's modifyIndex is this (0: only if absent)" }));

const flags = Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description: "Consul's flags: an opaque number stored with the value (default 0)" }));

export const kvCommands = {
  put: Type.Object({
    key,
    value: Type.Uint8Array(),
    cas,
    flags,
    ttlMs: Type.Optional(Type.Integer({ minimum: 1, maximum: 365 * 24 * 3_600_000, description: "the key is deleted this long after the write, by the leader's clock" })),
  }),
  /** Deletes those of `keys` whose TTL has run out by this command's (leader) timestamp; proposed by the leader's sweep. */
  expire: Type.Object({ keys: Type.Array(key, { maxItems: 1000 }) }),
  delete: Type.Object({ key, cas }),
  /** Every key under the prefix (Consul's recursive delete). */
  deletePrefix: Type.Object({ prefix: Type.String({ maxLength: 512 }) }),
  rollback: Type.Object({ key, toIndex: Type.Integer({ minimum: 1, description: "the index of the version to write back" }) }),
  txn: txnCommand,
};

/** What each command's apply returns. */
export interface KvResults {
  put: { index: number };
  delete: { index: number; deleted: boolean };
  deletePrefix: { index: number; deleted: number };
  expire: { index: number; expired: number };
  rollback: { index: number; deleted: boolean };
  txn: { index: number; succeeded: boolean; results: TxnResult[] };
}

/** What watchers and blocking queries hear for each change. */
export interface KvEvent {
  op: "put" | "delete";
  key: string;
  value: Uint8Array | null;
  createIndex: number;
}

export type KvRuntime = PluginRuntime<typeof kvCommands, KvConfig, KvResults>;
