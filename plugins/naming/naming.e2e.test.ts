// The naming plugin on a 3-node cluster of real processes, used as a user
// would: curl-style HTTP on any node, heartbeats through followers, TTL
// expiry and removal, a leader failover that expires nothing, routing rules,
// the Consul catalog through the real `consul` npm client, DNS through `dig`
// and a tiny resolver, and active HTTP/TCP checks against servers the test runs.

import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import Consul from "consul";
import { ProcessCluster, freePort, waitUntil } from "../../test/e2e/process-cluster.ts";
import { TYPE, decodeResponse, encodeQuery } from "./dns-codec.ts";

let cluster: ProcessCluster;
const ids = ["n1", "n2", "n3"];
const consulPort = new Map<string, number>();
const dnsPort = new Map<string, number>();

beforeAll(async () => {
  cluster = new ProcessCluster();
  for (const id of ids) await cluster.define(id);
  for (const id of ids) {
    consulPort.set(id, await freePort());
    dnsPort.set(id, await freePort());
    const before = `plugins: [kv, naming]\nnaming:\n  sweepMs: 200\n  dns:\n    port: ${dnsPort.get(id)}\ncompat:\n  consul:\n    port: ${consulPort.get(id)}\n`;
    await cluster.start(id, {}, ["--config", cluster.peersFile(ids, { name: `${id}.yaml`, before })]);
  }
  await cluster.leader();
}, 60_000);
afterAll(async () => {
  await cluster.shutdown();
});

const url = (id: string, path: string) => `${cluster.node(id).url}/v1/naming${path}`;
async function call(id: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: any; headers: Headers }> {
  const response = await fetch(url(id, path), { method, headers: body === undefined ? {} : { "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: response.status, body: await response.json(), headers: response.headers };
}
const register = (id: string, service: string, instance: string, body: Record<string, unknown>) => call(id, "PUT", `/services/${service}/instances/${instance}`, body);
async function followers(): Promise<string[]> {
  const leader = await cluster.leader();
  return ids.filter((id) => id !== leader && cluster.node(id).proc);
}
const statuses = async (id: string, service: string) =>
  Object.fromEntries(((await call(id, "GET", `/services/${service}?consistency=stale`)).body.instances as { id: string; status: string }[]).map((i) => [i.id, i.status]));

describe("naming registry", () => {
  it("registers on a follower and every node lists it; bad input is a 400 naming the field", async () => {
    const [follower] = await followers();
    const created = await register(follower!, "web", "w1", { address: "10.0.0.1", port: 8080, tags: ["v1"], meta: { version: "v1" }, weight: 3 });
    expect(created.status).toBe(200);
    expect(created.body).toMatchObject({ created: true });
    for (const id of ids) {
      await waitUntil(`w1 on ${id}`, async () => ((await call(id, "GET", "/services/web?consistency=stale")).body.instances?.length === 1 ? true : undefined));
    }
    const one = await call("n1", "GET", "/services/web/instances/w1");
    expect(one.body).toMatchObject({ service: "web", id: "w1", address: "10.0.0.1", port: 8080, weight: 3, tags: ["v1"], meta: { version: "v1" }, status: "passing", createIndex: created.body.index });
    expect((await call("n2", "GET", "/services")).body.services).toContainEqual({ name: "web", instances: 1, passing: 1, tags: ["v1"] });

    const bad: [string, Record<string, unknown>, string][] = [
      ["/services/web/instances/w9", { address: "10.0.0.9", port: 70000 }, "port"],
      ["/services/web/instances/w9", { address: "not an address", port: 80 }, "body.address"],
      ["/services/web/instances/w9", { address: "10.0.0.9", port: 80, ttl: "soon" }, "body.ttl"],
      ["/services/web/instances/w9", { address: "10.0.0.9", port: 80, check: { http: "http://x/", tcp: "x:1", interval: "1s" } }, "body.check"],
      ["/services/web.v2/instances/w9", { address: "10.0.0.9", port: 80 }, "service"],
    ];
    for (const [path, body, field] of bad) {
      const answer = await call(follower!, "PUT", path, body);
      expect(answer.status).toBe(400);
      expect(answer.body.error.field).toContain(field);
    }
    const gone = await call(follower!, "DELETE", "/services/web/instances/w1");
    expect(gone.status).toBe(200);
    expect((await call(follower!, "DELETE", "/services/web/instances/w1")).status).toBe(404);
  }, 30_000);

  it("answers a blocking query as soon as the service's instances change", async () => {
    const first = await register("n1", "api", "a1", { address: "10.0.1.1", port: 80 });
    const index = first.body.index as number;
    const waiting = call("n2", "GET", `/services/api?index=${index}&wait=30s`);
    let answered = false;
    void waiting.then(() => (answered = true));
    await Bun.sleep(200);
    expect(answered).toBe(false);
    const second = await register("n3", "api", "a2", { address: "10.0.1.2", port: 80 });
    const result = await waiting;
    expect(result.body.index).toBe(second.body.index);
    expect(Number(result.headers.get("x-pontoon-index"))).toBe(second.body.index);
    expect(result.body.instances.map((i: { id: string }) => i.id)).toEqual(["a1", "a2"]);
    // Nothing changes: the wait runs out and the index is unchanged.
    const idle = await call("n1", "GET", `/services/api?index=${second.body.index}&wait=300ms`);
    expect(idle.body.index).toBe(second.body.index);
  }, 30_000);

  it("keeps an instance passing while it heartbeats through a follower, without a Raft entry per heartbeat; marks it critical when they stop, then removes it", async () => {
    const [follower] = await followers();
    await register(follower!, "ttl", "t1", { address: "10.0.2.1", port: 80, ttl: "1s", deregisterAfter: "1s" });
    const before = (await cluster.status(follower!)).commitIndex;
    for (let i = 0; i < 30; i++) {
      const beat = await call(follower!, "PUT", "/heartbeat/ttl/t1");
      expect(beat.status).toBe(200);
      await Bun.sleep(100);
    }
    expect((await statuses(follower!, "ttl")).t1).toBe("passing");
    // 30 heartbeats over 3 s, three TTLs: at most a few entries of other origin (membership records, say).
    expect((await cluster.status(follower!)).commitIndex - before).toBeLessThan(5);
    await waitUntil("t1 critical", async () => ((await statuses(follower!, "ttl")).t1 === "critical" ? true : undefined));
    const health = await call(follower!, "GET", "/services/ttl/instances/t1");
    expect(health.body.health).toMatchObject({ ttl: "critical" });
    expect((await call(follower!, "GET", "/services/ttl?healthy")).body.instances).toEqual([]);
    await waitUntil("t1 removed", async () => ((await call(follower!, "GET", "/services/ttl/instances/t1")).status === 404 ? true : undefined));
    const late = await call(follower!, "PUT", "/heartbeat/ttl/t1");
    expect(late.status).toBe(404);
    expect((await call(follower!, "PUT", "/heartbeat/web/nope")).body.error.code).toBe("INSTANCE_NOT_FOUND");
  }, 30_000);

  it("brings a critical instance back on its next heartbeat", async () => {
    await register("n1", "back", "b1", { address: "10.0.3.1", port: 80, ttl: "1s", deregisterAfter: "1m" });
    await waitUntil("b1 critical", async () => ((await statuses("n2", "back")).b1 === "critical" ? true : undefined));
    expect((await call("n3", "PUT", "/heartbeat/back/b1")).body.status).toBe("recovering");
    await waitUntil("b1 passing", async () => ((await statuses("n2", "back")).b1 === "passing" ? true : undefined));
  }, 30_000);
});

describe("naming routing", () => {
  it("resolves through canary rules: shares by subset and weight, a consistent pick by key, a weighted random pick", async () => {
    await register("n1", "shop", "v1a", { address: "10.0.4.1", port: 80, meta: { version: "v1" } });
    await register("n2", "shop", "v1b", { address: "10.0.4.2", port: 80, meta: { version: "v1" } });
    const last = await register("n3", "shop", "v2a", { address: "10.0.4.3", port: 80, meta: { version: "v2" }, tags: ["canary"] });
    expect(last.status).toBe(200);
    const rules = await call("n2", "PUT", "/services/shop/rules", { subsets: [{ name: "stable", meta: { version: "v1" }, weight: 90 }, { name: "canary", tags: ["canary"], weight: 10 }] });
    expect(rules.status).toBe(200);
    const all = await call("n3", "GET", "/services/shop/resolve");
    const shares = Object.fromEntries(all.body.instances.map((i: { id: string; share: number; subset: string }) => [i.id, [i.subset, i.share]]));
    expect(shares).toEqual({ v1a: ["stable", 0.45], v1b: ["stable", 0.45], v2a: ["canary", 0.1] });
    const byKey = await call("n1", "GET", "/services/shop/resolve?pick=hash&key=user-42");
    for (let i = 0; i < 5; i++) expect((await call("n2", "GET", "/services/shop/resolve?pick=hash&key=user-42")).body.instance.id).toBe(byKey.body.instance.id);
    const seen = new Set<string>();
    for (let i = 0; i < 200 && seen.size < 2; i++) seen.add((await call("n1", "GET", "/services/shop/resolve?pick=random")).body.instance.subset);
    expect([...seen].sort()).toEqual(["canary", "stable"]);
    const noKey = await call("n1", "GET", "/services/shop/resolve?pick=hash");
    expect(noKey.status).toBe(400);
    expect(noKey.body.error.field).toBe("query.key");
    const badRules = await call("n1", "PUT", "/services/shop/rules", { subsets: [{ name: "x", weight: -1 }] });
    expect(badRules.status).toBe(400);
    expect(badRules.body.error.field).toContain("weight");
    // The canary goes away: all traffic to the stable subset.
    await call("n1", "DELETE", "/services/shop/instances/v2a");
    const after = await call("n2", "GET", "/services/shop/resolve");
    expect(after.body.instances.map((i: { id: string; share: number }) => [i.id, i.share])).toEqual([["v1a", 0.5], ["v1b", 0.5]]);
    expect((await call("n2", "GET", "/services/shop/rules")).body.subsets).toHaveLength(2);
  }, 30_000);
});

describe("naming through Consul's API", () => {
  it("answers catalog services, catalog service and health service (?passing) as Consul does, with blocking queries", async () => {
    const [follower] = await followers();
    const consul = new Consul({ host: "127.0.0.1", port: consulPort.get(follower!)! });
    await register("n1", "db", "db1", { address: "10.0.5.1", port: 5432, tags: ["primary"], meta: { zone: "a" } });
    const last = await register("n1", "db", "db2", { address: "10.0.5.2", port: 5432, tags: ["replica"], ttl: "1s", deregisterAfter: "1h" });
    const services = (await consul.catalog.service.list()) as Record<string, string[]>;
    expect(services.db).toEqual(["primary", "replica"]);
    const nodes = (await consul.catalog.service.nodes("db")) as { ServiceID: string; ServiceName: string; ServiceAddress: string; ServicePort: number; ServiceTags: string[]; ServiceMeta: Record<string, string>; Address: string; Node: string }[];
    expect(nodes.map((n) => n.ServiceID)).toEqual(["db1", "db2"]);
    expect(nodes[0]).toMatchObject({ ServiceName: "db", ServiceAddress: "10.0.5.1", ServicePort: 5432, ServiceTags: ["primary"], ServiceMeta: { zone: "a" }, Address: "10.0.5.1", Node: "10.0.5.1" });
    expect(((await consul.catalog.service.nodes({ service: "db", tag: "replica" })) as { ServiceID: string }[]).map((n) => n.ServiceID)).toEqual(["db2"]);
    // db2 sends no heartbeat: it turns critical, and ?passing leaves it out.
    await waitUntil("db2 critical", async () => ((await statuses("n1", "db")).db2 === "critical" ? true : undefined));
    type Entry = { Service: { ID: string; Port: number }; Checks: { Status: string; CheckID: string }[] };
    const health = (await consul.health.service("db")) as Entry[];
    expect(health.map((e) => [e.Service.ID, e.Checks.map((c) => c.Status)])).toEqual([["db1", ["passing"]], ["db2", ["passing", "critical"]]]);
    expect(((await consul.health.service({ service: "db", passing: true })) as Entry[]).map((e) => e.Service.ID)).toEqual(["db1"]);
    // A blocking query answers once the service changes after the index.
    const head = await fetch(`http://127.0.0.1:${consulPort.get(follower!)}/v1/health/service/db`);
    const index = Number(head.headers.get("x-consul-index"));
    expect(index).toBeGreaterThanOrEqual(last.body.index);
    const waiting = consul.health.service({ service: "db", index: String(index), wait: "30s" } as never) as Promise<Entry[]>;
    await register("n3", "db", "db3", { address: "10.0.5.3", port: 5432 });
    expect((await waiting).map((e) => e.Service.ID)).toEqual(["db1", "db2", "db3"]);
    // The KV API on the same port still works.
    expect(await consul.kv.set("svc/db", "x")).toBe(true);
  }, 30_000);
});

/** One DNS question over UDP, the way a stub resolver asks it. */
async function resolve(port: number, name: string, type: number) {
  let reply!: (message: Uint8Array) => void;
  const answered = new Promise<Uint8Array>((r) => (reply = r));
  const socket = await Bun.udpSocket({ hostname: "127.0.0.1", socket: { data: (_s, data) => reply(new Uint8Array(data)) } });
  try {
    for (let attempt = 0; attempt < 5; attempt++) {
      socket.send(encodeQuery(0x1234, name, type), port, "127.0.0.1");
      const message = await Promise.race([answered, Bun.sleep(2_000).then(() => null)]);
      if (message) return decodeResponse(message);
    }
    throw new Error(`no DNS answer for ${name} from port ${port}`);
  } finally {
    socket.close();
  }
}

describe("naming over DNS", () => {
  it("answers A and SRV for <service>.service.<domain> with the healthy instances, on every node", async () => {
    await register("n1", "cache", "c1", { address: "10.0.6.1", port: 6379, weight: 5 });
    await register("n1", "cache", "c2", { address: "10.0.6.2", port: 6380, tags: ["replica"] });
    await register("n1", "cache", "c3", { address: "10.0.6.3", port: 6381, ttl: "1s", deregisterAfter: "1h" });
    await register("n1", "cache", "c6", { address: "fd00::6", port: 6382 });
    await waitUntil("c3 critical everywhere", async () => ((await Promise.all(ids.map((id) => statuses(id, "cache")))).every((s) => s.c3 === "critical") ? true : undefined));
    for (const id of ids) {
      const a = await resolve(dnsPort.get(id)!, "cache.service.pontoon", TYPE.A);
      expect(a.rcode).toBe(0);
      expect(a.authoritative).toBe(true);
      expect(a.answers.map((r) => r.data).sort()).toEqual(["10.0.6.1", "10.0.6.2"]);
    }
    const srv = await resolve(dnsPort.get("n2")!, "cache.service.pontoon", TYPE.SRV);
    expect(srv.answers.map((r) => r.data).sort()).toEqual(["1 1 6380 0a000602.addr.pontoon", "1 1 6382 fd000000000000000000000000000006.addr.pontoon", "1 5 6379 0a000601.addr.pontoon"]);
    expect(srv.additional.map((r) => r.data).sort()).toEqual(["10.0.6.1", "10.0.6.2", "fd00:0:0:0:0:0:0:6"]);
    expect((await resolve(dnsPort.get("n2")!, "cache.service.pontoon", TYPE.AAAA)).answers.map((r) => r.data)).toEqual(["fd00:0:0:0:0:0:0:6"]);
    expect((await resolve(dnsPort.get("n3")!, "replica.cache.service.pontoon", TYPE.A)).answers.map((r) => r.data)).toEqual(["10.0.6.2"]);
    expect((await resolve(dnsPort.get("n3")!, "missing.service.pontoon", TYPE.A)).rcode).toBe(3);
    expect((await resolve(dnsPort.get("n3")!, "example.com", TYPE.A)).rcode).toBe(5);
  }, 30_000);

  it("answers dig", async () => {
    if (!Bun.which("dig")) {
      console.warn("skipped: dig is not installed (Debian: apt-get install dnsutils)");
      return;
    }
    const dig = async (...args: string[]) => {
      const proc = Bun.spawn(["dig", "@127.0.0.1", "-p", String(dnsPort.get("n1")), "+short", "+tries=3", "+time=2", ...args], { stdout: "pipe", stderr: "pipe" });
      const out = await new Response(proc.stdout).text();
      expect(await proc.exited).toBe(0);
      return out.trim().split("\n").filter(Boolean).sort();
    };
    await register("n1", "dug", "d1", { address: "10.0.7.1", port: 9000 });
    await waitUntil("d1 on n1", async () => ((await statuses("n1", "dug")).d1 === "passing" ? true : undefined));
    expect(await dig("dug.service.pontoon", "A")).toEqual(["10.0.7.1"]);
    expect(await dig("dug.service.pontoon", "SRV")).toEqual(["1 1 9000 0a000701.addr.pontoon."]);
    expect(await dig("0a000701.addr.pontoon", "A")).toEqual(["10.0.7.1"]);
  }, 30_000);
});

describe("naming active health checks", () => {
  it("marks an instance critical when its HTTP check fails or its body does not match, and passing when it recovers; a TCP check to a closed port is critical", async () => {
    let healthy = true;
    const target = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response(healthy ? "status: ok" : "status: degraded", { status: healthy ? 200 : 503 }) });
    const closed = await freePort();
    try {
      await register("n2", "checked", "h1", { address: "127.0.0.1", port: target.port, check: { http: `http://127.0.0.1:${target.port}/health`, interval: "200ms", timeout: "1s", body: "ok" } });
      await register("n2", "checked", "t1", { address: "127.0.0.1", port: closed, check: { tcp: `127.0.0.1:${closed}`, interval: "200ms", timeout: "1s" } });
      await register("n2", "checked", "t2", { address: "127.0.0.1", port: target.port, check: { tcp: `127.0.0.1:${target.port}`, interval: "200ms", timeout: "1s" } });
      await waitUntil("t1 critical", async () => ((await statuses("n3", "checked")).t1 === "critical" ? true : undefined));
      const s = await statuses("n3", "checked");
      expect([s.h1, s.t2]).toEqual(["passing", "passing"]);
      healthy = false;
      await waitUntil("h1 critical", async () => ((await statuses("n3", "checked")).h1 === "critical" ? true : undefined));
      expect((await call("n3", "GET", "/services/checked/instances/h1")).body.health.checkOutput).toContain("503");
      healthy = true;
      await waitUntil("h1 passing", async () => ((await statuses("n3", "checked")).h1 === "passing" ? true : undefined));
    } finally {
      target.stop(true);
    }
  }, 30_000);
});

describe("naming across a leader failover", () => {
  // Last of the tests on the shared cluster: it leaves it with two nodes.
  it("expires no heartbeating instance when the leader is killed", async () => {
    const count = 5;
    for (let i = 0; i < count; i++) await register("n1", "steady", `s${i}`, { address: `10.0.8.${i}`, port: 80, ttl: "4s", deregisterAfter: "1h" });
    let beating = true;
    const beats = (async () => {
      while (beating) {
        // Any live node: followers forward to whoever leads; a failed beat is retried next round.
        const alive = ids.filter((id) => cluster.node(id).proc);
        for (let i = 0; i < count; i++) await call(alive[i % alive.length]!, "PUT", `/heartbeat/steady/s${i}`).catch(() => null);
        await Bun.sleep(250);
      }
    })();
    const critical = new Set<string>();
    const watch = async (id: string) => {
      for (const [instance, status] of Object.entries(await statuses(id, "steady").catch(() => ({})))) if (status !== "passing") critical.add(instance);
    };
    try {
      const leader = await cluster.leader();
      const survivor = ids.find((id) => id !== leader)!;
      await cluster.kill(leader);
      await cluster.leader(ids.filter((id) => id !== leader), 30_000);
      // Two TTLs under the new leader.
      const until = Date.now() + 8_000;
      while (Date.now() < until) {
        await watch(survivor);
        await Bun.sleep(200);
      }
      expect([...critical]).toEqual([]);
    } finally {
      beating = false;
      await beats;
    }
  }, 60_000);
});

describe("naming DNS start-up", () => {
  it("stops the node with a one-line reason naming naming.dns.port when the port is taken", async () => {
    const taken = await Bun.udpSocket({ hostname: "127.0.0.1", port: 0 });
    const solo = new ProcessCluster();
    try {
      const node = await solo.define("solo");
      const file = `${solo.root}/solo.yaml`;
      await Bun.write(file, `plugins: [kv, naming]\nnaming:\n  dns:\n    port: ${taken.port}\n`);
      const proc = Bun.spawn([process.execPath, "src/main.ts", "--config", file], { cwd: `${import.meta.dir}/../..`, env: { ...process.env, ...node.env }, stdout: "pipe", stderr: "pipe" });
      const code = await proc.exited;
      const stderr = await new Response(proc.stderr).text();
      expect(code).not.toBe(0);
      expect(stderr).toContain("naming.dns.port");
    } finally {
      taken.close();
      await solo.shutdown();
    }
  }, 30_000);
});
