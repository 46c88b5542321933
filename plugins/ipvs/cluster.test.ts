// The ipvs plugin on an in-process 3-node cluster (the SDK's test kit):
// every node reaches the same table, and the leader's health verdicts reach
// every node's desired kernel table.

import { afterEach, describe, expect, it } from "bun:test";
import { startPluginCluster, type PluginCluster } from "../../src/fsm/testing.ts";
import ipvs from "./index.ts";
import { desiredTable } from "./reconciler.ts";
import { formatSave } from "./save-format.ts";
import { listServices } from "./store.ts";

let cluster: PluginCluster;
let backend: ReturnType<typeof Bun.serve> | undefined;
afterEach(async () => {
  backend?.stop(true);
  await cluster?.stop();
});

const exported = (db: import("bun:sqlite").Database) => formatSave(listServices(db).map((service) => ({ service, servers: service.servers })));

describe("ipvs on three nodes", () => {
  it("a table written through a follower is the same on every node", async () => {
    cluster = await startPluginCluster(ipvs);
    const follower = cluster.follower();
    await follower.write("addService", { service: { protocol: "tcp", address: "10.0.0.1", port: 443, scheduler: "sh", flags: ["sh-port"] } });
    await follower.write("addServer", { serviceId: "tcp/10.0.0.1/443", server: { address: "10.0.0.2", weight: 3 } });
    const { index } = await follower.write("import", { replace: false, services: [{ service: { fwmark: 5, family: "inet6" }, servers: [{ address: "2001:db8::5", port: 0 }] }] });
    await cluster.applied(index);
    const tables = cluster.peekAll(exported);
    expect(tables[0]).toBe("-A -t 10.0.0.1:443 -s sh -b sh-port\n-a -t 10.0.0.1:443 -r 10.0.0.2:443 -g -w 3\n-A -f 5 -6 -s wlc\n-a -f 5 -6 -r [2001:db8::5]:0 -g -w 1\n");
    expect(new Set(tables).size).toBe(1);
  }, 30_000);

  it("the leader's health verdict gives every node's kernel weight 0, and the weight back", async () => {
    let up = true;
    backend = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response(null, { status: up ? 204 : 500 }) });
    cluster = await startPluginCluster(ipvs);
    await cluster.follower().write("addService", { service: { protocol: "tcp", address: "10.0.0.1", port: 80 } });
    const { index } = await cluster.follower().write("addServer", {
      serviceId: "tcp/10.0.0.1/80",
      server: { address: "127.0.0.1", port: backend.port, forwarding: "masq", weight: 8, check: { type: "http", status: 204, intervalMs: 100, timeoutMs: 100, fall: 1 } },
    });
    await cluster.applied(index);
    const kernelWeights = () => cluster.peekAll((db) => desiredTable(db)[0]!.servers[0]!.weight);
    const until = async (weight: number) => {
      const deadline = Date.now() + 15_000;
      while (!kernelWeights().every((w) => w === weight)) {
        if (Date.now() > deadline) throw new Error(`kernel weights ${kernelWeights()} never all became ${weight}`);
        await Bun.sleep(20);
      }
    };
    up = false;
    await until(0);
    expect(cluster.peekAll((db) => listServices(db)[0]!.servers[0]!.weight)).toEqual([8, 8, 8]);
    up = true;
    await until(8);
  }, 30_000);
});
