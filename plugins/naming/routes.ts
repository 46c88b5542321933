// The naming HTTP routes, mounted at /v1/naming (see README.md).

import { isIP } from "node:net";
import { Elysia, t } from "elysia";
import { CONSISTENCY_LEVELS, PluginError, blockingWaitMs, parseDuration, type Consistency } from "../../src/fsm/sdk.ts";
import { waitForServiceChange } from "./blocking.ts";
import { INSTANCE_ID, SERVICE_NAME, rulesSchema, type CheckSpec, type NamingRuntime } from "./commands.ts";
import { leaderMemory, ttlClock } from "./heartbeats.ts";
import { candidates, pickByHash, pickRandom, type Candidate } from "./routing.ts";
import { catalogIndex, getInstance, getRules, listInstances, listServices, serviceIndex, serviceTtlRows, type Instance } from "./store.ts";

const consistency = t.Optional(
  t.Union(CONSISTENCY_LEVELS.map((level) => t.Literal(level)), { description: "linearizable (default): never stale; leader: under the leader's lease; stale: whatever this node has" }),
);
const blocking = {
  index: t.Optional(t.Numeric({ minimum: 0, description: "blocking query: answer once this changes after this index (from X-Pontoon-Index)" })),
  wait: t.Optional(t.String({ description: 'with index: the longest to wait, e.g. "30s" (default 5m, at most 10m)' })),
};
const serviceParam = t.String({ pattern: SERVICE_NAME, description: "service name: letters, digits, - and _ (at most 63)" });
const instanceParams = t.Object({ service: serviceParam, id: t.String({ pattern: INSTANCE_ID, description: "instance id: letters, digits and . _ : @ - (at most 128)" }) });
const duration = (description: string) => t.Optional(t.String({ description }));

const registration = t.Object(
  {
    address: t.String({ minLength: 1, maxLength: 253, description: "IPv4, IPv6 or host name" }),
    port: t.Integer({ minimum: 1, maximum: 65535 }),
    weight: t.Optional(t.Integer({ minimum: 0, maximum: 10_000, description: "share against the service's other instances (default 1; 0: no traffic)" })),
    tags: t.Optional(t.Array(t.String({ minLength: 1, maxLength: 256 }), { maxItems: 64 })),
    meta: t.Optional(t.Record(t.String({ minLength: 1, maxLength: 128 }), t.String({ maxLength: 512 }), { maxProperties: 64 })),
    ttl: duration('critical unless a heartbeat comes within this long, e.g. "10s" (at least 1s)'),
    deregisterAfter: duration('removed once critical by its TTL this long (default naming.deregisterAfterMs)'),
    check: t.Optional(
      t.Object(
        {
          http: t.Optional(t.String({ pattern: "^https?://", maxLength: 2048, description: "GET this URL" })),
          tcp: t.Optional(t.String({ minLength: 3, maxLength: 300, description: "connect to this host:port" })),
          interval: t.String({ description: 'e.g. "10s" (at least 100ms)' }),
          timeout: duration('default: the interval, at most 5m'),
          status: t.Optional(t.Integer({ minimum: 100, maximum: 599, description: "HTTP: the status that means healthy (default any 2xx)" })),
          body: t.Optional(t.String({ minLength: 1, maxLength: 1024, description: "HTTP: healthy only if the body contains this" })),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);

function durationField(raw: string | undefined, field: string, minMs: number, maxMs: number): number | undefined {
  if (raw === undefined) return undefined;
  const ms = parseDuration(raw);
  if (ms === null || ms < minMs || ms > maxMs) {
    throw new PluginError("INVALID_DURATION", `${field} must be a duration like "10s" between ${minMs} ms and ${maxMs} ms, got ${JSON.stringify(raw)}`, 400, { field });
  }
  return ms;
}

const HOST_NAME = /^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;

function checkOf(check: typeof registration.static.check): CheckSpec | undefined {
  if (!check) return undefined;
  if ((check.http === undefined) === (check.tcp === undefined)) throw new PluginError("INVALID_CHECK", "a check has exactly one of http (a URL) or tcp (host:port)", 400, { field: "body.check" });
  const intervalMs = durationField(check.interval, "body.check.interval", 100, 24 * 3_600_000)!;
  const timeoutMs = durationField(check.timeout, "body.check.timeout", 10, 300_000) ?? Math.min(intervalMs, 300_000);
  if (check.http !== undefined) {
    try {
      new URL(check.http);
    } catch {
      throw new PluginError("INVALID_CHECK", `check.http is not a URL: ${JSON.stringify(check.http)}`, 400, { field: "body.check.http" });
    }
    return { type: "http", url: check.http, intervalMs, timeoutMs, ...(check.status === undefined ? {} : { status: check.status }), ...(check.body === undefined ? {} : { body: check.body }) };
  }
  if (check.status !== undefined || check.body !== undefined) throw new PluginError("INVALID_CHECK", "status and body apply to an http check only", 400, { field: "body.check" });
  const tcp = check.tcp!;
  const cut = tcp.lastIndexOf(":");
  const port = Number(tcp.slice(cut + 1));
  if (cut < 1 || !Number.isInteger(port) || port < 1 || port > 65535) throw new PluginError("INVALID_CHECK", `check.tcp must be host:port, got ${JSON.stringify(tcp)}`, 400, { field: "body.check.tcp" });
  return { type: "tcp", address: tcp, intervalMs, timeoutMs };
}

/** An instance as the API shows it. */
export function present(i: Instance) {
  return {
    service: i.service,
    id: i.id,
    address: i.address,
    port: i.port,
    weight: i.weight,
    tags: i.tags,
    meta: i.meta,
    status: i.status,
    health: { ttl: i.ttlMs === null ? null : i.ttlStatus, check: i.check === null ? null : i.checkStatus, checkOutput: i.checkOutput },
    ttlMs: i.ttlMs,
    deregisterAfterMs: i.deregisterAfterMs,
    check: i.check,
    createIndex: i.createIndex,
    modifyIndex: i.modifyIndex,
  };
}

const candidate = (c: Candidate) => ({ ...present(c.instance), subset: c.subset, share: Number(c.share.toFixed(6)) });

export function namingRoutes(naming: NamingRuntime) {
  const memory = leaderMemory(naming);

  /** With `?index=N`, waits until `current()` passes N for a change matching `matches` (or the wait ends). */
  const block = async (matches: (service: string) => boolean, current: () => number, index: number | undefined, wait: string | undefined, request: Request) => {
    if (index === undefined) return;
    await waitForServiceChange(naming, matches, index, current, blockingWaitMs(wait), request.signal);
  };

  return new Elysia({ name: "naming-routes" })
    .get(
      "/services",
      async ({ query, set, request }) => {
        await block(() => true, () => naming.peek(catalogIndex), query.index, query.wait, request);
        const { value } = await naming.read(query.consistency ?? "linearizable", (db) => ({ services: listServices(db), changed: catalogIndex(db) }));
        set.headers["x-pontoon-index"] = String(value.changed);
        return { index: value.changed, services: value.services };
      },
      { query: t.Object({ consistency, ...blocking }), detail: { summary: "List the services that have instances, with their tags and counts" } },
    )
    .get(
      "/services/:service",
      async ({ params, query, set, request }) => {
        const { service } = params;
        await block((s) => s === service, () => naming.peek((db) => serviceIndex(db, service)), query.index, query.wait, request);
        const healthy = query.healthy !== undefined && query.healthy !== "false";
        const level = (query.consistency ?? "linearizable") as Consistency;
        const { value } = await naming.read(level, (db) => ({ instances: listInstances(db, service, healthy), ttl: serviceTtlRows(db, service), changed: serviceIndex(db, service) }));
        set.headers["x-pontoon-index"] = String(value.changed);
        // Heartbeats live in the leader's memory: only a read that confirmed this node leads can tell a countdown.
        const now = Date.now();
        const clocks = new Map(level === "stale" ? [] : value.ttl.map((row) => [row.id, ttlClock(row, memory, now)]));
        return { service, index: value.changed, instances: value.instances.map((i) => ({ ...present(i), ttlClock: clocks.get(i.id) ?? null })) };
      },
      {
        params: t.Object({ service: serviceParam }),
        query: t.Object({ healthy: t.Optional(t.String({ description: "present (or true): passing instances only" })), consistency, ...blocking }),
        detail: { summary: "List a service's instances (all, or healthy only); blocking with ?index" },
      },
    )
    .get(
      "/services/:service/instances/:id",
      async ({ params, query }) => {
        const { value } = await naming.read(query.consistency ?? "linearizable", (db) => getInstance(db, params.service, params.id));
        if (!value) throw new PluginError("INSTANCE_NOT_FOUND", `service ${params.service} has no instance ${JSON.stringify(params.id)}`, 404);
        return present(value);
      },
      { params: instanceParams, query: t.Object({ consistency }), detail: { summary: "Read one instance" } },
    )
    .put(
      "/services/:service/instances/:id",
      async ({ params, body }) => {
        if (isIP(body.address) === 0 && !HOST_NAME.test(body.address)) {
          throw new PluginError("INVALID_ADDRESS", `address must be an IPv4 or IPv6 address or a host name, got ${JSON.stringify(body.address)}`, 400, { field: "body.address" });
        }
        const ttlMs = durationField(body.ttl, "body.ttl", 1_000, 24 * 3_600_000);
        const deregisterAfterMs = durationField(body.deregisterAfter, "body.deregisterAfter", 1_000, 30 * 24 * 3_600_000);
        const check = checkOf(body.check);
        const { value } = await naming.write("register", {
          service: params.service,
          id: params.id,
          address: body.address,
          port: body.port,
          weight: body.weight ?? 1,
          tags: body.tags ?? [],
          meta: body.meta ?? {},
          ...(ttlMs === undefined ? {} : { ttlMs }),
          deregisterAfterMs: deregisterAfterMs ?? naming.config.deregisterAfterMs,
          ...(check === undefined ? {} : { check }),
        });
        return value;
      },
      { params: instanceParams, body: registration, detail: { summary: "Register or update an instance (a sign of life: its TTL starts again)" } },
    )
    .delete(
      "/services/:service/instances/:id",
      async ({ params }) => (await naming.write("deregister", { service: params.service, id: params.id })).value,
      { params: instanceParams, detail: { summary: "Deregister an instance" } },
    )
    .put(
      "/heartbeat/:service/:id",
      async ({ params }) => {
        // Confirms this node leads (under its lease) and has applied what it committed; forwarded here by followers.
        const { value: instance } = await naming.read("leader", (db) => getInstance(db, params.service, params.id));
        if (!instance) throw new PluginError("INSTANCE_NOT_FOUND", `service ${params.service} has no instance ${JSON.stringify(params.id)}; register it first`, 404);
        if (instance.ttlMs === null) throw new PluginError("NO_TTL", `instance ${params.id} of ${params.service} was registered without a ttl; register it with one to send heartbeats`, 400, { field: "ttl" });
        memory.heard(params.service, params.id, Date.now());
        // A critical instance comes back at the next sweep, without waiting for the TTL pass.
        if (instance.ttlStatus === "critical") memory.recovering = true;
        return { service: instance.service, id: instance.id, ttlMs: instance.ttlMs, status: instance.ttlStatus === "critical" ? "recovering" : instance.status };
      },
      { params: instanceParams, detail: { summary: "Heartbeat: the instance is alive (kept in the leader's memory, not replicated)" } },
    )
    .get(
      "/services/:service/rules",
      async ({ params, query }) => {
        const { value } = await naming.read(query.consistency ?? "linearizable", (db) => getRules(db, params.service));
        if (!value) throw new PluginError("RULES_NOT_FOUND", `service ${params.service} has no routing rules`, 404);
        return { service: params.service, ...value.rules, modifyIndex: value.modifyIndex };
      },
      { params: t.Object({ service: serviceParam }), query: t.Object({ consistency }), detail: { summary: "Read a service's routing rules" } },
    )
    .put(
      "/services/:service/rules",
      async ({ params, body }) => {
        const names = body.subsets.map((s) => s.name);
        const twice = names.find((n, i) => names.indexOf(n) !== i);
        if (twice !== undefined) throw new PluginError("INVALID_RULES", `subset name ${JSON.stringify(twice)} is used twice`, 400, { field: "body.subsets" });
        if (body.subsets.every((s) => s.weight === 0)) throw new PluginError("INVALID_RULES", "at least one subset needs a weight above 0", 400, { field: "body.subsets" });
        return (await naming.write("setRules", { service: params.service, rules: body })).value;
      },
      { params: t.Object({ service: serviceParam }), body: rulesSchema, detail: { summary: "Set a service's routing rules: subsets by tags/metadata with weights" } },
    )
    .delete(
      "/services/:service/rules",
      async ({ params }) => (await naming.write("deleteRules", { service: params.service })).value,
      { params: t.Object({ service: serviceParam }), detail: { summary: "Remove a service's routing rules" } },
    )
    .get(
      "/services/:service/resolve",
      async ({ params, query, set }) => {
        const { service } = params;
        if (query.pick === "hash" && query.key === undefined) throw new PluginError("MISSING_KEY", "pick=hash needs a key to hash, e.g. &key=user-42", 400, { field: "query.key" });
        const { value } = await naming.read(query.consistency ?? "linearizable", (db) => ({ healthy: listInstances(db, service, true), rules: getRules(db, service)?.rules ?? null, changed: serviceIndex(db, service) }));
        set.headers["x-pontoon-index"] = String(value.changed);
        const from = candidates(value.healthy, value.rules);
        const pick = query.pick ?? "all";
        if (pick === "all") return { service, index: value.changed, instances: from.map(candidate) };
        const chosen = pick === "random" ? pickRandom(from) : pickByHash(from, query.key!);
        if (!chosen) throw new PluginError("NO_HEALTHY_INSTANCE", `service ${service} has no healthy instance that its rules allow`, 404);
        return { service, index: value.changed, instance: candidate(chosen) };
      },
      {
        params: t.Object({ service: serviceParam }),
        query: t.Object({
          pick: t.Optional(t.Union([t.Literal("all"), t.Literal("random"), t.Literal("hash")], { description: "all (default): every healthy instance the rules allow, with its share; random: one, weighted; hash: one, by consistent hash of key" })),
          key: t.Optional(t.String({ minLength: 1, maxLength: 1024, description: "with pick=hash: the caller's key (a user id, a session)" })),
          consistency,
        }),
        detail: { summary: "Resolve a service through its routing rules: the healthy instances with their shares, or one picked" },
      },
    );
}
