// The plugin test kit: a plugin on an in-process cluster of real nodes (Raft
// over TCP on loopback, SQLite files, HTTP), in one line, for a plugin's own
// tests (hashicorp/raft ships testing.go in the same spirit):
//
//   const cluster = await startPluginCluster(myPlugin);          // 3 nodes
//   const { index } = await cluster.follower().write("set", { name: "x", enabled: true });
//   await cluster.applied(index);                                 // on every node
//   expect(cluster.peekAll((db) => db.query("SELECT * FROM flags_flags").all())).toEqual([...]);
//   await cluster.stop();
//
// Each node also serves the HTTP API at `cluster.url(i)`, routes included.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AccessPolicy } from "../api/access.ts";
import { silentLogger, type Logger } from "../raft/logger.ts";
import { freePort } from "../transport/free-port.ts";
import { PontoonNode } from "../server/pontoon-node.ts";
import { configurePlugins } from "./plugin-loader.ts";
import { pluginRuntime } from "./plugin-runtime.ts";
import type { AnyPluginDefinition, Database, PluginRuntime } from "./sdk.ts";

export interface PluginClusterOptions {
  /** How many nodes (default 3). */
  nodes?: number;
  /** The YAML sections by plugin name (`{ flags: { maxFlags: 10 } }`); each plugin's defaults fill the rest. */
  config?: Record<string, unknown>;
  /** Snapshot after this many entries (default 8192); small values make a test exercise snapshots. */
  snapshotThreshold?: number;
  logger?: Logger;
}

export interface PluginCluster {
  readonly nodes: PontoonNode[];
  /** The plugin's runtime on node i (what its routes, leaderTask and nodeService get there). */
  runtime(i: number, plugin?: string): PluginRuntime<any, any, any>;
  /** The runtime on the leader, or on a node that is not the leader. */
  leader(plugin?: string): PluginRuntime<any, any, any>;
  follower(plugin?: string): PluginRuntime<any, any, any>;
  /** Node i's HTTP base URL, e.g. http://127.0.0.1:54321. */
  url(i: number): string;
  /** Resolves once every node has applied `index`. */
  applied(index: number, timeoutMs?: number): Promise<void>;
  /** Runs a query on every node's applied state: equal answers mean equal state. */
  peekAll<T>(query: (db: Database) => T, plugin?: string): T[];
  stop(): Promise<void>;
}

/** Starts `plugins` (one or a list; the first one is the default of the `plugin` arguments) on a fresh cluster and waits for its leader. */
export async function startPluginCluster(plugins: AnyPluginDefinition | AnyPluginDefinition[], options: PluginClusterOptions = {}): Promise<PluginCluster> {
  const definitions = Array.isArray(plugins) ? plugins : [plugins];
  const main = definitions[0]!.name;
  const count = options.nodes ?? 3;
  const dir = mkdtempSync(join(tmpdir(), "pontoon-plugin-test-"));
  const ports = await Promise.all(Array.from({ length: count * 2 }, () => freePort()));
  const peers = Array.from({ length: count }, (_, i) => ({ id: `n${i + 1}`, raft: `127.0.0.1:${ports[2 * i]}`, http: `127.0.0.1:${ports[2 * i + 1]}` }));
  const nodes: PontoonNode[] = [];
  try {
    const started = await Promise.all(
      peers.map((peer, i) =>
        PontoonNode.start({
          id: peer.id,
          dataDir: join(dir, peer.id),
          http: { host: "127.0.0.1", port: ports[2 * i + 1]!, advertise: peer.http, maxBodyBytes: 16 * 1024 * 1024 },
          // The production timing (elections after 0.5-1 s): three nodes share this process's event loop, and a busy
          // machine stalls it long enough for shorter timeouts to call elections mid-test.
          raft: { host: "127.0.0.1", port: ports[2 * i]!, advertise: peer.raft, tickMs: 50, electionTicks: 10, heartbeatTicks: 1 },
          cluster: { peers, joinAsVoter: true, joinRetry: { initialMs: 100, maxMs: 1000 } },
          snapshot: { threshold: options.snapshotThreshold ?? 8192, intervalMs: 200, retain: 2, trailingLogs: 10 },
          // A copy of the sections per node: a plugin may keep per-node state keyed by its config object.
          plugins: configurePlugins(definitions, structuredClone(options.config ?? {}), "(test)"),
          access: () => new AccessPolicy({ tokens: [] }),
          limits: () => ({ requestsPerSecond: 0, burst: 100, watchersPerClient: 0 }),
          logger: options.logger ?? silentLogger,
        }),
      ),
    );
    nodes.push(...started);
  } catch (error) {
    await Promise.all(nodes.map((n) => n.stop()));
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  const runtime = (i: number, plugin = main) => pluginRuntime(plugin, nodes[i]!.host, nodes[i]!.proposer);
  const leaderIndex = () => nodes.findIndex((n) => n.raft.state() === "Leader");
  await until("a leader that every node knows", () => leaderIndex() >= 0 && nodes.every((n) => n.raft.leader()?.id !== undefined), 10_000);
  return {
    nodes,
    runtime,
    leader: (plugin) => runtime(leaderIndex(), plugin),
    follower: (plugin) => runtime(nodes.findIndex((n) => n.raft.state() !== "Leader"), plugin),
    url: (i) => `http://${peers[i]!.http}`,
    applied: (index, timeoutMs = 10_000) => until(`every node to apply index ${index}`, () => nodes.every((n) => n.host.appliedIndex() >= index), timeoutMs),
    peekAll: (query, plugin) => nodes.map((_, i) => runtime(i, plugin).peek(query)),
    async stop() {
      await Promise.all(nodes.map((n) => n.stop()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function until(what: string, done: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await Bun.sleep(20);
  }
}
