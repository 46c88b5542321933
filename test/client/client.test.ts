// The client SDK against real node processes: fail-over across endpoints,
// a watch that survives a leader kill without losing or repeating events,
// typed config with a cache file that lets an app start with the cluster
// down, and transactions.

import { Type } from "@sinclair/typebox";
import { afterEach, describe, expect, it } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, PontoonError, type WatchEvent, type WatchReset } from "../../src/client/index.ts";
import { ProcessCluster, waitUntil } from "../e2e/process-cluster.ts";

let cluster: ProcessCluster | undefined;
const dirs: string[] = [];
afterEach(async () => {
  await cluster?.shutdown();
  cluster = undefined;
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function peersCluster(n: number): Promise<ProcessCluster> {
  const c = new ProcessCluster();
  await c.startPeers(Array.from({ length: n }, (_, i) => `n${i + 1}`));
  return c;
}

const url = (c: ProcessCluster, id: string) => c.node(id).url;

describe("client: keys, values and transactions", () => {
  it("puts, gets, lists and deletes through any endpoint; a missing key is null; a failed cas says why", async () => {
    cluster = await peersCluster(3);
    const client = connect({ endpoints: ["n1", "n2", "n3"].map((id) => url(cluster!, id)) });
    const index = await client.put("app/name", "shop");
    expect(await client.get("app/name")).toEqual({ key: "app/name", value: "shop", createIndex: index, modifyIndex: index });
    expect(await client.get("app/missing")).toBeNull();
    await client.put("app/port", "8080");
    expect((await client.list("app/")).items.map((e) => e.key)).toEqual(["app/name", "app/port"]);
    const failed = await client.put("app/name", "other", { cas: 0 }).catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(PontoonError);
    expect((failed as PontoonError).code).toBe("CAS_FAILED");
    expect(((failed as PontoonError).details.current as { value: string }).value).toBe("shop");
    expect(await client.delete("app/port")).toMatchObject({ deleted: true });
    expect(await client.get("app/port")).toBeNull();
  }, 60_000);

  it("a transaction whose compare fails runs its failure branch and leaves every key untouched", async () => {
    cluster = await peersCluster(3);
    const client = connect({ endpoints: [url(cluster, "n2")] });
    const v = await client.put("t/a", "1");
    await client.put("t/b", "2");
    const before = await client.list("t/");
    const result = await client.txn({
      compare: [{ key: "t/a", modifyIndex: v + 100 }],
      success: [{ op: "put", key: "t/a", value: "changed" }, { op: "delete", key: "t/b" }],
      failure: [{ op: "get", key: "t/a" }],
    });
    expect(result.succeeded).toBe(false);
    expect(result.results).toEqual([{ op: "get", key: "t/a", entry: { key: "t/a", value: "1", createIndex: v, modifyIndex: v } }]);
    expect((await client.list("t/")).items).toEqual(before.items);
  }, 60_000);
});

describe("client: fail-over", () => {
  it("with three endpoints, keeps reading and writing when two of those nodes die (five-node cluster)", async () => {
    cluster = await peersCluster(5);
    const leader = await cluster.leader();
    // Three endpoints, two of which will die: the leader and one follower.
    const follower = ["n1", "n2", "n3", "n4", "n5"].find((id) => id !== leader)!;
    const survivor = ["n1", "n2", "n3", "n4", "n5"].find((id) => id !== leader && id !== follower)!;
    const client = connect({ endpoints: [leader, follower, survivor].map((id) => url(cluster!, id)), timeoutMs: 3_000, rounds: 10 });
    await client.put("f/before", "1");
    await cluster.kill(leader);
    await cluster.kill(follower);
    // A write that reached the survivor while it still forwarded to the dead
    // leader has an unknown outcome (as with etcd): the app reads to find out.
    // Nothing else may fail, and the writes after it must all succeed.
    let unknown = 0;
    for (let i = 0; i < 10; i++) {
      try {
        expect(await client.put(`f/after/${i}`, `${i}`)).toBeGreaterThan(0);
      } catch (error) {
        if (!(error instanceof PontoonError) || !error.outcomeUnknown || i > 0) throw error;
        unknown++;
      }
    }
    expect(unknown).toBeLessThanOrEqual(1);
    expect(await client.get("f/before")).toMatchObject({ value: "1" });
    expect((await client.list("f/after/")).items.length).toBeGreaterThanOrEqual(9);
    expect(await client.get("f/after/9")).toMatchObject({ value: "9" });
  }, 90_000);
});

describe("client: watch", () => {
  it("a watcher on a follower sees every acknowledged write of a burst, in order, once, across a leader kill", async () => {
    cluster = await peersCluster(3);
    const leader = await cluster.leader();
    const followers = ["n1", "n2", "n3"].filter((id) => id !== leader);
    // The watcher starts on a follower and may move to the other one; never to the leader, which dies.
    const watcher = connect({ endpoints: followers.map((id) => url(cluster!, id)) });
    const events: (WatchEvent | WatchReset)[] = [];
    const statuses: string[] = [];
    const watch = watcher.watch("burst/", (e) => void events.push(e), { onStatus: (s) => statuses.push(`${s.connected ? "up" : "down"} ${s.endpoint}`) });
    await waitUntil("the watch to connect", () => (statuses.length > 0 ? true : undefined));

    const writer = connect({ endpoints: ["n1", "n2", "n3"].map((id) => url(cluster!, id)), timeoutMs: 3_000, rounds: 10 });
    const acknowledged: { key: string; index: number }[] = [];
    const write = async (i: number) => {
      try {
        acknowledged.push({ key: `burst/${i}`, index: await writer.put(`burst/${i}`, `v${i}`) });
      } catch (error) {
        // An unknown outcome may or may not show up in the watch; nothing else may fail here.
        if (!(error instanceof PontoonError) || !error.outcomeUnknown) throw error;
      }
    };
    for (let i = 0; i < 40; i++) await write(i);
    await cluster.kill(leader);
    for (let i = 40; i < 80; i++) await write(i);

    const last = Math.max(...acknowledged.map((a) => a.index));
    await waitUntil("the watch to see the last acknowledged write", () => (watch.lastIndex >= last ? true : undefined), 20_000);
    watch.close();
    await watch.closed;

    const puts = events.filter((e): e is WatchEvent => e.type === "put");
    expect(events.filter((e) => e.type === "reset")).toEqual([]);
    // In log order, each change once.
    const indexes = puts.map((e) => e.index);
    expect(indexes).toEqual([...indexes].sort((a, b) => a - b));
    expect(new Set(indexes).size).toBe(indexes.length);
    // Every acknowledged write is there, at the index it was acknowledged with.
    const seen = new Map(puts.map((e) => [e.key, e.index]));
    for (const a of acknowledged) expect(`${a.key}@${seen.get(a.key)}`).toBe(`${a.key}@${a.index}`);
    expect(acknowledged.length).toBeGreaterThan(70);
  }, 90_000);
});

describe("client: config and its cache file", () => {
  it("parses JSON and YAML, checks the app's schema naming the field, and starts from the cache file with the cluster down, saying so", async () => {
    const dir = mkdtempSync(join(tmpdir(), "pontoon-client-"));
    dirs.push(dir);
    const cacheFile = join(dir, "cache", "pontoon.json");
    cluster = await peersCluster(3);
    const endpoints = ["n1", "n2", "n3"].map((id) => url(cluster!, id));
    const writer = connect({ endpoints });
    await writer.put("cfg/db", JSON.stringify({ url: "postgres://db/shop", pool: 5 }));
    await writer.put("cfg/yaml", "url: postgres://db/yaml\npool: 7\n");
    await writer.put("cfg/bad", "{ not json");

    const schema = Type.Object({ url: Type.String(), pool: Type.Integer({ minimum: 1 }) });
    const app = connect({ endpoints, cacheFile });
    const db = await app.config("cfg/db", { format: "json", schema });
    expect(db).toMatchObject({ value: { url: "postgres://db/shop", pool: 5 }, source: "cluster" });
    expect((await app.config("cfg/yaml", { format: "yaml", schema })).value).toEqual({ url: "postgres://db/yaml", pool: 7 });
    const wrongShape = await app.config("cfg/db", { format: "json", schema: Type.Object({ url: Type.String(), pool: Type.String() }) }).catch((e: unknown) => e);
    expect((wrongShape as PontoonError).code).toBe("INVALID_CONFIG");
    expect((wrongShape as PontoonError).message).toStartWith("cfg/db: pool: ");
    const badJson = await app.config("cfg/bad", { format: "json" }).catch((e: unknown) => e);
    expect((badJson as PontoonError).message).toStartWith("cfg/bad is not valid JSON");

    await cluster.shutdown();
    cluster = undefined;
    const warnings: string[] = [];
    const offline = connect({ endpoints, cacheFile, timeoutMs: 500, rounds: 1, onWarning: (w) => warnings.push(w) });
    const cached = await offline.config("cfg/db", { format: "json", schema });
    expect(cached).toEqual({ value: { url: "postgres://db/shop", pool: 5 }, modifyIndex: db.modifyIndex, source: "cache" });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(cacheFile);
    // A key never read has nothing cached: the failure is reported, not hidden.
    const never = await offline.config("cfg/never").catch((e: unknown) => e);
    expect((never as PontoonError).code).toBe("UNREACHABLE");
    // A damaged cache file is no cache, not a crash.
    writeFileSync(cacheFile, "{ damaged");
    const damaged = await connect({ endpoints, cacheFile, timeoutMs: 500, rounds: 1 }).config("cfg/db").catch((e: unknown) => e);
    expect((damaged as PontoonError).code).toBe("UNREACHABLE");
  }, 60_000);
});
