// Shared pieces of the lab-style scenario tests (lab-*.test.ts), modelled on
// the checker of the MIT 6.824 Raft lab (config.go): a state machine that
// reports every command it applies to one cluster-wide checker, which fails
// the test if two nodes ever apply different commands at the same index
// (State Machine Safety, §5.4.3) or one node applies out of index order;
// one(), which drives a command to agreement on at least N nodes; and helpers
// for concurrent clients, node isolation and message accounting.

import type { NodeId } from "../../../src/raft/core/types.ts";
import type { WireMessage } from "../../../src/transport/types.ts";
import type { CommittedCommand } from "../../../src/raft/fsm.ts";
import type { ApplyResult, RaftNode } from "../../../src/raft/node.ts";
import { LeadershipLostError, NotLeaderError, ShutdownError, TimeoutError, TransferInProgressError } from "../../../src/raft/errors.ts";
import type { MemoryNetwork } from "../../../src/transport/memory-transport.ts";
import { ListFSM, bytes, text, waitFor, type Cluster } from "../harness.ts";

/** The cluster-wide record of what was applied at each index, by any node, in any incarnation. */
export class Checker {
  readonly appliedAt = new Map<number, string>();
  readonly violations: string[] = [];

  /** The state-machine factory for ClusterOptions.fsm: a fresh CheckedFSM per node incarnation. */
  readonly fsm = (id: NodeId): CheckedFSM => new CheckedFSM(id, this);

  record(id: NodeId, index: number, command: string): void {
    const earlier = this.appliedAt.get(index);
    if (earlier === undefined) this.appliedAt.set(index, command);
    else if (earlier !== command) this.violations.push(`${id} applied ${command} at index ${index}, where another node applied ${earlier}`);
  }
}

/** A ListFSM that also remembers the log index of every command (kept in its snapshots) and reports to a Checker. */
export class CheckedFSM extends ListFSM {
  indexes: number[] = [];
  private readonly at = new Map<number, string>();
  private readonly where = new Map<string, number>();

  constructor(
    readonly id: NodeId,
    private readonly checker: Checker,
  ) {
    super();
  }

  override apply(entry: CommittedCommand): unknown {
    const command = text(entry.data);
    if (entry.index <= this.lastIndex) {
      this.checker.violations.push(`${this.id} applied index ${entry.index} after index ${this.lastIndex}`);
    }
    this.checker.record(this.id, entry.index, command);
    const response = super.apply(entry);
    this.indexes.push(entry.index);
    this.at.set(entry.index, command);
    this.where.set(command, entry.index);
    return response;
  }

  override snapshot(): Uint8Array {
    return bytes(JSON.stringify({ items: this.items, indexes: this.indexes, lastIndex: this.lastIndex }));
  }

  override restore(data: Uint8Array): void {
    const parsed = JSON.parse(text(data)) as { items: string[]; indexes: number[]; lastIndex: number };
    this.items = parsed.items;
    this.indexes = parsed.indexes;
    this.lastIndex = parsed.lastIndex;
    this.restores++;
    this.at.clear();
    this.where.clear();
    parsed.items.forEach((command, i) => {
      this.at.set(parsed.indexes[i]!, command);
      this.where.set(command, parsed.indexes[i]!);
    });
  }

  /** The command applied at `index`, if any. */
  commandAt(index: number): string | undefined {
    return this.at.get(index);
  }

  /** The index `command` was applied at, if it was. */
  indexOf(command: string): number | undefined {
    return this.where.get(command);
  }
}

export const checked = (c: Cluster, id: NodeId): CheckedFSM => c.fsm(id) as CheckedFSM;

/** The cluster's members other than `except`, in n1..nN order. */
export function others(c: Cluster, ...except: NodeId[]): NodeId[] {
  return [...c.members.keys()].filter((id) => !except.includes(id));
}

/** Proposes `commands` on `leader` without waiting; they are expected never to commit. Each promise resolves with the error. */
export function proposeDoomed(leader: RaftNode, commands: readonly string[]): Promise<unknown>[] {
  return commands.map((cmd) => leader.apply(bytes(cmd), { timeoutMs: 30_000 }).catch((e: unknown) => e));
}

/** How many live nodes have applied `command` at `index` (the lab's nCommitted). */
export function appliedCount(c: Cluster, index: number, command: string): number {
  return c.nodes().filter((n) => checked(c, n.id).commandAt(index) === command).length;
}

/** Errors after which a write's fate is unknown or it was refused: a client tries again. */
export function retryable(error: unknown): boolean {
  return (
    error instanceof NotLeaderError ||
    error instanceof LeadershipLostError ||
    error instanceof TimeoutError ||
    error instanceof ShutdownError ||
    error instanceof TransferInProgressError
  );
}

/**
 * The lab's cfg.one(): gets `command` committed and waits until at least
 * `expectedServers` live nodes applied it at the same index; returns that
 * index. After a write with an unknown outcome it finds a leader that has
 * passed a barrier first: by then the command is either applied on that
 * leader or can never commit (a later leader's log extends the barrier's), so
 * it is proposed again only when it is certainly lost and never lands twice.
 */
export async function one(c: Cluster, command: string, expectedServers: number, timeoutMs = 15_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    let leader: RaftNode;
    try {
      leader = await c.leader(Math.min(3_000, Math.max(1, deadline - Date.now())));
    } catch (error) {
      lastError = error;
      continue;
    }
    let index = checked(c, leader.id).indexOf(command);
    if (index === undefined) {
      try {
        index = (await leader.apply(bytes(command), { timeoutMs: Math.min(2_000, Math.max(1, deadline - Date.now())) })).index;
      } catch (error) {
        if (!retryable(error)) throw error;
        lastError = error;
        continue;
      }
    }
    const at = index;
    await waitFor(`${expectedServers} nodes to apply ${command} at index ${at}`, () => appliedCount(c, at, command) >= expectedServers, Math.max(1, deadline - Date.now()));
    return at;
  }
  throw new Error(`no agreement on ${command} within ${timeoutMs} ms (last error: ${String(lastError)})`);
}

/** An acknowledged write: the command, its log index, and its position in the leader's state machine. */
export interface Ack {
  command: string;
  index: number;
  position: number;
}

export function ackOf(command: string, r: ApplyResult): Ack {
  const response = r.response as { position: number; command: string };
  if (response.command !== command) throw new Error(`apply(${command}) answered for ${response.command}`);
  return { command, index: r.index, position: response.position };
}

/**
 * Clients writing unique commands to whichever live node leads, until
 * stopped. Only acknowledged writes are recorded; a failed one is not retried
 * (its fate is unknown), the next write gets a new command.
 */
export class Clients {
  readonly acked: Ack[] = [];
  private stopped = false;
  private readonly running: Promise<void>[] = [];

  constructor(
    private readonly c: Cluster,
    private readonly random: () => number,
    count: number,
    private readonly applyTimeoutMs = 500,
  ) {
    for (let i = 0; i < count; i++) this.running.push(this.client(`c${i}`));
  }

  private async client(name: string): Promise<void> {
    let seq = 0;
    while (!this.stopped) {
      const leaders = this.c.nodes().filter((n) => n.state() === "Leader");
      if (leaders.length === 0) {
        await Bun.sleep(5);
        continue;
      }
      const leader = leaders[Math.floor(this.random() * leaders.length)]!;
      const command = `${name}-${seq++}`;
      try {
        this.acked.push(ackOf(command, await leader.apply(bytes(command), { timeoutMs: this.applyTimeoutMs })));
      } catch (error) {
        if (!retryable(error)) throw error;
        await Bun.sleep(2);
      }
    }
  }

  /** Stops every client and waits for its last write to settle; rethrows an unexpected error. */
  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.running);
  }
}

/**
 * Asserts what every scenario ends with: every live node holds exactly the
 * same commands; each acknowledged write is there at the position and index
 * it was acknowledged with; nothing is there twice; the checker saw no two
 * nodes apply different commands at one index. Returns the common list.
 */
export async function expectConsistent(c: Cluster, checker: Checker, acked: readonly Ack[], timeoutMs = 10_000): Promise<string[]> {
  const items = await c.ensureSame(timeoutMs);
  const problems: string[] = [...checker.violations];
  for (const a of acked) {
    if (items[a.position - 1] !== a.command) problems.push(`acknowledged ${a.command} (position ${a.position}) is not there: found ${items[a.position - 1]}`);
    for (const n of c.nodes()) {
      const at = checked(c, n.id).commandAt(a.index);
      if (at !== a.command) problems.push(`${n.id} has ${at} at index ${a.index}, where ${a.command} was acknowledged`);
    }
  }
  if (new Set(items).size !== items.length) problems.push(`a command was applied twice: ${items.join(",")}`);
  if (problems.length > 0) throw new Error(`inconsistent cluster:\n  ${problems.slice(0, 20).join("\n  ")}`);
  return items;
}

/** Nodes cut off from everyone else (the lab's disconnect/connect), on top of the network's fault settings. */
export class Disconnections {
  readonly cut = new Set<NodeId>();

  constructor(private readonly network: MemoryNetwork) {}

  disconnect(id: NodeId): void {
    this.cut.add(id);
    this.network.isolate(id);
  }

  connect(id: NodeId): void {
    this.cut.delete(id);
    this.network.heal();
    for (const other of this.cut) this.network.isolate(other);
  }

  connectAll(): void {
    this.cut.clear();
    this.network.heal();
  }

  connected(id: NodeId): boolean {
    return !this.cut.has(id);
  }
}

export interface SentMessage {
  from: NodeId;
  to: NodeId;
  type: WireMessage["type"];
  /** appendResp only. */
  success?: boolean;
  /** append only: how many entries it carried. */
  entries?: number;
  /** voteResp only. */
  granted?: boolean;
  /** vote and voteResp only. */
  preVote?: boolean;
}

/**
 * A tap on a MemoryNetwork's router, wrapped in place: records every message
 * handed to the network (the network's own counters say how many of each
 * type; this says from whom, to whom, and whether an append was refused), and
 * can lose chosen messages before the network sees them, for scenarios that
 * need one particular message lost.
 */
export class NetworkTap {
  readonly sent: SentMessage[] = [];
  /** Messages for which this returns true are lost (recorded in `sent`, not in the network's counters). */
  drop: ((m: WireMessage) => boolean) | undefined;

  constructor(network: MemoryNetwork) {
    const route = network.route.bind(network);
    network.route = (from, to, m) => {
      this.sent.push({
        from: m.from,
        to: m.to,
        type: m.type,
        ...(m.type === "appendResp" ? { success: m.success } : {}),
        ...(m.type === "append" ? { entries: m.entries.length } : {}),
        ...(m.type === "voteResp" ? { granted: m.granted } : {}),
        ...(m.type === "vote" || m.type === "voteResp" ? { preVote: m.preVote } : {}),
      });
      if (this.drop?.(m)) return;
      route(from, to, m);
    };
  }
}

/** A random element of `items`. */
export function pick<T>(random: () => number, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)]!;
}

/** Sleeps a random time in [0, maxMs): the fault schedule's pacing, not a wait for a condition. */
export function jitter(random: () => number, maxMs: number): Promise<void> {
  return Bun.sleep(Math.floor(random() * maxMs));
}
