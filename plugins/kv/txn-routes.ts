// POST /v1/txn: an atomic list of compares, then the success or failure operations.

import { Elysia } from "elysia";
import { PluginError, requireKeyAccess } from "../../src/fsm/sdk.ts";
import type { KvRuntime } from "./commands.ts";
import { assertKey } from "./keys.ts";
import { txnCommand } from "./txn.ts";

export function txnRoutes(kv: KvRuntime) {
  return new Elysia({ name: "kv-txn" }).post(
    "/v1/txn",
    async ({ body }) => {
      const keys = [...body.compare.map((c) => c.key), ...body.success.map((o) => o.key), ...body.failure.map((o) => o.key)];
      for (const key of keys) assertKey(key);
      for (const c of body.compare) requireKeyAccess("read", c.key);
      for (const op of [...body.success, ...body.failure]) requireKeyAccess(op.op === "get" ? "read" : "write", op.key);
      for (const op of [...body.success, ...body.failure]) {
        if (op.op === "put" && Buffer.byteLength(op.value) > kv.config.maxValueBytes) {
          throw new PluginError("VALUE_TOO_LARGE", `the value for ${JSON.stringify(op.key)} is over kv.maxValueBytes (${kv.config.maxValueBytes})`, 413, { field: "body" });
        }
      }
      const { value } = await kv.write("txn", body);
      return value;
    },
    {
      body: txnCommand,
      detail: { summary: "Compare, then put/delete/get atomically in one Raft entry (etcd Txn)", tags: ["kv"] },
    },
  );
}
