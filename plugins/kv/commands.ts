// The kv plugin's command and config schemas: what goes into the Raft log,
// and what its YAML section may say.

import { Type, type Static } from "@sinclair/typebox";

export const kvConfig = Type.Object(
  {
    maxValueBytes: Type.Integer({ minimum: 1, maximum: 64 * 1024 * 1024, default: 1024 * 1024, description: "largest value accepted, in bytes (413 above it)" }),
  },
  { additionalProperties: false, default: {} },
);
export type KvConfig = Static<typeof kvConfig>;

const key = Type.String({ minLength: 1, maxLength: 512 });
const cas = Type.Optional(Type.Integer({ minimum: 0, description: "write only if the key's modifyIndex is this (0: only if absent)" }));

export const kvCommands = {
  put: Type.Object({ key, value: Type.Uint8Array(), cas }),
  delete: Type.Object({ key, cas }),
};
