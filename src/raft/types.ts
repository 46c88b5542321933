// The types of RaftNode's API: how a node is configured, and what its calls
// and observers hand back. node.ts re-exports them.

import type { CoreOptions } from "./core/raft.ts";
import type { Configuration, NodeId, Role } from "./core/types.ts";
import type { FSM } from "./fsm.ts";
import type { Logger } from "./logger.ts";
import type { RaftStorage, SnapshotStore } from "../storage/types.ts";
import type { Transport } from "../transport/types.ts";

export interface RaftNodeOptions {
  id: NodeId;
  storage: RaftStorage;
  snapshots: SnapshotStore;
  transport: Transport;
  fsm: FSM;
  /** Length of one core tick in ms (default 50). Election timeouts and heartbeats are counted in ticks. */
  tickMs?: number;
  /** Election timeout in ticks; each timeout is random in [electionTicks, 2*electionTicks) (default 10). */
  electionTicks?: number;
  /** Leader heartbeat period in ticks (default 1). */
  heartbeatTicks?: number;
  /** Take a snapshot once this many entries were applied since the last one (default 8192). */
  snapshotThreshold?: number;
  /** How often to check snapshotThreshold, in ms, staggered up to 2x so nodes do not all snapshot at once (default 30 000). */
  snapshotIntervalMs?: number;
  /** Entries kept in the log behind a snapshot, so a follower slightly behind gets entries, not the snapshot (default 10 240). */
  trailingLogs?: number;
  /** Default timeout of the promise-returning calls, in ms; 0 waits forever (default 10 000). */
  timeoutMs?: number;
  logger?: Logger;
  /** Seed of the election-timeout generator (default: random). */
  seed?: number;
  /** Passed through to the core. */
  core?: Partial<Omit<CoreOptions, "id" | "random" | "electionTicks" | "heartbeatTicks">>;
}

export type NodeState = Role | "Shutdown";
export type { ApplyResult } from "./futures.ts";

export interface LeaderInfo {
  id: NodeId;
  address: string;
}

export interface CallOptions {
  timeoutMs?: number;
}

export interface NodeStats {
  id: NodeId;
  state: NodeState;
  term: number;
  leader: LeaderInfo | null;
  commitIndex: number;
  /** Last index the state machine applied (on this node). */
  appliedIndex: number;
  firstIndex: number;
  lastIndex: number;
  snapshotIndex: number;
  /** ms since the last contact with the leader (followers) or a quorum (leader). */
  lastContactMs: number;
  configuration: Configuration;
  configurationIndex: number;
  /** Replication progress of each peer; only on the leader. */
  peers: { id: NodeId; match: number; next: number; state: string; lastContactMs: number }[];
}
