// Real-server health checks end to end: the leader checks a real HTTP server
// on loopback; when it fails, every node's kernel (a fake ipvsadm each) gets
// weight 0 while the configured weight stays; when it recovers, the weight
// comes back everywhere.

import { afterEach, describe, expect, it } from "bun:test";
import { fakeBin, fakeKernel } from "./fake-ipvsadm-kit.ts";
import { ProcessCluster, waitUntil } from "./process-cluster.ts";

let cluster: ProcessCluster;
let backend: ReturnType<typeof Bun.serve> | undefined;
afterEach(async () => {
  backend?.stop(true);
  await cluster?.shutdown();
});

describe("ipvs health checks", () => {
  it("a failing real server's weight drops to 0 on every node's kernel, and comes back when it recovers", async () => {
    let healthy = true;
    backend = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => (healthy ? new Response("ready") : new Response("draining", { status: 503 })) });
    cluster = new ProcessCluster();
    const ids = ["n1", "n2", "n3"];
    const bin = fakeBin(cluster.root);
    const kernels = ids.map((id) => fakeKernel(cluster.root, id));
    for (const [i, id] of ids.entries()) await cluster.define(id, { PATH: `${bin}:${process.env.PATH}`, FAKE_IPVSADM_DIR: kernels[i]!.dir });
    const file = cluster.peersFile(ids, { before: "plugins: [kv, ipvs]\nipvs:\n  apply: true\n" });
    for (const id of ids) await cluster.start(id, {}, ["--config", file]);
    await cluster.leader();
    const url = cluster.node("n2").url;
    const post = (path: string, body: unknown) => fetch(`${url}/v1/ipvs${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    expect((await post("/services", { protocol: "tcp", address: "10.0.0.1", port: 80, scheduler: "wrr" })).status).toBe(200);
    const server = { address: "127.0.0.1", port: backend.port, forwarding: "masq", weight: 5, check: { type: "http", path: "/ready", body: "^ready$", intervalMs: 200, timeoutMs: 150, fall: 2, rise: 1 } };
    expect((await post("/services/tcp/10.0.0.1/80/servers", server)).status).toBe(200);

    const line = (weight: number) => `-a -t 10.0.0.1:80 -r 127.0.0.1:${backend!.port} -m -w ${weight}`;
    const everyKernelHas = (weight: number) =>
      waitUntil(`every node's kernel to give the server weight ${weight}`, () => (kernels.every((k) => k.lines().includes(line(weight))) ? true : undefined), 20_000);
    await everyKernelHas(5);

    healthy = false;
    await everyKernelHas(0);
    const read = (await (await fetch(`${cluster.node("n3").url}/v1/ipvs/services/tcp/10.0.0.1/80`)).json()) as { servers: { weight: number; healthy: boolean }[] };
    expect(read.servers[0]).toMatchObject({ weight: 5, healthy: false });
    // The export is the configured table, for another box to load.
    expect(await (await fetch(`${url}/v1/ipvs/export`)).text()).toContain(line(5));

    healthy = true;
    await everyKernelHas(5);
  }, 90_000);
});
