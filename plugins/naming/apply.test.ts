// The naming plugin's apply on a real fsm.db: registrations, deregistration,
// the leader's health changes guarded by the instance's index, rules, and
// determinism (the same entries in different batches give identical state).

import { afterEach, beforeEach, describe, expect, it } from "bun:test";
import { entry, fsmDir, stateBytes } from "../../test/fsm/fixtures.ts";
import type { HostedPlugin } from "../../src/fsm/plugin-host.ts";
import type { PluginEvent } from "../../src/fsm/sdk.ts";
import naming from "./index.ts";
import { getInstance, listInstances, listServices, serviceIndex } from "./store.ts";

const hosted: HostedPlugin = { definition: naming, config: { deregisterAfterMs: 60_000, sweepMs: 500, dns: { port: 0, host: "127.0.0.1", domain: "pontoon", ttl: 5 } } };
const T = 1_700_000_000_000;
let tmp: ReturnType<typeof fsmDir>;
beforeEach(() => {
  tmp = fsmDir("naming");
});
afterEach(() => tmp.cleanup());

const register = (index: number, id: string, extra: Record<string, unknown> = {}, at = T) =>
  entry(index, "naming", "register", { service: "web", id, address: `10.0.0.${index}`, port: 80, weight: 1, tags: [], meta: {}, deregisterAfterMs: 60_000, ...extra }, 1, at);
const transitions = (index: number, changes: unknown[], at = T) => entry(index, "naming", "transitions", { changes }, 1, at);

describe("naming apply", () => {
  it("registers, updates and deregisters, announcing each change of the service", () => {
    const host = tmp.open("fsm.db", [hosted]);
    const events: PluginEvent[] = [];
    host.onEvents("naming", (e) => events.push(...e));
    const out = host.applyBatch([register(1, "a", { ttlMs: 10_000 }), register(2, "b"), register(3, "a", { port: 81 })]);
    expect(out.map((o) => (o as { value: { created: boolean } }).value.created)).toEqual([true, true, false]);
    const a = getInstance(host.database, "web", "a")!;
    expect(a).toMatchObject({ port: 81, createIndex: 1, modifyIndex: 3, ttlMs: null, status: "passing" });
    expect(host.applyBatch([entry(4, "naming", "deregister", { service: "web", id: "b" })])[0]).toEqual({ ok: true, value: { index: 4 } });
    expect(host.applyBatch([entry(5, "naming", "deregister", { service: "web", id: "b" })])[0]).toMatchObject({ ok: false, error: { code: "INSTANCE_NOT_FOUND", status: 404 } });
    expect(listServices(host.database)).toEqual([{ name: "web", instances: 1, passing: 1, tags: [] }]);
    expect(serviceIndex(host.database, "web")).toBe(4);
    expect(events.map((e) => e.index)).toEqual([1, 2, 3, 4]);
  });

  it("applies a health change only while the instance is still at the index it was decided on", () => {
    const host = tmp.open("fsm.db", [hosted]);
    host.applyBatch([register(1, "a", { ttlMs: 10_000 }), register(2, "b", { ttlMs: 10_000 })]);
    // b re-registered after the leader decided: its change is dropped.
    host.applyBatch([register(3, "b", { ttlMs: 10_000 })]);
    const out = host.applyBatch([transitions(4, [{ service: "web", id: "a", ifIndex: 1, ttl: "critical" }, { service: "web", id: "b", ifIndex: 2, ttl: "critical" }], T + 20_000)]);
    expect(out[0]).toEqual({ ok: true, value: { index: 4, applied: 1 } });
    expect(listInstances(host.database, "web", true).map((i) => i.id)).toEqual(["b"]);
    expect(getInstance(host.database, "web", "a")).toMatchObject({ status: "critical", ttlStatus: "critical", modifyIndex: 4 });
    host.applyBatch([transitions(5, [{ service: "web", id: "a", ifIndex: 4, check: { status: "critical", output: "GET /: 500" } }])]);
    host.applyBatch([transitions(6, [{ service: "web", id: "a", ifIndex: 5, ttl: "passing" }])]);
    // TTL and check combine: passing again by heartbeat, still critical by its check.
    expect(getInstance(host.database, "web", "a")).toMatchObject({ status: "critical", ttlStatus: "passing", checkStatus: "critical", checkOutput: "GET /: 500" });
    host.applyBatch([transitions(7, [{ service: "web", id: "a", ifIndex: 6, remove: true }])]);
    expect(getInstance(host.database, "web", "a")).toBeNull();
  });

  it("takes the restore's index for every instance, rule and service of a restored backup, and announces each service", () => {
    const source = tmp.open("source.db", [hosted]);
    source.applyBatch([register(1, "a"), register(2, "b"), entry(3, "naming", "setRules", { service: "web", rules: { subsets: [{ name: "all", weight: 1 }] } })]);
    const target = tmp.open("target.db", [hosted]);
    const events: PluginEvent[] = [];
    target.onEvents("naming", (e) => events.push(...e));
    target.applyBatch([entry(50, "_host", "restore", { image: source.snapshot() })]);
    expect(listInstances(target.database, "web").map((i) => [i.id, i.createIndex, i.modifyIndex])).toEqual([["a", 50, 50], ["b", 50, 50]]);
    expect(serviceIndex(target.database, "web")).toBe(50);
    expect(events).toEqual([{ index: 50, event: { service: "web" } }]);
  });

  it("is deterministic: the same entries in different batches give byte-identical state", () => {
    const entries = [
      register(1, "a", { ttlMs: 5_000, tags: ["v1"], meta: { version: "v1" } }),
      register(2, "b", { check: { type: "tcp", address: "10.0.0.2:80", intervalMs: 1_000, timeoutMs: 500 } }),
      entry(3, "naming", "setRules", { service: "web", rules: { subsets: [{ name: "v1", meta: { version: "v1" }, weight: 90 }, { name: "v2", tags: ["v2"], weight: 10 }] } }),
      transitions(4, [{ service: "web", id: "a", ifIndex: 1, ttl: "critical" }], T + 6_000),
      transitions(5, [{ service: "web", id: "b", ifIndex: 2, check: { status: "critical", output: "refused" } }], T + 6_100),
      entry(6, "naming", "deregister", { service: "web", id: "b" }),
    ];
    const one = tmp.open("one.db", [hosted]);
    one.applyBatch(entries);
    const two = tmp.open("two.db", [hosted]);
    for (const e of entries) two.applyBatch([e]);
    expect(stateBytes(two.database)).toEqual(stateBytes(one.database));
  });
});
