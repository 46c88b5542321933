// What the API needs from the Raft node, declared here by the consumer so the
// API depends on a narrow interface, not on the node (RaftNode fits it; tests
// may pass a fake).

import type { Configuration, NodeId } from "../raft/core/types.ts";
import type { LeaderInfo, NodeState, NodeStats } from "../raft/node.ts";

export interface ClusterNode {
  readonly id: NodeId;
  state(): NodeState;
  leader(): LeaderInfo | null;
  stats(): NodeStats;
  getConfiguration(): { configuration: Configuration; index: number; committed: boolean };
  addVoter(id: NodeId, address: string, prevIndex?: number, timeoutMs?: number): Promise<{ index: number }>;
  addNonvoter(id: NodeId, address: string, prevIndex?: number, timeoutMs?: number): Promise<{ index: number }>;
  removeServer(id: NodeId, prevIndex?: number, timeoutMs?: number): Promise<{ index: number }>;
  leadershipTransfer(toId?: NodeId, options?: { timeoutMs?: number }): Promise<unknown>;
  snapshot(): Promise<unknown>;
  /** Leader only: resolves once everything in the leader's log when called is applied here. */
  barrier(options?: { timeoutMs?: number }): Promise<number>;
}
