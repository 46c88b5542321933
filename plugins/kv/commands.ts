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

export const kvCommands = {
  put: Type.Object({ key, value: Type.Uint8Array(), cas }),
  delete: Type.Object({ key, cas }),
  rollback: Type.Object({ key, toIndex: Type.Integer({ minimum: 1, description: "the index of the version to write back" }) }),
  txn: txnCommand,
};

/** What each command's apply returns. */
export interface KvResults {
  put: { index: number };
  delete: { index: number; deleted: boolean };
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
