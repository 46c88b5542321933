// Transactions (etcd's Txn, Consul's /v1/txn for KV): compares, then the
// operations of the branch they select, all in one Raft entry, so either
// every write of the branch happens or none does.

import { Type, type Static } from "@sinclair/typebox";
import { keySchema } from "./keys.ts";
import type { ApplyContext } from "../../src/fsm/sdk.ts";
import type { KvConfig } from "./commands.ts";
import { getEntry, type StoredEntry } from "./store.ts";

export const MAX_TXN_OPS = 128;

const key = keySchema;

export const txnCompare = Type.Object(
  {
    key,
    exists: Type.Optional(Type.Boolean({ description: "the key exists (true) or not (false)" })),
    value: Type.Optional(Type.String({ description: "the key's value equals this (UTF-8)" })),
    modifyIndex: Type.Optional(Type.Integer({ minimum: 0, description: "the key's modifyIndex equals this (0: absent)" })),
    createIndex: Type.Optional(Type.Integer({ minimum: 0 })),
  },
  { additionalProperties: false },
);

export const txnOp = Type.Union([
  Type.Object(
    { op: Type.Literal("put"), key, value: Type.String({ description: "UTF-8 value" }), flags: Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER })) },
    { additionalProperties: false },
  ),
  Type.Object({ op: Type.Literal("delete"), key }, { additionalProperties: false }),
  Type.Object({ op: Type.Literal("get"), key }, { additionalProperties: false }),
]);

export const txnCommand = Type.Object({
  compare: Type.Array(txnCompare, { maxItems: MAX_TXN_OPS }),
  success: Type.Array(txnOp, { maxItems: MAX_TXN_OPS }),
  failure: Type.Array(txnOp, { maxItems: MAX_TXN_OPS }),
});

export type TxnCommand = Static<typeof txnCommand>;
export type TxnResult =
  | { op: "put"; key: string; modifyIndex: number }
  | { op: "delete"; key: string; deleted: boolean }
  | { op: "get"; key: string; entry: { key: string; value: string; createIndex: number; modifyIndex: number } | null };

const decoder = new TextDecoder();

function holds(current: StoredEntry | null, c: Static<typeof txnCompare>): boolean {
  if (c.exists !== undefined && c.exists !== (current !== null)) return false;
  if (c.value !== undefined && (current === null || decoder.decode(current.value) !== c.value)) return false;
  if (c.modifyIndex !== undefined && (current?.modifyIndex ?? 0) !== c.modifyIndex) return false;
  if (c.createIndex !== undefined && (current?.createIndex ?? 0) !== c.createIndex) return false;
  return true;
}

export function applyTxn(
  ctx: ApplyContext<KvConfig>,
  txn: TxnCommand,
  write: (key: string, value: Uint8Array, current: StoredEntry | null, flags: number) => void,
  remove: (key: string, current: StoredEntry | null) => boolean,
): { index: number; succeeded: boolean; results: TxnResult[] } {
  const succeeded = txn.compare.every((c) => holds(getEntry(ctx.db, c.key), c));
  const results: TxnResult[] = [];
  for (const op of succeeded ? txn.success : txn.failure) {
    const current = getEntry(ctx.db, op.key);
    if (op.op === "put") {
      write(op.key, new TextEncoder().encode(op.value), current, op.flags ?? 0);
      results.push({ op: "put", key: op.key, modifyIndex: ctx.index });
    } else if (op.op === "delete") {
      results.push({ op: "delete", key: op.key, deleted: remove(op.key, current) });
    } else {
      results.push({
        op: "get",
        key: op.key,
        entry: current && { key: current.key, value: decoder.decode(current.value), createIndex: current.createIndex, modifyIndex: current.modifyIndex },
      });
    }
  }
  return { index: ctx.index, succeeded, results };
}
