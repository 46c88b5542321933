// The naming plugin on the SDK's in-process cluster (src/fsm/testing.ts),
// with snapshots every 20 entries: writes through a follower reach every
// node's tables identically, and the leader's TTL decision (made from its
// memory and clock) lands on every node as the same replicated change.

import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { startPluginCluster, type PluginCluster } from "../../src/fsm/testing.ts";
import naming from "./index.ts";
import { listInstances, listServices } from "./store.ts";

let cluster: PluginCluster;
beforeAll(async () => {
  cluster = await startPluginCluster(naming, { snapshotThreshold: 20, config: { naming: { sweepMs: 100 } } });
}, 30_000);
afterAll(async () => {
  await cluster.stop();
});

const instance = (service: string, id: string, extra: Record<string, unknown> = {}) => ({ service, id, address: "10.1.0.1", port: 80, weight: 1, tags: [], meta: {}, deregisterAfterMs: 3_600_000, ...extra });

describe("naming on three in-process nodes", () => {
  it("gives every node the same registry, across snapshots", async () => {
    let last = 0;
    for (let i = 0; i < 60; i++) last = (await cluster.follower().write("register", instance(`svc${i % 3}`, `i${i}`))).index;
    await cluster.follower().write("deregister", { service: "svc0", id: "i0" });
    last = (await cluster.follower().write("setRules", { service: "svc1", rules: { subsets: [{ name: "all", weight: 1 }] } })).index;
    await cluster.applied(last);
    const views = cluster.peekAll((db) => ({ services: listServices(db), svc0: listInstances(db, "svc0").map((i) => i.id) }));
    expect(views[0]!.services.map((s) => [s.name, s.instances])).toEqual([["svc0", 19], ["svc1", 20], ["svc2", 20]]);
    expect(views[1]).toEqual(views[0]!);
    expect(views[2]).toEqual(views[0]!);
  }, 30_000);

  it("replicates the leader's TTL decision to every node", async () => {
    const { index } = await cluster.follower().write("register", instance("ttl", "t1", { ttlMs: 1_000 }));
    await cluster.applied(index);
    const deadline = Date.now() + 20_000;
    let states: string[] = [];
    while (Date.now() < deadline) {
      states = cluster.peekAll((db) => listInstances(db, "ttl")[0]?.status ?? "gone");
      if (states.every((s) => s === "critical")) break;
      await Bun.sleep(50);
    }
    expect(states).toEqual(["critical", "critical", "critical"]);
  }, 30_000);
});
