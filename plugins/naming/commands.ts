// The naming plugin's command and config schemas: what goes into the Raft
// log, and what its YAML section may say.

import { Type, type Static } from "@sinclair/typebox";
import type { PluginRuntime } from "../../src/fsm/sdk.ts";

/** One DNS label (so `<service>.service.<domain>` resolves), as Consul advises for service names. */
export const SERVICE_NAME = "^[A-Za-z0-9]([A-Za-z0-9_-]{0,61}[A-Za-z0-9])?$";
/** Instance ids often carry an address: web-10.0.0.5:8080. */
export const INSTANCE_ID = "^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$";

export const serviceName = Type.String({ pattern: SERVICE_NAME, description: "service name: letters, digits, - and _ (one DNS label, at most 63)" });
export const instanceId = Type.String({ pattern: INSTANCE_ID, description: "instance id, unique within its service: letters, digits and . _ : @ - (at most 128)" });

const DAY_MS = 24 * 3_600_000;
const status = Type.Union([Type.Literal("passing"), Type.Literal("critical")]);
export type HealthStatus = Static<typeof status>;

export const checkSpec = Type.Union([
  Type.Object(
    {
      type: Type.Literal("http"),
      url: Type.String({ minLength: 1, maxLength: 2048, pattern: "^https?://", description: "GET this URL" }),
      status: Type.Optional(Type.Integer({ minimum: 100, maximum: 599, description: "the status that means healthy (default: any 2xx)" })),
      body: Type.Optional(Type.String({ minLength: 1, maxLength: 1024, description: "healthy only if the response body contains this text" })),
      intervalMs: Type.Integer({ minimum: 100, maximum: DAY_MS }),
      timeoutMs: Type.Integer({ minimum: 10, maximum: 300_000 }),
    },
    { additionalProperties: false },
  ),
  Type.Object(
    {
      type: Type.Literal("tcp"),
      address: Type.String({ minLength: 1, maxLength: 300, description: "host:port to connect to" }),
      intervalMs: Type.Integer({ minimum: 100, maximum: DAY_MS }),
      timeoutMs: Type.Integer({ minimum: 10, maximum: 300_000 }),
    },
    { additionalProperties: false },
  ),
]);
export type CheckSpec = Static<typeof checkSpec>;

export const instanceFields = {
  address: Type.String({ minLength: 1, maxLength: 253, description: "IPv4, IPv6 or host name clients connect to" }),
  port: Type.Integer({ minimum: 1, maximum: 65535 }),
  weight: Type.Integer({ minimum: 0, maximum: 10_000, description: "share of traffic against the service's other instances (0: none)" }),
  tags: Type.Array(Type.String({ minLength: 1, maxLength: 256 }), { maxItems: 64 }),
  meta: Type.Record(Type.String({ minLength: 1, maxLength: 128 }), Type.String({ maxLength: 512 }), { maxProperties: 64 }),
};

/** A routing rule's subset: instances having all these tags and metadata, given `weight` of the traffic. */
export const subsetSchema = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 64, pattern: "^[A-Za-z0-9._-]+$" }),
    tags: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 256 }), { maxItems: 16 })),
    meta: Type.Optional(Type.Record(Type.String({ minLength: 1, maxLength: 128 }), Type.String({ maxLength: 512 }), { maxProperties: 16 })),
    weight: Type.Integer({ minimum: 0, maximum: 10_000, description: "share of the service's traffic (e.g. 90 and 10)" }),
  },
  { additionalProperties: false },
);
export const rulesSchema = Type.Object({ subsets: Type.Array(subsetSchema, { minItems: 1, maxItems: 32 }) }, { additionalProperties: false });
export type Subset = Static<typeof subsetSchema>;
export type Rules = Static<typeof rulesSchema>;

export const namingConfig = Type.Object(
  {
    deregisterAfterMs: Type.Integer({ minimum: 1_000, maximum: 30 * DAY_MS, default: 60_000, description: "how long a TTL instance stays critical before it is removed, unless it registers its own" }),
    sweepMs: Type.Integer({ minimum: 50, maximum: 60_000, default: 500, description: "how often the leader looks for expired TTLs and health changes" }),
    dns: Type.Object(
      {
        port: Type.Integer({ minimum: 0, maximum: 65535, default: 0, description: "UDP port of the DNS responder; 0: off" }),
        host: Type.String({ minLength: 1, maxLength: 253, default: "127.0.0.1", description: "address the DNS responder binds to" }),
        domain: Type.String({ minLength: 1, maxLength: 200, pattern: "^([A-Za-z0-9-]+\\.)*[A-Za-z0-9-]+\\.?$", default: "pontoon", description: "answers <service>.service.<domain>" }),
        ttl: Type.Integer({ minimum: 0, maximum: 86_400, default: 5, description: "TTL of the answers, in seconds" }),
      },
      { additionalProperties: false, default: {} },
    ),
  },
  { additionalProperties: false, default: {} },
);
export type NamingConfig = Static<typeof namingConfig>;

const instanceKey = { service: serviceName, id: instanceId };

export const namingCommands = {
  register: Type.Object({
    ...instanceKey,
    ...instanceFields,
    ttlMs: Type.Optional(Type.Integer({ minimum: 1_000, maximum: DAY_MS, description: "critical unless a heartbeat comes within this long" })),
    // Resolved by the route from the YAML default: apply must not read a node's own config, which may differ.
    deregisterAfterMs: Type.Integer({ minimum: 1_000, maximum: 30 * DAY_MS }),
    check: Type.Optional(checkSpec),
  }),
  deregister: Type.Object(instanceKey),
  /**
   * Health changes the leader decided from its clock, its heartbeats and its
   * checks; each applies only if the instance is still at `ifIndex`, so a
   * change decided before a re-registration is dropped.
   */
  transitions: Type.Object({
    changes: Type.Array(
      Type.Object({
        ...instanceKey,
        ifIndex: Type.Integer({ minimum: 1 }),
        ttl: Type.Optional(status),
        check: Type.Optional(Type.Object({ status, output: Type.String({ maxLength: 1024 }) })),
        remove: Type.Optional(Type.Literal(true)),
      }),
      { minItems: 1, maxItems: 1000 },
    ),
  }),
  setRules: Type.Object({ service: serviceName, rules: rulesSchema }),
  deleteRules: Type.Object({ service: serviceName }),
};

/** What blocking queries hear: the service whose instances or rules changed. */
export interface NamingEvent {
  service: string;
}

export interface NamingResults {
  register: { index: number; created: boolean };
  deregister: { index: number };
  transitions: { index: number; applied: number };
  setRules: { index: number };
  deleteRules: { index: number; deleted: boolean };
}

export type NamingRuntime = PluginRuntime<typeof namingCommands, NamingConfig, NamingResults>;
