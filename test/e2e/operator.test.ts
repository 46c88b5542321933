// What an operator meets: start-up errors as one line and an exit code,
// clean shutdown, auth, and a node that was down through a log compaction.

import { afterEach, describe, expect, it } from "bun:test";
import { writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { ProcessCluster, freePort, waitUntil } from "./process-cluster.ts";

const ROOT = resolve(import.meta.dir, "../..");
let cluster: ProcessCluster;
afterEach(async () => {
  await cluster?.shutdown();
});

/** Runs a node that is expected to refuse to start; returns its exit code and stderr. */
async function refusedStart(env: Record<string, string>, args: string[] = []): Promise<{ code: number; stderr: string }> {
  const proc = Bun.spawn([process.execPath, "src/main.ts", ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdout: "pipe", stderr: "pipe" });
  const code = await proc.exited;
  return { code, stderr: await new Response(proc.stderr as ReadableStream).text() };
}

describe("Start-up errors", () => {
  it("bad config and bad environment values exit non-zero with one line naming the setting", async () => {
    cluster = new ProcessCluster();
    const dir = cluster.root;
    const write = (name: string, text: string) => {
      writeFileSync(join(dir, name), text);
      return join(dir, name);
    };
    const base = { RAFT_VOL_DIR: join(dir, "data"), SERVER_PORT: String(await freePort()), RAFT_PORT: String(await freePort()) };
    const cases: [string, Record<string, string>, string[], RegExp][] = [
      ["YAML syntax", {}, ["--config", write("syntax.yaml", "raft:\n  port: [1\n")], /syntax\.yaml:\d+:\d+: invalid YAML/],
      ["a wrong type", {}, ["--config", write("type.yaml", "raft:\n  port: high\n")], /raft\.port: .*type\.yaml/],
      ["an unknown setting", {}, ["--config", write("unknown.yaml", "raft:\n  prot: 1\n")], /raft\.prot: unknown setting/],
      ["an unknown section", {}, ["--config", write("section.yaml", "naming: {}\n")], /naming: unknown setting/],
      ["a bad log level", {}, ["--config", write("level.yaml", "log:\n  level: loud\n")], /log\.level: expected one of debug, info, warn, error/],
      ["an unknown plugin", {}, ["--config", write("plugin.yaml", "plugins: [kv, nope]\n")], /plugins\[1\].*no built-in plugin "nope"/],
      ["SERVER_PORT", { SERVER_PORT: "99999" }, [], /^pontoon: SERVER_PORT: expected a port number/],
      ["RAFT_PORT", { RAFT_PORT: "x" }, [], /^pontoon: RAFT_PORT: expected a port number/],
      ["RAFT_NODE_ID", { RAFT_NODE_ID: "no spaces" }, [], /^pontoon: RAFT_NODE_ID: expected a node id/],
      ["RAFT_LEADER", { RAFT_LEADER: "nohost" }, [], /^pontoon: RAFT_LEADER: expected the HTTP address of a cluster member, host:port/],
      ["RAFT_ADVERTISE", { RAFT_ADVERTISE: "1.2.3.4" }, [], /^pontoon: RAFT_ADVERTISE: expected host:port/],
      ["an unknown flag", {}, ["--confg", "x"], /unknown argument "--confg"/],
    ];
    for (const [name, env, args, expected] of cases) {
      const { code, stderr } = await refusedStart({ ...base, ...env }, args);
      expect(`${name}: exit ${code}`).toBe(`${name}: exit 2`);
      expect(stderr.trim().split("\n")).toHaveLength(1);
      expect(stderr).toMatch(expected);
    }
  }, 60_000);

  it("a port in use exits non-zero with a line saying so", async () => {
    cluster = new ProcessCluster();
    const busy = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    try {
      const { code, stderr } = await refusedStart({ RAFT_VOL_DIR: join(cluster.root, "d"), SERVER_PORT: String(busy.port), RAFT_PORT: String(await freePort()) });
      expect(code).not.toBe(0);
      expect(stderr).toMatch(/in use/);
    } finally {
      busy.stop(true);
    }
  }, 30_000);
});

describe("Running a node", () => {
  it("SIGTERM: a clean shutdown with exit code 0, and a restart keeps the data", async () => {
    cluster = new ProcessCluster();
    await cluster.define("n1");
    await cluster.start("n1");
    await cluster.leader(["n1"]);
    expect((await fetch(`${cluster.node("n1").url}/v1/kv/kept`, { method: "PUT", body: "yes" })).status).toBe(200);
    expect(await cluster.stop("n1")).toBe(0);
    expect(cluster.logs("n1")).toContain("stopped cleanly");
    await cluster.start("n1");
    await cluster.leader(["n1"]);
    const got = (await (await fetch(`${cluster.node("n1").url}/v1/kv/kept`)).json()) as { value: string };
    expect(got.value).toBe("yes");
    expect(cluster.logs("n1")).toContain("resuming from disk");
  }, 30_000);

  it("with PONTOON_TOKEN, every call but the health check needs the bearer token", async () => {
    cluster = new ProcessCluster();
    await cluster.define("n1", { PONTOON_TOKEN: "s3cret-token" });
    await cluster.start("n1");
    const url = cluster.node("n1").url;
    expect((await fetch(`${url}/v1/health`)).status).toBe(200);
    const denied = await fetch(`${url}/v1/kv/x`, { method: "PUT", body: "v" });
    expect(denied.status).toBe(401);
    expect(((await denied.json()) as { error: { code: string } }).error.code).toBe("UNAUTHORIZED");
    expect((await fetch(`${url}/v1/cluster`, { headers: { authorization: "Bearer wrong" } })).status).toBe(401);
    const auth = { authorization: "Bearer s3cret-token" };
    await waitUntil("a leader", async () => (((await (await fetch(`${url}/v1/cluster`, { headers: auth })).json()) as { state: string }).state === "Leader" ? true : undefined));
    expect((await fetch(`${url}/v1/kv/x`, { method: "PUT", body: "v", headers: auth })).status).toBe(200);
  }, 30_000);

  it("a node down while the log was compacted catches up by snapshot", async () => {
    cluster = new ProcessCluster();
    const ids = ["n1", "n2", "n3"];
    for (const id of ids) await cluster.define(id);
    const file = cluster.peersFile(ids, { name: "compact.yaml", before: "snapshot:\n  threshold: 50\n  interval: 200ms\n  trailingLogs: 5\n" });
    for (const id of ids) await cluster.start(id, {}, ["--config", file]);
    const leader = await cluster.leader();
    const down = ids.find((id) => id !== leader)!;
    await cluster.kill(down);
    const url = cluster.node(leader).url;
    for (let i = 0; i < 200; i++) expect((await fetch(`${url}/v1/kv/c/${i}`, { method: "PUT", body: String(i) })).status).toBe(200);
    await waitUntil("the leader to compact its log", async () => ((await cluster.status(leader)).snapshotIndex > 100 ? true : undefined));
    await cluster.start(down, {}, ["--config", file]);
    await waitUntil("the restarted node to catch up", async () => {
      const r = (await (await fetch(`${cluster.node(down).url}/v1/kv?prefix=c/&consistency=stale`)).json()) as { items: unknown[] };
      return r.items.length === 200 ? true : undefined;
    }, 20_000);
    expect((await cluster.status(down)).snapshotIndex).toBeGreaterThan(0);
  }, 60_000);
});
