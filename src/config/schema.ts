// The node's configuration: one TypeBox schema, with the defaults written
// into it, so the YAML reference (config/pontoon.yaml), the validation and
// the PontoonConfig type all come from here.

import { Type, type Static } from "@sinclair/typebox";

const hostPort = Type.String({ pattern: "^[^\\s/]+:[0-9]{1,5}$", description: "host:port" });
const port = Type.Integer({ minimum: 1, maximum: 65535 });
const duration = Type.Union([Type.String({ pattern: "^\\d+(\\.\\d+)?(ms|s|m|h)$" }), Type.Number({ minimum: 0 })], { description: '"250ms", "30s", "5m", "1h" or ms' });
const nodeId = Type.String({ pattern: "^[A-Za-z0-9._-]{1,64}$", description: "letters, digits, . _ - (1-64)" });

export const peerSchema = Type.Object({ id: nodeId, raft: hostPort, http: hostPort }, { additionalProperties: false });

export const configSchema = Type.Object(
  {
    node: Type.Object({ id: nodeId, dataDir: Type.String({ minLength: 1 }) }, { additionalProperties: false, default: {} }),
    http: Type.Object(
      { host: Type.String({ minLength: 1 }), port, advertise: Type.Optional(hostPort), maxBodyBytes: Type.Integer({ minimum: 1024 }) },
      { additionalProperties: false, default: {} },
    ),
    raft: Type.Object(
      {
        host: Type.String({ minLength: 1 }),
        port,
        advertise: Type.Optional(hostPort),
        tickMs: Type.Integer({ minimum: 1, maximum: 10_000 }),
        electionTicks: Type.Integer({ minimum: 2, maximum: 1000 }),
        heartbeatTicks: Type.Integer({ minimum: 1, maximum: 1000 }),
      },
      { additionalProperties: false, default: {} },
    ),
    cluster: Type.Object(
      {
        peers: Type.Optional(Type.Array(peerSchema, { minItems: 1 })),
        join: Type.Optional(hostPort),
        joinAsVoter: Type.Boolean(),
        joinRetry: Type.Object({ initialMs: Type.Integer({ minimum: 10 }), maxMs: Type.Integer({ minimum: 10 }) }, { additionalProperties: false, default: {} }),
      },
      { additionalProperties: false, default: {} },
    ),
    snapshot: Type.Object(
      { threshold: Type.Integer({ minimum: 1 }), interval: duration, retain: Type.Integer({ minimum: 1, maximum: 100 }), trailingLogs: Type.Integer({ minimum: 0 }) },
      { additionalProperties: false, default: {} },
    ),
    plugins: Type.Array(Type.String({ minLength: 1 }), { minItems: 1 }),
    auth: Type.Object({ token: Type.Optional(Type.String({ minLength: 1 })) }, { additionalProperties: false, default: {} }),
    log: Type.Object(
      { level: Type.Union([Type.Literal("debug"), Type.Literal("info"), Type.Literal("warn"), Type.Literal("error")]), format: Type.Union([Type.Literal("text"), Type.Literal("json")]) },
      { additionalProperties: false, default: {} },
    ),
  },
  // Plugin sections (kv:, naming:, ...) are checked by name against `plugins`, then by each plugin's own schema.
  { additionalProperties: true },
);

export type PontoonConfig = Static<typeof configSchema>;

/** Defaults: also what `config/pontoon.yaml` writes out. */
export const DEFAULTS = {
  node: { id: "node1", dataDir: "./data" },
  http: { host: "127.0.0.1", port: 2221, maxBodyBytes: 2 * 1024 * 1024 },
  raft: { host: "127.0.0.1", port: 1111, tickMs: 50, electionTicks: 10, heartbeatTicks: 1 },
  cluster: { joinAsVoter: true, joinRetry: { initialMs: 500, maxMs: 10_000 } },
  snapshot: { threshold: 8192, interval: "30s", retain: 2, trailingLogs: 10_240 },
  plugins: ["kv"],
  auth: {},
  log: { level: "info", format: "text" },
};

export const CORE_SECTIONS = Object.keys(DEFAULTS);

/** Settings applied without a restart when the file changes. */
export const LIVE_SETTINGS = ["log.level", "auth.token"];
