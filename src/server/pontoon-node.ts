// One Pontoon node: the Raft node on its SQLite files and TCP transport, the
// plugin host as its state machine, and the HTTP API, started in the right
// order and stopped gracefully. main.ts only turns YAML into these options.

import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { createApi } from "../api/app.ts";
import { Metrics } from "../api/metrics.ts";
import type { AccessPolicy } from "../api/access.ts";
import { bearerHeader } from "../api/auth.ts";
import { peerHttp } from "../api/peer-http.ts";
import type { TlsMaterial } from "../config/tls-files.ts";
import { ClientLimits, type LimitSettings } from "../api/client-limits.ts";
import { consulCompat } from "../api/consul-compat.ts";
import { ApiError } from "../api/errors.ts";
import { frontDoor } from "../api/front-door.ts";
import { pluginRuntime } from "../fsm/plugin-runtime.ts";
import { currentRequestTimeout } from "../api/request-context.ts";
import { PluginHost, type HostedPlugin } from "../fsm/plugin-host.ts";
import { Proposer } from "../fsm/proposer.ts";
import type { NodeService } from "../fsm/sdk.ts";
import type { Logger } from "../raft/logger.ts";
import { RaftNode } from "../raft/node.ts";
import { FileSnapshotStore } from "../storage/file-snapshot-store.ts";
import { openSqliteStorage } from "../storage/sqlite-storage.ts";
import { formatAddress } from "../transport/address.ts";
import { TcpTransport } from "../transport/tcp-transport.ts";
import { refuseIfMarked } from "../storage/corrupt-marker.ts";
import { CorruptionCheck } from "./corruption-check.ts";
import { MemberRegistry } from "./member-registry.ts";
import { PeerWatch } from "./peer-watch.ts";
import { joinCluster, type PeerSpec } from "./startup.ts";

export interface PontoonNodeOptions {
  id: string;
  dataDir: string;
  http: { host: string; port: number; advertise: string; maxBodyBytes: number };
  raft: { host: string; port: number; advertise: string; tickMs: number; electionTicks: number; heartbeatTicks: number };
  cluster: { peers?: PeerSpec[]; join?: string; joinAsVoter: boolean; joinRetry: { initialMs: number; maxMs: number } };
  snapshot: { threshold: number; intervalMs: number; retain: number; trailingLogs: number };
  /** How often the leader starts a corruption check (corruptionCheck.interval); 0: only when asked. */
  corruptionCheckIntervalMs?: number;
  plugins: HostedPlugin[];
  /** Tokens, roles and the join secret; read per request (reloads live). */
  access: () => AccessPolicy;
  /** Per-client request rate and open watches; read per request (reloads live). */
  limits: () => LimitSettings;
  logger: Logger & { child?(component: string): Logger };
  /** Default deadline of a request, ms. */
  requestTimeoutMs?: number;
  /** TLS for HTTP, Raft and node-to-node calls (tls: in the YAML); absent: plain TCP. */
  tls?: TlsMaterial;
  /** Serve Consul's KV API on this port too (compat.consul.port); 0 or absent: off. */
  consulPort?: number;
  version?: string;
}

export class PontoonNode {
  private server: ReturnType<typeof Bun.serve> | undefined;
  private consulServer: ReturnType<typeof Bun.serve> | undefined;
  private stopping: Promise<void> | undefined;
  private readonly fatalListeners = new Set<(error: unknown) => void>();
  private readonly timers: ReturnType<typeof setInterval>[] = [];
  private readonly services: { name: string; service: NodeService }[] = [];
  private corruptionCheck: CorruptionCheck | undefined;

  private constructor(
    readonly options: PontoonNodeOptions,
    readonly raft: RaftNode,
    readonly host: PluginHost,
    readonly proposer: Proposer,
    private readonly registry: MemberRegistry,
    private readonly peerWatch: PeerWatch,
    private readonly logger: Logger,
  ) {}

  /** The HTTP address actually bound (port 0 resolved). */
  get httpAddress(): string {
    return formatAddress(this.options.http.host, this.server?.port ?? this.options.http.port);
  }

  static async start(options: PontoonNodeOptions): Promise<PontoonNode> {
    const logger = options.logger;
    // The cluster token: what this node sends other nodes.
    const clusterToken = (): string | undefined => options.access().settings.token;
    const peers = peerHttp(options.tls);
    const tls = options.tls ? { cert: options.tls.cert, key: options.tls.key, ...(options.tls.ca === undefined ? {} : { ca: options.tls.ca }) } : undefined;
    const child = (name: string): Logger => options.logger.child?.(name) ?? logger;
    mkdirSync(options.dataDir, { recursive: true });
    // A node that found its state differs from the cluster's stays down until it is rebuilt.
    refuseIfMarked(options.dataDir);
    const host = new PluginHost(join(options.dataDir, "fsm.db"), options.plugins, child("fsm"));
    let raft: RaftNode;
    try {
      const storage = openSqliteStorage(join(options.dataDir, "raft.db"));
      const transport = new TcpTransport({
        host: options.raft.host,
        port: options.raft.port,
        advertise: options.raft.advertise,
        logger: child("transport"),
        ...(options.tls ? { tls: options.tls } : {}),
      });
      raft = await RaftNode.open({
        id: options.id,
        storage,
        snapshots: new FileSnapshotStore(join(options.dataDir, "snapshots"), {
          retain: options.snapshot.retain,
          // Refuse, not skip: falling back to an older snapshot that the
          // compacted log does not continue would discard the log.
          onCorrupt: (_file, error) => {
            throw error;
          },
        }),
        transport,
        fsm: host,
        tickMs: options.raft.tickMs,
        electionTicks: options.raft.electionTicks,
        heartbeatTicks: options.raft.heartbeatTicks,
        snapshotThreshold: options.snapshot.threshold,
        snapshotIntervalMs: options.snapshot.intervalMs,
        trailingLogs: options.snapshot.trailingLogs,
        logger: child("raft"),
      });
    } catch (error) {
      host.close();
      throw error;
    }
    const metrics = new Metrics();
    const proposer = new Proposer(host, raft, { timeoutMs: currentRequestTimeout, observeApply: (s) => metrics.observeApply(s) });
    const pluginNames = options.plugins.map((p) => p.definition.name).sort();
    const registry = new MemberRegistry({ raft, proposer, id: options.id, http: options.http.advertise, plugins: pluginNames, peers: options.cluster.peers ?? [], token: clusterToken, logger: child("cluster"), peerHttp: peers });
    const peerWatch = new PeerWatch(raft, options.raft.electionTicks * options.raft.tickMs, child("cluster"));
    const node = new PontoonNode(options, raft, host, proposer, registry, peerWatch, logger);
    node.corruptionCheck = new CorruptionCheck({
      id: options.id,
      dataDir: options.dataDir,
      fsmFile: join(options.dataDir, "fsm.db"),
      raft,
      host,
      proposer,
      logger: child("check"),
      ...(options.corruptionCheckIntervalMs === undefined ? {} : { intervalMs: options.corruptionCheckIntervalMs }),
      // Stop voting and serving at once; main logs the reason and exits non-zero.
      onCorrupt: (error) => {
        if (node.fatalListeners.size === 0) logger.error("this node's state differs from the cluster's; stopping", { error: error.message });
        for (const listener of node.fatalListeners) listener(error);
        void node.stop();
      },
    });
    raft.onStateChange((state) => {
      if (state === "Shutdown" && !node.stopping) {
        const error = new Error("the Raft node stopped on its own (see the error above)");
        for (const listener of node.fatalListeners) listener(error);
      }
    });

    const rootRouteOwners = new Map<string, string>();
    const app = createApi({
      node: raft,
      host,
      proposer,
      plugins: options.plugins,
      locator: { id: options.id, isLeader: () => raft.state() === "Leader", leader: () => registry.leaderHttp(), peerHttp: peers },
      metrics,
      logger: child("http"),
      timeoutMs: options.requestTimeoutMs ?? 10_000,
      version: options.version ?? "0.0.0",
      rootRouteOwners,
    });
    const pluginOf = (path: string): string | undefined => {
      const owner = rootRouteOwners.get(path);
      if (owner) return owner;
      const name = /^\/v1\/([^/]+)/.exec(path)?.[1];
      return name !== undefined && pluginNames.includes(name) ? name : undefined;
    };
    try {
      node.server = Bun.serve({
        ...(tls ? { tls } : {}),
        hostname: options.http.host,
        port: options.http.port,
        // The API answers bodies over http.maxBodyBytes with a 413 in our error format; Bun's own
        // limit (which answers with an empty 413) only stops bodies far beyond that.
        maxRequestBodySize: options.http.maxBodyBytes * 4,
        fetch: frontDoor(app, {
          metrics,
          access: options.access,
          limits: new ClientLimits(options.limits),
          pluginOf,
          maxBodyBytes: options.http.maxBodyBytes,
          leaderElsewhere: () => (raft.state() === "Leader" ? null : (raft.leader()?.id ?? null)),
        }),
      });
    } catch (error) {
      await raft.shutdown();
      host.close();
      throw new Error(`cannot listen for HTTP on ${formatAddress(options.http.host, options.http.port)}: ${String((error as Error).message ?? error)}`);
    }
    logger.info("http api listening", { address: node.httpAddress, advertise: options.http.advertise, tls: options.tls ? (options.tls.mutual ? "on, peers mutual" : "on") : "off" });
    if (options.consulPort) {
      try {
        node.consulServer = Bun.serve({
          ...(tls ? { tls } : {}),
          hostname: options.http.host,
          port: options.consulPort,
          maxRequestBodySize: options.http.maxBodyBytes,
          fetch: consulCompat({
            kv: pluginRuntime("kv", host, proposer),
            ...(host.plugin("naming") ? { naming: pluginRuntime("naming", host, proposer) } : {}),
            isLeader: () => raft.state() === "Leader",
            leader: () => raft.leader(),
            peers: () => raft.getConfiguration().configuration.servers.filter((s) => s.suffrage === "voter").map((s) => s.address),
            leaderReadIndex: async () => {
              const leader = registry.leaderHttp();
              if (!leader?.http) throw new ApiError(503, "NO_LEADER", "no leader is known right now; retry shortly");
              const response = await peers.fetch(leader.http, "/v1/cluster/read-index", { headers: bearerHeader(clusterToken()), signal: AbortSignal.timeout(10_000) });
              if (!response.ok) throw new ApiError(503, "NO_LEADER", `the leader ${leader.id} could not confirm a read index (${response.status} ${(await response.text()).slice(0, 200)})`);
              return ((await response.json()) as { index: number }).index;
            },
            access: options.access,
          }),
        });
      } catch (error) {
        await node.server?.stop(true);
        await raft.shutdown();
        host.close();
        throw new Error(`cannot listen for the Consul-compatible API on ${formatAddress(options.http.host, options.consulPort)} (compat.consul.port): ${String((error as Error).message ?? error)}`);
      }
      logger.info("consul-compatible kv api listening", { address: formatAddress(options.http.host, node.consulServer.port ?? options.consulPort) });
    }

    await node.joinOrBootstrap();
    registry.start();
    peerWatch.start();
    node.corruptionCheck.start();
    node.startLeaderTasks(options.raft.electionTicks * options.raft.tickMs);
    try {
      await node.startNodeServices(child);
    } catch (error) {
      await node.stop();
      throw error;
    }
    return node;
  }

  /** Runs each plugin's leaderTask while this node leads, after a grace period from when it became leader. */
  private startLeaderTasks(electionMs: number): void {
    let leaderSince = this.raft.state() === "Leader" ? performance.now() : Infinity;
    this.raft.onStateChange((state) => {
      leaderSince = state === "Leader" ? performance.now() : Infinity;
    });
    for (const plugin of this.options.plugins) {
      const task = plugin.definition.leaderTask;
      if (!task) continue;
      const runtime = pluginRuntime(plugin.definition.name, this.host, this.proposer);
      const grace = task.graceMs ?? 2 * electionMs;
      let running = false;
      const timer = setInterval(() => {
        if (running || this.stopping || performance.now() - leaderSince < grace) return;
        running = true;
        task
          .run(runtime)
          .catch((error: unknown) => this.logger.warn("a plugin's leader task failed; it runs again shortly", { plugin: plugin.definition.name, error: String(error) }))
          .finally(() => (running = false));
      }, task.everyMs);
      this.timers.push(timer);
    }
  }

  /** Starts each plugin's nodeService; a service that cannot start fails the node's start with its message. */
  private async startNodeServices(child: (name: string) => Logger): Promise<void> {
    for (const plugin of this.options.plugins) {
      const start = plugin.definition.nodeService;
      if (!start) continue;
      const name = plugin.definition.name;
      const log = child(name);
      const service = await start(pluginRuntime(name, this.host, this.proposer), {
        nodeId: this.options.id,
        isLeader: () => this.raft.state() === "Leader",
        log: { info: (m, f) => log.info(m, f), warn: (m, f) => log.warn(m, f), error: (m, f) => log.error(m, f) },
      });
      this.services.push({ name, service });
    }
  }

  onFatal(listener: (error: unknown) => void): void {
    this.fatalListeners.add(listener);
  }

  /**
   * A node with state on disk resumes from it, whatever the YAML says. A new
   * node bootstraps with the shared peer list (every node writes the same
   * entry 1, so start-up order does not matter), joins through a member, or
   * bootstraps a cluster of one.
   */
  private async joinOrBootstrap(): Promise<void> {
    const { cluster, id } = this.options;
    const stats = this.raft.stats();
    if (stats.lastIndex > 0 || stats.term > 0 || stats.snapshotIndex > 0) {
      this.logger.info("resuming from disk", { term: stats.term, lastIndex: stats.lastIndex, appliedIndex: stats.appliedIndex, members: stats.configuration.servers.map((s) => s.id) });
      if (cluster.join) this.logger.info("ignoring cluster.join / RAFT_LEADER: this node already has cluster state");
      return;
    }
    if (cluster.peers && cluster.peers.length > 0) {
      this.logger.info("bootstrapping with the declared peers", { peers: cluster.peers.map((p) => p.id) });
      await this.raft.bootstrapCluster({ servers: cluster.peers.map((p) => ({ id: p.id, address: p.raft, suffrage: "voter" as const })) });
      return;
    }
    if (cluster.join) {
      await joinCluster({
        via: cluster.join,
        self: { id, raft: this.options.raft.advertise, http: this.options.http.advertise, voter: cluster.joinAsVoter, plugins: this.options.plugins.map((p) => p.definition.name).sort() },
        retry: cluster.joinRetry,
        token: this.options.access().settings.token,
        joinSecret: this.options.access().settings.joinSecret,
        peerHttp: peerHttp(this.options.tls),
        logger: this.logger,
        stopped: () => this.stopping !== undefined,
      });
      return;
    }
    this.logger.info("bootstrapping a new one-node cluster", { id, raft: this.options.raft.advertise });
    await this.raft.bootstrapCluster({ servers: [{ id, address: this.options.raft.advertise, suffrage: "voter" }] });
  }

  /** Stop accepting, finish in-flight requests, hand leadership over, flush, close. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.logger.info("shutting down");
      this.registry.stop();
      this.peerWatch.stop();
      this.corruptionCheck?.stop();
      for (const timer of this.timers) clearInterval(timer);
      for (const { name, service } of this.services.reverse()) {
        try {
          await service.stop();
        } catch (error) {
          this.logger.warn("a plugin's node service did not stop cleanly", { plugin: name, error: String(error) });
        }
      }
      await this.server?.stop(false);
      await this.consulServer?.stop(true);
      const voters = this.raft.getConfiguration().configuration.servers.filter((s) => s.suffrage === "voter" && s.id !== this.options.id);
      if (this.raft.state() === "Leader" && voters.length > 0) {
        try {
          const to = await this.raft.leadershipTransfer(undefined, { timeoutMs: 3_000 });
          this.logger.info("handed leadership over", { to: to.id });
        } catch (error) {
          this.logger.warn("could not hand leadership over before stopping", { error: String(error) });
        }
      }
      await this.raft.shutdown();
      this.host.close();
      this.logger.info("stopped cleanly");
    })();
    return this.stopping;
  }
}
