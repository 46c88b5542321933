// End to end, as an operator and an application would see it: real node
// processes started with CONTRACT.md's environment variables, real SQLite
// files, real TCP and HTTP on 127.0.0.1.

import { afterEach, describe, expect, it } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { ProcessCluster, waitUntil } from "./process-cluster.ts";
import { TcpProxy } from "./tcp-proxy.ts";

let cluster: ProcessCluster;
afterEach(async () => {
  await cluster?.shutdown();
});

// Every node runs with the default timings (50 ms ticks, 0.5-1 s election timeouts): what an operator runs.

async function put(url: string, key: string, value: string, query = ""): Promise<Response> {
  return fetch(`${url}/v1/kv/${key}${query}`, { method: "PUT", body: value });
}

async function get(url: string, key: string, consistency = "linearizable"): Promise<{ status: number; value?: string }> {
  const r = await fetch(`${url}/v1/kv/${key}?consistency=${consistency}`);
  if (r.status !== 200) return { status: r.status };
  return { status: 200, value: ((await r.json()) as { value: string }).value };
}

/** Starts n1 alone, then n2..nN joining through n1 (RAFT_LEADER), and waits for every member. */
async function joinedCluster(n: number, env: Record<string, string> = {}): Promise<ProcessCluster> {
  const c = new ProcessCluster();
  await c.define("n1", env);
  await c.start("n1");
  await c.leader(["n1"]);
  for (let i = 2; i <= n; i++) {
    await c.define(`n${i}`, { ...env, RAFT_LEADER: `127.0.0.1:${c.node("n1").httpPort}` });
    await c.start(`n${i}`);
  }
  await waitUntil(`${n} members`, async () => ((await c.status("n1")).members.length === n ? true : undefined));
  await c.leader();
  return c;
}

describe("Forming a cluster", () => {
  it("three nodes join through the first (RAFT_LEADER) and agree on a leader", async () => {
    cluster = await joinedCluster(3);
    const status = await cluster.status("n3");
    expect(status.members.map((m) => m.id).sort()).toEqual(["n1", "n2", "n3"]);
    expect(status.members.every((m) => m.voter)).toBe(true);
    // The HTTP addresses are replicated records, written after the members joined: n3 learns them shortly.
    await waitUntil("n3 to know every member's HTTP address", async () => ((await cluster!.status("n3")).members.every((m) => m.http) ? true : undefined), 10_000);
  }, 60_000);

  it("three nodes started with one shared cluster.peers list bootstrap together, in any order", async () => {
    cluster = new ProcessCluster();
    const ids = ["n1", "n2", "n3"];
    for (const id of ids) await cluster.define(id);
    const file = cluster.peersFile(ids);
    // Reverse order: start-up order must not matter.
    for (const id of [...ids].reverse()) await cluster.start(id, {}, ["--config", file]);
    const leader = await cluster.leader();
    expect(ids).toContain(leader);
    expect((await cluster.status("n2")).members).toHaveLength(3);
  }, 60_000);
});

describe("Reads and writes through any node", () => {
  it("a write through a follower is readable linearizably from another follower", async () => {
    cluster = await joinedCluster(3);
    const leader = await cluster.leader();
    const [f1, f2] = ["n1", "n2", "n3"].filter((id) => id !== leader) as [string, string];
    const w = await put(cluster.node(f1).url, "app/color", "blue");
    expect(w.status).toBe(200);
    expect(w.headers.get("x-pontoon-leader")).toBe(leader);
    expect(await get(cluster.node(f2).url, "app/color")).toEqual({ status: 200, value: "blue" });
    // The follower ran the route itself and sent the proposal over Raft, not a second HTTP request.
    const metrics = await (await fetch(`${cluster.node(f1).url}/metrics`)).text();
    expect(metrics).toContain('pontoon_http_requests_total{method="PUT",route="/v1/kv/*",status="200"} 1');
    expect(metrics).not.toContain('route="(forwarded)"');
  }, 60_000);

  it("SIGKILL of the leader: a new leader takes over, writes continue, no acknowledged write is lost; the killed node catches up on restart", async () => {
    cluster = await joinedCluster(3);
    const old = await cluster.leader();
    const acknowledged: string[] = [];
    for (let i = 0; i < 30; i++) {
      const r = await put(cluster.node(old).url, `k/${i}`, `v${i}`);
      if (r.status === 200) acknowledged.push(`k/${i}`);
    }
    await cluster.kill(old);
    const others = ["n1", "n2", "n3"].filter((id) => id !== old);
    const started = Date.now();
    const next = await cluster.leader(others);
    const failoverMs = Date.now() - started;
    expect(next).not.toBe(old);
    expect(failoverMs).toBeLessThan(10_000);
    for (let i = 30; i < 40; i++) {
      const r = await put(cluster.node(others[0]!).url, `k/${i}`, `v${i}`);
      expect(r.status).toBe(200);
      acknowledged.push(`k/${i}`);
    }
    for (const key of acknowledged) expect((await get(cluster.node(others[1]!).url, key)).status).toBe(200);
    await waitUntil("the new leader to log the dead peer", () => (cluster.logs(next).includes(`peer unreachable peer=${old}`) ? true : undefined));
    await cluster.start(old);
    await waitUntil("the new leader to log the peer's return", () => (cluster.logs(next).includes(`peer back peer=${old}`) ? true : undefined));
    await waitUntil("the restarted node to catch up", async () => {
      const items = (await (await fetch(`${cluster.node(old).url}/v1/kv?prefix=k/&consistency=stale`)).json()) as { items: unknown[] };
      return items.items.length === acknowledged.length ? true : undefined;
    });
  }, 90_000);

  it("after a partition, a stale read is possible only with consistency=stale", async () => {
    cluster = new ProcessCluster();
    for (const id of ["n1", "n2", "n3"]) await cluster.define(id);
    // n3's inbound Raft traffic passes through a proxy the test can cut.
    const proxy = new TcpProxy({ host: "127.0.0.1", port: cluster.node("n3").raftPort });
    proxy.start();
    try {
      const raftOf = (id: string) => (id === "n3" ? `127.0.0.1:${proxy.port}` : `127.0.0.1:${cluster.node(id).raftPort}`);
      const file = cluster.peersFile(["n1", "n2", "n3"], { raftOf });
      for (const id of ["n1", "n2", "n3"]) await cluster.start(id, id === "n3" ? { RAFT_ADVERTISE: raftOf("n3") } : {}, ["--config", file]);
      let leader = await cluster.leader();
      if (leader === "n3") {
        await fetch(`${cluster.node("n3").url}/v1/cluster/transfer-leadership`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ id: "n1" }) });
        leader = await cluster.leader();
      }
      expect((await put(cluster.node(leader).url, "flag", "old")).status).toBe(200);
      await waitUntil("n3 to apply the first value", async () => ((await get(cluster.node("n3").url, "flag", "stale")).value === "old" ? true : undefined));
      proxy.partition();
      expect((await put(cluster.node(leader).url, "flag", "new")).status).toBe(200);
      // n3 no longer hears the leader: what it has applied is stale.
      expect(await get(cluster.node("n3").url, "flag", "stale")).toEqual({ status: 200, value: "old" });
      // A linearizable read through n3 is either the new value (forwarded to the leader) or refused; never the old one.
      const linear = await get(cluster.node("n3").url, "flag", "linearizable");
      expect(linear.value === "new" || linear.status === 503).toBe(true);
      expect(linear.value).not.toBe("old");
      proxy.heal();
      await waitUntil("n3 to catch up after healing", async () => ((await get(cluster.node("n3").url, "flag", "stale")).value === "new" ? true : undefined), 20_000);
    } finally {
      proxy.stop();
    }
  }, 90_000);
});

describe("Operating the cluster", () => {
  it("transfers leadership, removes a member and adds a non-voter", async () => {
    cluster = await joinedCluster(3);
    const leader = await cluster.leader();
    const target = ["n1", "n2", "n3"].find((id) => id !== leader)!;
    const t = await fetch(`${cluster.node(leader).url}/v1/cluster/transfer-leadership`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ id: target }) });
    expect(t.status).toBe(200);
    expect(await cluster.leader()).toBe(target);

    const victim = ["n1", "n2", "n3"].find((id) => id !== target)!;
    const del = await fetch(`${cluster.node(victim).url}/v1/cluster/members/${victim}`, { method: "DELETE" });
    expect(del.status).toBe(200);
    await cluster.stop(victim);
    await waitUntil("two members", async () => ((await cluster.status(target)).members.length === 2 ? true : undefined));

    // A non-voter joins through a member, declared in its YAML.
    await cluster.define("n4");
    const file = join(cluster.root, "n4.yaml");
    writeFileSync(file, `cluster:\n  join: "127.0.0.1:${cluster.node(target).httpPort}"\n  joinAsVoter: false\n`);
    await cluster.start("n4", {}, ["--config", file]);
    await waitUntil("n4 in the configuration", async () => ((await cluster.status(target)).members.some((m) => m.id === "n4") ? true : undefined));
    expect((await put(cluster.node(target).url, "after/n4", "x")).status).toBe(200);
    await waitUntil("n4 to replicate", async () => ((await get(cluster.node("n4").url, "after/n4", "stale")).value === "x" ? true : undefined));
    const members = (await cluster.status(target)).members;
    expect(members.find((m) => m.id === "n4")?.voter).toBe(false);
  }, 90_000);
});
