// Role and leader changes, seen by comparing the core's status after each
// batch and tick with the last one: the observers registered with
// onStateChange/onLeaderChange, logging, and failing what only a leader can
// finish.

import type { CoreStatus, NodeId } from "./core/types.ts";
import type { Futures } from "./futures.ts";
import type { Logger } from "./logger.ts";
import type { LeaderInfo, NodeState } from "./types.ts";

export type Listener<T> = (value: T, previous: T) => void;

export class Observers {
  private readonly stateListeners = new Set<Listener<NodeState>>();
  private readonly leaderListeners = new Set<Listener<LeaderInfo | null>>();
  private lastState: NodeState = "Follower";
  private lastLeader: NodeId | null = null;
  private leaderTerm = 0;

  constructor(
    private readonly logger: Logger,
    private readonly futures: Futures,
    private readonly leaderInfo: (id: NodeId) => LeaderInfo,
  ) {}

  onStateChange(listener: Listener<NodeState>): () => void {
    this.stateListeners.add(listener);
    return () => this.stateListeners.delete(listener);
  }

  onLeaderChange(listener: Listener<LeaderInfo | null>): () => void {
    this.leaderListeners.add(listener);
    return () => this.leaderListeners.delete(listener);
  }

  observe(st: CoreStatus): void {
    const lostLeadership = this.lastState === "Leader" && (st.role !== "Leader" || st.term !== this.leaderTerm);
    if (lostLeadership) {
      this.logger.info("lost leadership", { term: this.leaderTerm, newTerm: st.term, leader: st.leader });
      this.futures.leadershipLost();
    }
    if (st.role === "Leader" && (this.lastState !== "Leader" || lostLeadership)) {
      this.leaderTerm = st.term;
      this.logger.info("became leader", { term: st.term, lastIndex: st.lastIndex });
    }
    if (st.role !== this.lastState) {
      const previous = this.lastState;
      this.lastState = st.role;
      this.emit(this.stateListeners, st.role, previous);
    }
    if (st.leader !== this.lastLeader) {
      const previous = this.lastLeader;
      this.lastLeader = st.leader;
      this.emit(this.leaderListeners, st.leader === null ? null : this.leaderInfo(st.leader), previous === null ? null : this.leaderInfo(previous));
    }
  }

  /** The node shut down, from role `previous`. */
  shutDown(previous: NodeState): void {
    this.emit(this.stateListeners, "Shutdown", previous);
  }

  private emit<T>(listeners: Set<Listener<T>>, value: T, previous: T): void {
    for (const listener of listeners) {
      try {
        listener(value, previous);
      } catch (error) {
        this.logger.warn("an observer threw", { error: String(error) });
      }
    }
  }
}
