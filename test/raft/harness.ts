// A cluster of real RaftNodes in one process (hashicorp/raft's testing.go):
// in-memory storage, snapshots and network, a list state machine, short
// ticks. Tests wait on conditions with bounded polling, never fixed sleeps.

import type { Configuration, NodeId } from "../../src/raft/core/types.ts";
import type { CommittedCommand, FSM } from "../../src/raft/fsm.ts";
import { silentLogger, type Logger } from "../../src/raft/logger.ts";
import { RaftNode, type RaftNodeOptions } from "../../src/raft/node.ts";
import { MemorySnapshotStore } from "../../src/storage/memory-snapshot-store.ts";
import { MemoryStorage } from "../../src/storage/memory-storage.ts";
import type { RaftStorage, SnapshotStore } from "../../src/storage/types.ts";
import { MemoryNetwork, type MemoryNetworkOptions } from "../../src/transport/memory-transport.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export const bytes = (s: string): Uint8Array => encoder.encode(s);
export const text = (b: Uint8Array): string => decoder.decode(b);

/** The harness's state machine: the commands applied, in order. apply() returns the command's position. */
export class ListFSM implements FSM {
  items: string[] = [];
  lastIndex = 0;
  restores = 0;

  apply(entry: CommittedCommand): unknown {
    const command = text(entry.data);
    if (command.startsWith("fail:")) throw new Error(`refused ${command}`);
    this.items.push(command);
    this.lastIndex = entry.index;
    return { position: this.items.length, command };
  }

  snapshot(): Uint8Array {
    return bytes(JSON.stringify({ items: this.items, lastIndex: this.lastIndex }));
  }

  restore(data: Uint8Array): void {
    const parsed = JSON.parse(text(data)) as { items: string[]; lastIndex: number };
    this.items = parsed.items;
    this.lastIndex = parsed.lastIndex;
    this.restores++;
  }
}

/** Polls `probe` until it returns something other than undefined/false, or fails after `timeoutMs`. */
export async function waitFor<T>(what: string, probe: () => T | undefined | false, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await Bun.sleep(5);
  }
}

/** A storage view whose close() does not close the underlying store, so a "crashed" node restarts on the same data. */
function durable(storage: RaftStorage): RaftStorage {
  let closed = false;
  const check = (): void => {
    if (closed) throw new Error("this incarnation's storage view is closed");
  };
  return {
    get log() {
      check();
      return storage.log;
    },
    get stable() {
      check();
      return storage.stable;
    },
    transaction: (fn) => {
      check();
      return storage.transaction(fn);
    },
    close: () => {
      closed = true;
    },
  };
}

export interface ClusterOptions
  extends Pick<RaftNodeOptions, "tickMs" | "electionTicks" | "heartbeatTicks" | "snapshotThreshold" | "snapshotIntervalMs" | "trailingLogs" | "timeoutMs"> {
  /** Faults and seed of the MemoryNetwork (default: a perfect network). */
  network?: MemoryNetworkOptions;
  /** Bootstrap every node with all of them as voters (default true). */
  bootstrap?: boolean;
  logger?: (id: NodeId) => Logger;
  /** Builds each node's storage once; default MemoryStorage (kept open across crash/restart). */
  storage?: (id: NodeId) => RaftStorage;
  /** Opens the node's storage at every (re)start instead, and lets the node close it (real files: a real reopen). */
  openStorage?: (id: NodeId) => RaftStorage;
  snapshots?: (id: NodeId) => SnapshotStore;
  fsm?: (id: NodeId) => FSM;
}

export interface Member {
  id: NodeId;
  address: string;
  /** null while crashed. */
  node: RaftNode | null;
  fsm: FSM;
  /** Kept across restarts; undefined with `openStorage`. */
  storage: RaftStorage | undefined;
  snapshots: SnapshotStore;
}

export class Cluster {
  /** Exposed so tests can change faults (setFaults), cut single links (disconnect) or read stats. */
  readonly network: MemoryNetwork;
  readonly members = new Map<NodeId, Member>();
  private seed = 1;

  private constructor(private readonly options: ClusterOptions) {
    this.network = new MemoryNetwork(options.network);
  }

  static async make(n: number, options: ClusterOptions = {}): Promise<Cluster> {
    const cluster = new Cluster(options);
    const ids = Array.from({ length: n }, (_, i) => `n${i + 1}`);
    for (const id of ids) await cluster.add(id);
    if (options.bootstrap ?? true) {
      const configuration: Configuration = { servers: ids.map((id) => ({ id, address: cluster.member(id).address, suffrage: "voter" })) };
      await Promise.all(ids.map((id) => cluster.node(id).bootstrapCluster(configuration)));
    }
    return cluster;
  }

  /** Starts a brand-new node that is in no configuration yet (to be added with addVoter/addNonvoter). */
  async add(id: NodeId): Promise<Member> {
    const m: Member = {
      id,
      address: `mem://${id}`,
      node: null,
      fsm: this.options.fsm?.(id) ?? new ListFSM(),
      storage: this.options.openStorage ? undefined : (this.options.storage?.(id) ?? new MemoryStorage()),
      snapshots: this.options.snapshots?.(id) ?? new MemorySnapshotStore(),
    };
    this.members.set(id, m);
    m.node = await this.open(m);
    return m;
  }

  private open(m: Member): Promise<RaftNode> {
    const o = this.options;
    const options: RaftNodeOptions = {
      id: m.id,
      storage: m.storage ? durable(m.storage) : this.options.openStorage!(m.id),
      snapshots: m.snapshots,
      transport: this.network.transport(m.address, m.id),
      fsm: m.fsm,
      tickMs: o.tickMs ?? 10,
      electionTicks: o.electionTicks ?? 10,
      heartbeatTicks: o.heartbeatTicks ?? 1,
      snapshotThreshold: o.snapshotThreshold ?? 8192,
      snapshotIntervalMs: o.snapshotIntervalMs ?? 60_000,
      trailingLogs: o.trailingLogs ?? 10_240,
      timeoutMs: o.timeoutMs ?? 5_000,
      logger: o.logger?.(m.id) ?? silentLogger,
      seed: this.seed++,
    };
    return RaftNode.open(options);
  }

  member(id: NodeId): Member {
    const m = this.members.get(id);
    if (!m) throw new Error(`no member ${id}`);
    return m;
  }

  node(id: NodeId): RaftNode {
    const n = this.member(id).node;
    if (!n) throw new Error(`${id} is crashed`);
    return n;
  }

  fsm(id: NodeId): ListFSM {
    return this.member(id).fsm as ListFSM;
  }

  /** Live nodes. */
  nodes(): RaftNode[] {
    return [...this.members.values()].flatMap((m) => (m.node ? [m.node] : []));
  }

  /**
   * Waits until exactly one live node (optionally among `among`) leads and
   * can serve: a barrier on it succeeded, so its no-op is committed and
   * applied and tests can call it at once.
   */
  async leader(timeoutMs = 5_000, among?: NodeId[]): Promise<RaftNode> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const left = deadline - Date.now();
      const l = await waitFor(
        "a single leader",
        () => {
          const leaders = this.nodes().filter((n) => (!among || among.includes(n.id)) && n.state() === "Leader");
          return leaders.length === 1 ? leaders[0] : undefined;
        },
        Math.max(left, 1),
      );
      try {
        await l.barrier({ timeoutMs: Math.max(1, Math.min(1_000, deadline - Date.now())) });
        if (l.state() === "Leader") return l;
      } catch (error) {
        if (Date.now() > deadline) throw error;
      }
    }
  }

  async followers(): Promise<RaftNode[]> {
    const l = await this.leader();
    return this.nodes().filter((n) => n !== l);
  }

  /** Splits the network in two: the given nodes on one side, everyone else on the other (replaces any earlier partition). */
  partition(...group: NodeId[]): void {
    this.network.partition([group]);
  }

  heal(): void {
    this.network.heal();
  }

  /** Waits until every live node (or the given ones) applied at least `index`. */
  waitForReplication(index: number, ids?: NodeId[], timeoutMs = 5_000): Promise<true> {
    return waitFor(
      `every node to apply index ${index}`,
      () => this.nodes().filter((n) => !ids || ids.includes(n.id)).every((n) => n.stats().appliedIndex >= index) || undefined,
      timeoutMs,
    );
  }

  /** Waits until every live node's state machine holds the same commands, and returns them. */
  ensureSame(timeoutMs = 5_000): Promise<string[]> {
    return waitFor(
      "every state machine to hold the same commands",
      () => {
        const lists = [...this.members.values()].filter((m) => m.node).map((m) => JSON.stringify((m.fsm as ListFSM).items));
        return lists.every((l) => l === lists[0]) ? (JSON.parse(lists[0]!) as string[]) : undefined;
      },
      timeoutMs,
    );
  }

  /** Stops a node abruptly (at a pass boundary); its storage and snapshots are kept for restart. */
  async crash(id: NodeId): Promise<void> {
    const m = this.member(id);
    const node = m.node;
    m.node = null;
    await node?.shutdown();
  }

  /** Starts a crashed node again on its storage and snapshots, with a fresh (empty) state machine unless `keepFsm`. */
  async restart(id: NodeId, keepFsm = false): Promise<RaftNode> {
    const m = this.member(id);
    if (m.node) throw new Error(`${id} is running`);
    if (!keepFsm) m.fsm = this.options.fsm?.(id) ?? new ListFSM();
    m.node = await this.open(m);
    return m.node;
  }

  async shutdown(): Promise<void> {
    await Promise.all(this.nodes().map((n) => n.shutdown()));
    for (const m of this.members.values()) {
      m.node = null;
      m.storage?.close();
    }
  }
}

export function makeCluster(n: number, options: ClusterOptions = {}): Promise<Cluster> {
  return Cluster.make(n, options);
}
