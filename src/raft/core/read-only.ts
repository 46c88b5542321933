// Reads that must not be stale, without writing to the log:
//  - ReadIndex (dissertation §6.4): note the commit index, confirm we are
//    still leader with one round of heartbeats acknowledged by a quorum, then
//    serve once the state machine has applied that index.
//  - Leader lease (§6.4.1): a quorum acknowledged a heartbeat sent at tick T;
//    none of them will vote for anyone else before T + electionTicks (leader
//    stickiness), so until then no other leader can exist.
// Acknowledgements are counted by sequence number: every heartbeat round gets
// a new one, and appends carry the current one.

import type { RaftCore } from "./raft.ts";
import { voters } from "./configuration.ts";
import { broadcastHeartbeat } from "./replication.ts";
import type { ReadState } from "./types.ts";

interface PendingRead {
  id: number;
  index: number;
  seq: number;
}

export class ReadOnly {
  /** Reads waiting for the leader to commit an entry of its own term. */
  private waiting: number[] = [];
  /** Reads waiting for a quorum to acknowledge `seq`. */
  private pending: PendingRead[] = [];
  private heartbeatNeeded = false;
  private readStates: ReadState[] = [];
  private failed: number[] = [];
  /** Tick at which each recent sequence number was first sent. */
  private seqTick = new Map<number, number>();
  /** A TimeoutNow went out this term: a successor may be elected at any moment, so no lease. */
  private handedOver = false;

  constructor(private readonly core: RaftCore) {}

  reset(): void {
    this.waiting = [];
    this.pending = [];
    this.heartbeatNeeded = false;
    this.seqTick.clear();
    this.seqTick.set(0, this.core.now);
    this.handedOver = false;
  }

  request(id: number): void {
    const core = this.core;
    if (!core.committedInTerm()) {
      // Until we commit in our term we do not know the true commit index (§6.4 step 1).
      this.waiting.push(id);
      return;
    }
    if (core.quorum() === 1 && core.isVoterNow(core.id)) {
      this.readStates.push({ id, index: core.commit });
      return;
    }
    this.pending.push({ id, index: core.commit, seq: core.seq + 1 });
    this.heartbeatNeeded = true;
  }

  /** Starts a heartbeat round: a new sequence number, remembered with the tick it left. */
  newRound(): void {
    this.core.seq++;
    this.seqTick.set(this.core.seq, this.core.now);
    this.heartbeatNeeded = false;
  }

  /** Called by ready(): one heartbeat round serves every read requested since the last. */
  flush(): void {
    if (this.heartbeatNeeded && this.core.role === "Leader") broadcastHeartbeat(this.core);
  }

  onCommit(): void {
    if (this.waiting.length === 0 || !this.core.committedInTerm()) return;
    const ids = this.waiting;
    this.waiting = [];
    for (const id of ids) this.request(id);
  }

  onAck(): void {
    if (this.pending.length > 0) {
      let confirmed = -1;
      for (let i = this.pending.length - 1; i >= 0; i--) {
        if (this.acked(this.pending[i]!.seq)) {
          confirmed = i;
          break;
        }
      }
      if (confirmed >= 0) {
        for (const r of this.pending.splice(0, confirmed + 1)) this.readStates.push({ id: r.id, index: r.index });
      }
    }
    this.pruneSeqTicks();
  }

  private acked(seq: number): boolean {
    const core = this.core;
    let count = 0;
    for (const id of voters(core.latestConfiguration())) {
      if (id === core.id || (core.progress.get(id)?.ackedSeq ?? 0) >= seq) count++;
    }
    return count >= core.quorum();
  }

  markHandedOver(): void {
    this.handedOver = true;
  }

  leaseValid(): boolean {
    const core = this.core;
    if (!core.settings.checkQuorum || this.handedOver || core.transferTarget !== null || !core.committedInTerm()) return false;
    const since = this.quorumTick((id) => this.seqTick.get(core.progress.get(id)?.ackedSeq ?? -1) ?? -Infinity);
    // A margin of a fifth of the timeout absorbs tick-rate differences between nodes.
    const leaseTicks = Math.max(1, Math.floor(core.settings.electionTicks * 0.8));
    return core.now - since < leaseTicks;
  }

  quorumRecentlyActive(): boolean {
    const core = this.core;
    let active = 0;
    for (const id of voters(core.latestConfiguration())) {
      if (id === core.id || core.progress.get(id)?.recentActive) active++;
    }
    return active >= core.quorum();
  }

  ticksSinceQuorumContact(): number {
    return this.core.now - this.quorumTick((id) => this.core.progress.get(id)?.lastContactTick ?? -Infinity);
  }

  /** The latest tick that a quorum of voters (counting ourselves as "now") has reached. */
  private quorumTick(tickOf: (id: string) => number): number {
    const core = this.core;
    const ticks = voters(core.latestConfiguration()).map((id) => (id === core.id ? core.now : tickOf(id)));
    ticks.sort((a, b) => b - a);
    return ticks[core.quorum() - 1] ?? -Infinity;
  }

  /** Ticks older than an election timeout can no longer hold a lease; forget them. */
  private pruneSeqTicks(): void {
    if (this.seqTick.size < 256) return;
    const horizon = this.core.now - this.core.settings.electionTicks;
    for (const [seq, tick] of this.seqTick) if (tick < horizon) this.seqTick.delete(seq);
  }

  failAll(): void {
    this.failed.push(...this.waiting, ...this.pending.map((r) => r.id));
    this.waiting = [];
    this.pending = [];
    this.heartbeatNeeded = false;
  }

  hasOutput(): boolean {
    return this.heartbeatNeeded || this.readStates.length > 0 || this.failed.length > 0;
  }

  takeReadStates(): ReadState[] {
    const out = this.readStates;
    this.readStates = [];
    return out;
  }

  takeFailed(): number[] {
    const out = this.failed;
    this.failed = [];
    return out;
  }
}
