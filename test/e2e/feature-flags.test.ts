// The example plugin (plugins/examples/feature-flags) loaded by path from the
// YAML, as plugins/README.md tells a developer to load theirs, on real node
// processes: replicated, the same answer on every node, and its state kept
// through a restart, a snapshot sent to a late joiner, and a backup restored
// into another cluster.

import { afterEach, describe, expect, it } from "bun:test";
import { symlinkSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { ProcessCluster, waitUntil } from "./process-cluster.ts";

const ROOT = resolve(import.meta.dir, "../..");
const clusters: ProcessCluster[] = [];
afterEach(async () => {
  await Promise.all(clusters.splice(0).map((c) => c.shutdown()));
});

const PLUGINS = "plugins: [kv, ./plugins/examples/feature-flags/index.ts]\n";

/** A cluster whose YAML files sit beside a `plugins` folder, so the relative path reads as it would in a checkout. */
function newCluster(): ProcessCluster {
  const cluster = new ProcessCluster();
  clusters.push(cluster);
  symlinkSync(join(ROOT, "plugins"), join(cluster.root, "plugins"));
  return cluster;
}

const put = (url: string, flag: string, body: unknown) => fetch(`${url}/v1/flags/${flag}`, { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
const get = async (url: string, path: string) => {
  const r = await fetch(`${url}/v1/flags${path}`);
  return { status: r.status, body: (await r.json()) as any };
};

describe("the feature-flags example plugin, loaded by path", () => {
  it("replicates, answers alike on every node, and keeps its state through restart, snapshot and backup", async () => {
    const cluster = newCluster();
    const ids = ["n1", "n2", "n3"];
    for (const id of ids) await cluster.define(id);
    const file = cluster.peersFile(ids, { before: `${PLUGINS}snapshot:\n  threshold: 30\n  interval: 200ms\n  trailingLogs: 5\n` });
    for (const id of ids) await cluster.start(id, {}, ["--config", file]);
    const leader = await cluster.leader();
    const [a, b] = ids.filter((id) => id !== leader).map((id) => cluster.node(id).url);

    const set = await put(a!, "new-checkout", { enabled: true, rollout: 30, description: "the new checkout page" });
    expect(set.status).toBe(200);
    const created = (await set.json()) as { version: number };
    expect(created).toMatchObject({ name: "new-checkout", enabled: true, rollout: 30 });
    expect((await get(b!, "/new-checkout")).body).toMatchObject({ enabled: true, rollout: 30, description: "the new checkout page" });

    // A user is in or out the same way on every node: 30% of them, give or take.
    const users = Array.from({ length: 200 }, (_, i) => `user-${i}`);
    const answers = await Promise.all(ids.map(async (id) => Promise.all(users.map(async (u) => (await get(cluster.node(id).url, `/new-checkout?user=${u}&consistency=stale`)).body.on as boolean))));
    expect(answers[1]).toEqual(answers[0]!);
    expect(answers[2]).toEqual(answers[0]!);
    const on = answers[0]!.filter(Boolean).length;
    expect(on).toBeGreaterThan(30);
    expect(on).toBeLessThan(90);

    // Errors are the plugin's and the schema's; the routes are in /openapi.
    expect((await put(a!, "Bad Name", { enabled: true })).status).toBe(400);
    expect((await put(a!, "x", { enabled: true, rollout: 101 })).status).toBe(400);
    expect((await get(a!, "/missing")).status).toBe(404);
    const openapi = (await (await fetch(`${a}/openapi`)).json()) as { paths: Record<string, unknown> };
    expect(Object.keys(openapi.paths)).toContain("/v1/flags/{name}");

    // Restart: a node stopped and started on its data directory has the flag.
    const restarted = ids.find((id) => id !== leader)!;
    expect(await cluster.stop(restarted)).toBe(0);
    await cluster.start(restarted, {}, ["--config", file]);
    expect((await get(cluster.node(restarted).url, "/new-checkout?consistency=stale")).body.rollout).toBe(30);
    await cluster.leader();

    // Snapshot: enough changes to compact the log past the first flag (trailingLogs 5), then a node that joins gets it in a snapshot.
    for (let i = 0; i < 40; i++) expect((await put(a!, `flag-${i}`, { enabled: i % 2 === 0 })).status).toBe(200);
    await waitUntil("the leader to compact its log", async () => ((await cluster.status(leader)).snapshotIndex > created.version + 5 ? true : undefined));
    await cluster.define("n4", { RAFT_LEADER: `127.0.0.1:${cluster.node(leader).httpPort}` });
    const lateFile = join(cluster.root, "late.yaml");
    writeFileSync(lateFile, PLUGINS);
    await cluster.start("n4", {}, ["--config", lateFile]);
    const late = cluster.node("n4").url;
    await waitUntil("the late node to hold every flag", async () => {
      const r = await fetch(`${late}/v1/flags/flag-39?consistency=stale`);
      return r.status === 200 ? true : undefined;
    }, 20_000);
    expect((await get(late, "/new-checkout?consistency=stale")).body.rollout).toBe(30);
    expect((await cluster.status("n4")).snapshotIndex).toBeGreaterThan(0);

    // Backup from this cluster, restored into a fresh one that runs the same plugins.
    const backup = new Uint8Array(await (await fetch(`${a}/v1/cluster/backup`)).arrayBuffer());
    const other = newCluster();
    await other.define("m1");
    const otherFile = join(other.root, "one.yaml");
    writeFileSync(otherFile, PLUGINS);
    await other.start("m1", {}, ["--config", otherFile]);
    await other.leader();
    const m1 = other.node("m1").url;
    expect((await fetch(`${m1}/v1/cluster/restore`, { method: "POST", body: backup })).status).toBe(200);
    expect((await get(m1, "/")).body).toHaveLength(41);
    expect((await get(m1, "/new-checkout")).body).toMatchObject({ enabled: true, rollout: 30 });
  }, 120_000);
});
