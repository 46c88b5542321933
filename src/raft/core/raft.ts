// RaftCore: the whole protocol as one deterministic state machine, driven by
// tick(), step(message) and the proposal calls, and drained with ready().
// No timers, sockets, clocks, promises or global randomness: the driver owns
// time and I/O. Elections, the leader's ticks, replication, membership
// changes, leadership transfer, ReadIndex/lease, snapshot transfer and the
// Ready batch live in their own files; this one owns the state, the public
// API, message dispatch and appending to the in-memory log.

import { ConfigurationHistory, decodeConfiguration, encodeConfiguration, findServer, isVoter, quorumSize, voters } from "./configuration.ts";
import { Election } from "./election.ts";
import { AlreadyBootstrappedError, ConfigurationChangeError, NotLeaderError, RaftError, TransferInProgressError } from "./errors.ts";
import * as leadershipTransfer from "./leadership-transfer.ts";
import { RaftLog } from "./log.ts";
import { tickLeader } from "./leader.ts";
import * as membership from "./membership.ts";
import type { Progress } from "./progress.ts";
import { ReadOnly } from "./read-only.ts";
import * as readyBatch from "./ready.ts";
import * as replication from "./replication.ts";
import * as snapshots from "./snapshot-transfer.ts";
import {
  EntryType,
  type Configuration,
  type CoreStatus,
  type Entry,
  type HardState,
  type MembershipChange,
  type Message,
  type NodeId,
  type Ready,
  type Role,
  type Snapshot,
  type VoteResponse,
} from "./types.ts";

export interface CoreOptions {
  id: NodeId;
  /** Base election timeout in ticks; each timeout is random in [electionTicks, 2*electionTicks). */
  electionTicks?: number;
  heartbeatTicks?: number;
  /** Seeded generator in [0, 1). */
  random: () => number;
  preVote?: boolean;
  checkQuorum?: boolean;
  maxEntriesPerMessage?: number;
  maxBytesPerMessage?: number;
  maxInflight?: number;
  snapshotChunkBytes?: number;
}

export interface CoreInitialState {
  hardState?: HardState;
  snapshot?: Snapshot;
  entries?: Entry[];
  applied?: number;
}

type Settings = Required<Omit<CoreOptions, "id" | "random">>;

export class RaftCore {
  readonly id: NodeId;
  /** @internal the fields below are shared with the other core files (election.ts, replication.ts, …). */
  readonly settings: Settings;

  term = 0;
  vote: NodeId | null = null;
  commit = 0;
  /** Highest index handed out in Ready.committed. */
  applied = 0;
  role: Role = "Follower";
  /** Pre-candidate: campaigning in the Pre-Vote phase (reported as Candidate). */
  preCandidate = false;
  leader: NodeId | null = null;

  readonly log = new RaftLog();
  readonly configs = new ConfigurationHistory();
  /** Newest local snapshot, sent to followers that fell behind the compaction point. */
  snapshot: Snapshot | undefined;

  /** Logical clock: total ticks seen. */
  now = 0;
  electionElapsed = 0;
  heartbeatElapsed = 0;
  readonly election: Election;

  // Leader state.
  readonly progress = new Map<NodeId, Progress>();
  /** Sequence number stamped on appends and heartbeats; acks confirm leadership (ReadIndex, lease). */
  seq = 0;
  transferTarget: NodeId | null = null;
  readonly reads = new ReadOnly(this);
  /** Entries were proposed or commit moved: send appends at the next ready(). */
  broadcastPending = false;

  // Follower state: a snapshot arriving in chunks.
  incoming: { meta: Snapshot["meta"]; size: number; parts: Uint8Array[]; received: number } | undefined;

  // Output buffers, drained by ready() (ready.ts).
  messages: Message[] = [];
  /** Entries appended since the last ready(), for the driver to persist. */
  unstable: Entry[] = [];
  pendingSnapshot: Snapshot | undefined;
  /** The hard state last handed out; ready() reports it again only when it changed. */
  lastHardState: HardState = { term: 0, vote: null, commit: 0 };

  constructor(options: CoreOptions, initial: CoreInitialState = {}) {
    this.id = options.id;
    this.settings = {
      electionTicks: options.electionTicks ?? 10,
      heartbeatTicks: options.heartbeatTicks ?? 1,
      preVote: options.preVote ?? true,
      checkQuorum: options.checkQuorum ?? true,
      maxEntriesPerMessage: options.maxEntriesPerMessage ?? 512,
      maxBytesPerMessage: options.maxBytesPerMessage ?? 1 << 20,
      maxInflight: options.maxInflight ?? 64,
      snapshotChunkBytes: options.snapshotChunkBytes ?? 1 << 20,
    };
    if (this.settings.heartbeatTicks >= this.settings.electionTicks) {
      throw new RaftError("BAD_OPTIONS", "heartbeatTicks must be smaller than electionTicks");
    }
    this.restore(initial);
    this.election = new Election(this, options.random, this.term > 0);
    this.election.resetElectionTimer();
  }

  private restore(initial: CoreInitialState): void {
    const snap = initial.snapshot;
    if (snap) {
      this.log.reset(snap.meta.index, snap.meta.term);
      this.configs.resetTo(snap.meta.configuration, snap.meta.configurationIndex);
      this.snapshot = snap;
    }
    const after = snap?.meta.index ?? 0;
    let entries = initial.entries ?? [];
    // Trailing entries kept before the snapshot index are redundant in memory.
    entries = entries.filter((e) => e.index > after);
    if (entries.length > 0 && entries[0]!.index !== after + 1) {
      throw new RaftError("CORRUPT_STATE", `stored log starts at ${entries[0]!.index} but the snapshot ends at ${after}`);
    }
    this.log.append(entries);
    for (const e of entries) if (e.type === EntryType.Config) this.configs.appended(e.index, decodeConfiguration(e.data));
    const hs = initial.hardState ?? { term: 0, vote: null, commit: 0 };
    this.term = hs.term;
    this.vote = hs.vote;
    this.applied = Math.max(initial.applied ?? after, after);
    this.commit = Math.min(Math.max(hs.commit, this.applied), this.log.lastIndex());
    this.lastHardState = { term: this.term, vote: this.vote, commit: this.commit };
  }

  // ---- public API ----------------------------------------------------------

  bootstrap(configuration: Configuration): void {
    if (this.term !== 0 || this.log.lastIndex() !== 0 || this.snapshot) throw new AlreadyBootstrappedError();
    if (voters(configuration).length === 0) throw new ConfigurationChangeError("a bootstrap configuration needs at least one voter");
    // Every node bootstrapped with the same configuration writes the same entry 1 (term 1).
    this.term = 1;
    this.appendToLog([{ index: 1, term: 1, type: EntryType.Config, data: encodeConfiguration(configuration) }]);
  }

  tick(): void {
    this.now++;
    if (this.role === "Leader") tickLeader(this);
    else this.election.tickElection();
  }

  step(m: Message): void {
    if (m.to !== this.id || m.from === this.id) return;
    // Only a voter we know may claim a leadership transfer's right to skip
    // the leader lease: a forged or removed server's "transfer" with a huge
    // term would otherwise depose a healthy leader and leave every node at a
    // term no election can leave. Its request is still heard as an ordinary
    // one, since our configuration may be the stale one (dropping it outright
    // cost liveness in the simulation: a lagging voter that did not know the
    // only up-to-date candidate). Only tls.mutual keeps forged frames out.
    if (m.type === "vote" && m.transfer && !this.isKnownVoter(m.from)) m = { ...m, transfer: false };
    if (m.term > this.term) {
      if (m.type === "vote" && this.election.ignoresVote(m)) return;
      const keepTerm = (m.type === "vote" && m.preVote) || (m.type === "voteResp" && m.preVote && m.granted);
      if (!keepTerm) {
        const fromLeader = m.type === "append" || m.type === "heartbeat" || m.type === "snapshot";
        this.becomeFollower(m.term, fromLeader ? m.from : null);
      }
    } else if (m.term < this.term) {
      if (m.type === "append" || m.type === "heartbeat") {
        // Answer with our term so a stale leader steps down (Raft §5.1). etcd
        // does this only with Pre-Vote or CheckQuorum, counting on the
        // higher-term node's vote requests to reach the leader otherwise; but a
        // node whose configuration is stale may send them to nobody in the
        // current one, and then it never catches up (simulation seed 400601).
        replication.rejectStale(this, m);
      } else if (m.type === "vote" && m.preVote) {
        this.send<VoteResponse>({ type: "voteResp", from: this.id, to: m.from, term: this.term, preVote: true, granted: false });
      }
      return;
    }

    switch (m.type) {
      case "vote":
        return this.election.handleVote(m);
      case "voteResp":
        return this.election.handleVoteResponse(m);
      case "append":
      case "heartbeat":
      case "snapshot":
        if (this.role === "Leader") return; // same term, another leader: impossible by Election Safety
        if (this.role === "Candidate") this.becomeFollower(this.term, m.from);
        this.leader = m.from;
        this.electionElapsed = 0;
        if (m.type === "append") return replication.handleAppend(this, m);
        if (m.type === "heartbeat") return replication.handleHeartbeat(this, m);
        return snapshots.handleSnapshotChunk(this, m);
      case "appendResp":
        if (this.role === "Leader") replication.handleAppendResponse(this, m);
        return;
      case "heartbeatResp":
        if (this.role === "Leader") replication.handleHeartbeatResponse(this, m);
        return;
      case "snapshotResp":
        if (this.role === "Leader") snapshots.handleSnapshotResponse(this, m);
        return;
      case "timeoutNow":
        return leadershipTransfer.handleTimeoutNow(this);
    }
  }

  propose(data: Uint8Array): { index: number; term: number } {
    this.requireLeader();
    if (this.transferTarget !== null) throw new TransferInProgressError(this.transferTarget);
    return this.appendNew(EntryType.Command, data);
  }

  proposeMembershipChange(change: MembershipChange, prevIndex = 0): { index: number; term: number } {
    this.requireLeader();
    if (this.transferTarget !== null) throw new TransferInProgressError(this.transferTarget);
    return membership.proposeChange(this, change, prevIndex);
  }

  readIndex(id: number): void {
    this.requireLeader();
    this.reads.request(id);
  }

  leaseRead(): number | null {
    this.requireLeader();
    return this.reads.leaseValid() ? this.commit : null;
  }

  transferLeadership(to?: NodeId): void {
    this.requireLeader();
    leadershipTransfer.transferLeadership(this, to);
  }

  campaign(transfer = false): void {
    this.election.campaign(transfer);
  }

  compact(index: number, data: Uint8Array, trailing = 0): void {
    if (index > this.applied) throw new RaftError("BAD_COMPACTION", `cannot snapshot at ${index}: only ${this.applied} applied`);
    if (this.snapshot && index <= this.snapshot.meta.index) return;
    const term = this.log.term(index);
    if (term === undefined) throw new RaftError("BAD_COMPACTION", `cannot snapshot at ${index}: not in the log`);
    const config = this.configs.at(index);
    this.snapshot = {
      meta: { index, term, configuration: config.configuration, configurationIndex: config.index },
      data,
    };
    this.configs.compactedTo(index);
    this.log.compactTo(Math.max(index - trailing, this.log.firstIndex() - 1));
  }

  reportUnreachable(peer: NodeId): void {
    const pr = this.progress.get(peer);
    if (this.role === "Leader" && pr?.state === "replicate") pr.becomeProbe();
  }

  hasReady(): boolean {
    return readyBatch.hasReady(this);
  }

  ready(): Ready {
    return readyBatch.takeReady(this);
  }

  status(): CoreStatus {
    const latest = this.configs.latest();
    return {
      id: this.id,
      role: this.role,
      term: this.term,
      vote: this.vote,
      leader: this.leader,
      commitIndex: this.commit,
      appliedIndex: this.applied,
      firstIndex: this.log.firstIndex(),
      lastIndex: this.log.lastIndex(),
      lastTerm: this.log.lastTerm(),
      snapshotIndex: this.snapshot?.meta.index ?? 0,
      configuration: latest.configuration,
      configurationIndex: latest.index,
      committedConfiguration: this.configs.at(this.commit).configuration,
      lastContactTicks: this.role === "Leader" ? this.reads.ticksSinceQuorumContact() : this.electionElapsed,
      transferTarget: this.transferTarget,
      progress: [...this.progress.values()].map((p) => ({
        id: p.id,
        match: p.match,
        next: p.next,
        state: p.state,
        lastContactTicks: this.now - p.lastContactTick,
      })),
    };
  }

  // ---- shared with the other core files ------------------------------------

  send<M extends Message>(m: M): void {
    this.messages.push(m);
  }

  /** Appends to the in-memory log and queues the entries for persistence. */
  appendToLog(entries: Entry[]): void {
    if (entries.length === 0) return;
    const first = entries[0]!.index;
    if (first <= this.log.lastIndex()) {
      if (first <= this.commit) throw new Error(`refusing to overwrite committed entry ${first} (commit ${this.commit})`);
      this.log.truncateFrom(first);
      this.configs.truncatedFrom(first);
    }
    if (this.unstable.length > 0 && this.unstable[0]!.index >= first) this.unstable = [];
    else if (this.unstable.length > 0) this.unstable = this.unstable.filter((e) => e.index < first);
    this.log.append(entries);
    for (const e of entries) {
      this.unstable.push(e);
      if (e.type === EntryType.Config) this.configs.appended(e.index, decodeConfiguration(e.data));
    }
    if (entries.some((e) => e.type === EntryType.Config)) this.configurationChanged();
  }

  /** Appends a new entry of our term (the leader proposing). */
  appendNew(type: EntryType, data: Uint8Array): { index: number; term: number } {
    const entry: Entry = { index: this.log.lastIndex() + 1, term: this.term, type, data };
    this.appendToLog([entry]);
    this.broadcastPending = true;
    // A lone voter commits on its own.
    if (this.quorum() === 1 && this.isVoterNow(this.id)) this.commitTo(entry.index);
    return { index: entry.index, term: entry.term };
  }

  /** Advances the commit index; for the leader, only to entries of its own term (§5.4.2, Figure 8). */
  commitTo(index: number): void {
    if (index <= this.commit) return;
    this.commit = Math.min(index, this.log.lastIndex());
    if (this.role === "Leader") {
      this.reads.onCommit();
      membership.afterLeaderCommit(this);
    }
  }

  committedInTerm(): boolean {
    return this.log.term(this.commit) === this.term;
  }

  latestConfiguration(): Configuration {
    return this.configs.latest().configuration;
  }

  quorum(): number {
    return quorumSize(this.latestConfiguration());
  }

  isVoterNow(id: NodeId): boolean {
    return isVoter(this.latestConfiguration(), id);
  }

  // ---- roles ------------------------------------------------------------------

  /** Candidates and leaders step down here; election.ts and leader.ts hold the other role changes. */
  becomeFollower(term: number, leader: NodeId | null): void {
    const wasLeader = this.role === "Leader";
    if (term > this.term) {
      this.term = term;
      this.vote = null;
    }
    this.role = "Follower";
    this.preCandidate = false;
    this.leader = leader;
    this.transferTarget = null;
    this.progress.clear();
    this.broadcastPending = false;
    if (wasLeader) this.reads.failAll();
    this.election.resetElectionTimer();
  }

  private requireLeader(): void {
    if (this.role !== "Leader") throw new NotLeaderError(this.leader);
  }

  // ---- configuration -------------------------------------------------------------

  /** Whether `id` is a voter in our latest or committed configuration. */
  private isKnownVoter(id: NodeId): boolean {
    return isVoter(this.latestConfiguration(), id) || isVoter(this.configs.at(this.commit).configuration, id);
  }

  /** The latest configuration changed (appended, truncated or restored). */
  configurationChanged(): void {
    if (this.role === "Leader") membership.syncProgress(this);
  }

  addressOf(id: NodeId): string | undefined {
    return findServer(this.latestConfiguration(), id)?.address ?? findServer(this.configs.at(this.commit).configuration, id)?.address;
  }
}
