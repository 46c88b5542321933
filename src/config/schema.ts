// The node's configuration: one TypeBox schema with the defaults written into
// it, so the validation, the defaults and the PontoonConfig type all come from
// here (config/pontoon.yaml writes the same defaults out as the YAML
// reference, and a test keeps the two equal).
//
// `expected` on a schema is ours, not JSON Schema's: it is how an error
// message words what the setting takes ("raft.port: expected an integer
// 1-65535, got "abc"").

import { Type, type Static, type TLiteral, type TSchema, type TUnion } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import { LOG_FORMATS, LOG_LEVELS } from "../log/logger.ts";
import { HOST_EXPECTED, HOST_FORMAT, HOST_PORT_EXPECTED, HOST_PORT_FORMAT, PORT_EXPECTED } from "./address.ts";
import { DURATION_EXPECTED, DURATION_FORMAT } from "./duration.ts";

/** Visible ASCII only: a token with spaces or control characters cannot survive an Authorization header intact. */
export const TOKEN_PATTERN = "^[\\x21-\\x7e]+$";
export const TOKEN_EXPECTED = "a token of visible ASCII characters, without spaces";
/** Non-empty, and no leading or trailing spaces, which are nearly always a quoting mistake. */
export const DATA_DIR_PATTERN = "^\\S(.*\\S)?$";
export const DATA_DIR_EXPECTED = "a directory path without leading or trailing spaces";
export const NODE_ID_PATTERN = "^[A-Za-z0-9._-]{1,64}$";
export const NODE_ID_EXPECTED = "1-64 letters, digits, '.', '_' or '-'";

const nodeId = (options: { default?: string } = {}) => Type.String({ pattern: NODE_ID_PATTERN, expected: NODE_ID_EXPECTED, ...options });
const host = (fallback: string) => Type.String({ format: HOST_FORMAT, expected: HOST_EXPECTED, default: fallback });
const port = (fallback: number) => Type.Integer({ minimum: 1, maximum: 65535, expected: PORT_EXPECTED, default: fallback });
const hostPort = () => Type.String({ format: HOST_PORT_FORMAT, expected: HOST_PORT_EXPECTED });
const count = (minimum: number, maximum: number, fallback: number) =>
  Type.Integer({ minimum, maximum, expected: `an integer ${minimum}-${maximum}`, default: fallback });
const oneOf = <const T extends readonly string[]>(choices: T, fallback: T[number]) =>
  Type.Union(
    choices.map((c) => Type.Literal(c)),
    { expected: `one of ${choices.join(", ")}`, default: fallback },
  ) as TUnion<TLiteral<T[number]>[]>;
/** A section of settings: unknown keys are errors, and a missing section is filled with its defaults. */
const section = <P extends Record<string, TSchema>>(properties: P) => Type.Object(properties, { additionalProperties: false, default: {} });

export const peerSchema = Type.Object(
  { id: nodeId(), raft: hostPort(), http: hostPort() },
  { additionalProperties: false, expected: '{ id, raft: "host:port", http: "host:port" }' },
);
export type PeerConfig = Static<typeof peerSchema>;

export const ROLES = ["read", "write", "admin"] as const;
export type Role = (typeof ROLES)[number];
export const SHA256_PATTERN = "^[0-9a-f]{64}$";

/**
 * One API token (auth.tokens): only its SHA-256 is written down, so the YAML
 * can be read by more people than may use the token. Scopes narrow the role:
 * `prefixes` the kv keys it may touch, `plugins` the plugins it may call.
 */
export const apiTokenSchema = Type.Object(
  {
    name: Type.String({ pattern: NODE_ID_PATTERN, expected: NODE_ID_EXPECTED }),
    sha256: Type.String({ pattern: SHA256_PATTERN, expected: "the token's SHA-256 as 64 lower-case hex digits (`pontoon token hash`)" }),
    role: oneOf(ROLES, "read"),
    prefixes: Type.Optional(Type.Array(Type.String(), { expected: "a list of key prefixes" })),
    plugins: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { expected: "a list of plugin names" })),
    requestsPerSecond: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000, expected: "an integer 1-1000000" })),
  },
  { additionalProperties: false, expected: "{ name, sha256, role, prefixes?, plugins?, requestsPerSecond? }" },
);
export type ApiTokenConfig = Static<typeof apiTokenSchema>;

export const configSchema = Type.Object(
  {
    node: section({
      id: nodeId({ default: "node1" }),
      dataDir: Type.String({ pattern: DATA_DIR_PATTERN, expected: DATA_DIR_EXPECTED, default: "./data" }),
    }),
    http: section({
      host: host("127.0.0.1"),
      port: port(2221),
      advertise: Type.Optional(hostPort()),
      maxBodyBytes: count(1024, 1024 ** 3, 2 * 1024 * 1024),
    }),
    raft: section({
      host: host("127.0.0.1"),
      port: port(1111),
      advertise: Type.Optional(hostPort()),
      tickMs: count(1, 10_000, 50),
      electionTicks: count(2, 1000, 10),
      heartbeatTicks: count(1, 1000, 1),
    }),
    cluster: section({
      peers: Type.Optional(Type.Array(peerSchema, { minItems: 1, expected: "a list of { id, raft, http } with at least one entry" })),
      join: Type.Optional(hostPort()),
      joinRetry: section({
        initialMs: count(10, 3_600_000, 500),
        maxMs: count(10, 3_600_000, 10_000),
      }),
      joinAsVoter: Type.Boolean({ expected: "true or false", default: true }),
    }),
    snapshot: section({
      threshold: count(1, 1_000_000_000, 8192),
      interval: Type.Union([Type.String({ format: DURATION_FORMAT }), Type.Integer({ minimum: 1, maximum: 2 ** 31 - 1 })], {
        expected: DURATION_EXPECTED,
        default: "30s",
      }),
      retain: count(1, 100, 2),
      trailingLogs: count(0, 1_000_000_000, 10_240),
    }),
    corruptionCheck: section({
      interval: Type.Union([Type.String({ format: DURATION_FORMAT }), Type.Integer({ minimum: 0, maximum: 2 ** 31 - 1 })], {
        expected: `${DURATION_EXPECTED}, or 0 for off`,
        default: "5m",
      }),
    }),
    plugins: Type.Array(Type.String({ minLength: 1, expected: "a built-in plugin name or a path to a plugin module" }), {
      expected: "a list of plugin names or module paths",
      default: ["kv"],
    }),
    compat: section({
      consul: section({
        port: Type.Integer({ minimum: 0, maximum: 65535, expected: "0 (off) or a port 1-65535", default: 0 }),
      }),
    }),
    auth: section({
      token: Type.Optional(Type.String({ pattern: TOKEN_PATTERN, expected: `${TOKEN_EXPECTED} (quote it in YAML if it looks like a number)` })),
      joinSecret: Type.Optional(Type.String({ pattern: TOKEN_PATTERN, minLength: 16, expected: `at least 16 ${TOKEN_EXPECTED.replace(/^a token of /, "")}` })),
      tokens: Type.Array(apiTokenSchema, { expected: "a list of { name, sha256, role, prefixes?, plugins?, requestsPerSecond? }", default: [] }),
    }),
    tls: section({
      cert: Type.Optional(Type.String({ minLength: 1, expected: "the path of this node's certificate (PEM)" })),
      key: Type.Optional(Type.String({ minLength: 1, expected: "the path of this node's private key (PEM)" })),
      ca: Type.Optional(Type.String({ minLength: 1, expected: "the path of the CA certificates (PEM) that sign the cluster's nodes" })),
      mutual: Type.Boolean({ expected: "true or false", default: false }),
    }),
    limits: section({
      requestsPerSecond: count(0, 1_000_000, 0),
      burst: count(1, 1_000_000, 100),
      watchersPerClient: count(0, 1_000_000, 1024),
    }),
    log: section({
      level: oneOf(LOG_LEVELS, "info"),
      format: oneOf(LOG_FORMATS, "text"),
    }),
  },
  // Plugin sections (kv:, naming:, ...) are not in here: load.ts checks their names against `plugins`, and each plugin validates its own.
  { additionalProperties: false },
);

export type PontoonConfig = Static<typeof configSchema>;

/** The built-in sections, in the order config/pontoon.yaml writes them. */
export const CORE_SECTIONS: readonly string[] = Object.keys(configSchema.properties);

/** Every default, as the schema gives them (no advertise, peers, join or token). */
export function defaultConfig(): PontoonConfig {
  return Value.Default(configSchema, {}) as PontoonConfig;
}
