// The Consul-compatible KV API (compat.consul.port) driven by the real
// `consul` npm client against a 3-node cluster: set, get, keys, delete, cas,
// flags, a recursive delete, a transaction, status, and a watch that sees a
// change. Every node serves it; followers answer reads after a ReadIndex.

import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import Consul from "consul";
import { ProcessCluster, freePort } from "./process-cluster.ts";

let cluster: ProcessCluster;
const compat = new Map<string, number>();

beforeAll(async () => {
  cluster = new ProcessCluster();
  const ids = ["n1", "n2", "n3"];
  for (const id of ids) await cluster.define(id);
  for (const id of ids) {
    compat.set(id, await freePort());
    // The port comes from the YAML; each node here needs its own, so each gets its own file.
    const own = cluster.peersFile(ids, { name: `${id}.yaml`, before: `compat:\n  consul:\n    port: ${compat.get(id)}\n` });
    await cluster.start(id, {}, ["--config", own]);
  }
  await cluster.leader();
}, 60_000);
afterAll(async () => {
  await cluster.shutdown();
});

const consulAt = (id: string) => new Consul({ host: "127.0.0.1", port: compat.get(id)! });

describe("Consul-compatible KV API", () => {
  it("set, get, keys, delete and cas through the consul client, on a follower and on the leader", async () => {
    const leader = await cluster.leader();
    const follower = ["n1", "n2", "n3"].find((id) => id !== leader)!;
    const consul = consulAt(follower);
    expect(await consul.kv.set("app/db/url", "postgres://db/shop")).toBe(true);
    expect(await consul.kv.set({ key: "app/db/pool", value: "5", flags: 42 })).toBe(true);
    const url = (await consul.kv.get("app/db/url")) as { Key: string; Value: string; ModifyIndex: number; Flags: number };
    expect(url).toMatchObject({ Key: "app/db/url", Value: "postgres://db/shop", Flags: 0 });
    expect(((await consulAt(leader).kv.get("app/db/pool")) as { Flags: number; Value: string })).toMatchObject({ Value: "5", Flags: 42 });
    expect(await consul.kv.keys("app/")).toEqual(["app/db/pool", "app/db/url"]);
    expect(await consul.kv.keys({ key: "app/", separator: "/" })).toEqual(["app/db/"]);
    expect(((await consul.kv.get({ key: "app/", recurse: true })) as { Key: string }[]).map((e) => e.Key)).toEqual(["app/db/pool", "app/db/url"]);
    // cas: only at the current ModifyIndex; 0 means only if absent. The API answers `false` to a
    // failed cas, as Consul does; this client turns that body into undefined.
    expect(await consul.kv.set({ key: "app/db/url", value: "x", cas: url.ModifyIndex + 1000 })).toBeFalsy();
    expect(((await consul.kv.get("app/db/url")) as { Value: string }).Value).toBe("postgres://db/shop");
    expect(await consul.kv.set({ key: "app/db/url", value: "postgres://db/v2", cas: url.ModifyIndex })).toBe(true);
    expect(await consul.kv.set({ key: "app/lock", value: "me", cas: 0 })).toBe(true);
    expect(await consul.kv.set({ key: "app/lock", value: "you", cas: 0 })).toBeFalsy();
    expect(((await consul.kv.get("app/lock")) as { Value: string }).Value).toBe("me");
    expect(await consul.kv.get("app/missing")).toBeUndefined();
    expect(await consul.kv.del("app/lock")).toBe(true);
    expect(await consul.kv.get("app/lock")).toBeUndefined();
    expect(await consul.kv.del({ key: "app/", recurse: true })).toBe(true);
    expect(await consul.kv.keys("app/").catch(() => [])).toEqual([]);
  }, 30_000);

  it("transactions apply all or nothing; status names the leader and the peers", async () => {
    const consul = consulAt("n1");
    const b64 = (s: string) => Buffer.from(s).toString("base64");
    const ok = (await consul.transaction.create(([
      { KV: { Verb: "set", Key: "t/a", Value: b64("1") } },
      { KV: { Verb: "check-not-exists", Key: "t/b" } },
      { KV: { Verb: "set", Key: "t/b", Value: b64("2") } },
    ] as never))) as { Results: { KV: { Key: string } }[] };
    expect(ok.Results.map((r) => r.KV.Key)).toEqual(["t/a", "t/b"]);
    const refused = await consul.transaction.create([{ KV: { Verb: "check-not-exists", Key: "t/a" } }, { KV: { Verb: "delete", Key: "t/b" } }] as never).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(Error);
    expect(((await consul.kv.get("t/b")) as { Value: string }).Value).toBe("2");
    // ?raw answers the bytes alone, with Consul's headers.
    const raw = await fetch(`http://127.0.0.1:${compat.get("n1")}/v1/kv/t/a?raw`);
    expect(await raw.text()).toBe("1");
    expect(Number(raw.headers.get("x-consul-index"))).toBeGreaterThan(0);
    expect(raw.headers.get("x-consul-knownleader")).toBe("true");
    const leader = await cluster.leader();
    expect(await consul.status.leader()).toBe(`127.0.0.1:${cluster.node(leader).raftPort}`);
    expect(((await consul.status.peers()) as string[]).sort()).toEqual(["n1", "n2", "n3"].map((id) => `127.0.0.1:${cluster.node(id).raftPort}`).sort());
  }, 30_000);

  it("a consul watch (blocking queries) sees a change made through another node", async () => {
    const consul = consulAt("n2");
    await consulAt("n1").kv.set("w/color", "blue");
    const watch = consul.watch({ method: consul.kv.get, options: { key: "w/color" } });
    const values: string[] = [];
    let first!: () => void;
    const started = new Promise<void>((resolve) => (first = resolve));
    const seen = new Promise<void>((resolve, reject) => {
      watch.on("change", (data: { Value?: string } | undefined) => {
        if (data?.Value) values.push(data.Value);
        first();
        if (data?.Value === "green") resolve();
      });
      watch.on("error", reject);
    });
    // The watch reports the current value first; the change is made after that, so it must block and wake.
    await started;
    await consulAt("n3").kv.set("w/color", "green");
    await Promise.race([seen, Bun.sleep(10_000).then(() => Promise.reject(new Error(`no change seen; saw ${values.join(", ")}`)))]);
    watch.end();
    expect(values[0]).toBe("blue");
    expect(values.at(-1)).toBe("green");
  }, 30_000);
});
