// RaftCore: the whole protocol as one deterministic state machine, driven by
// tick(), step(message) and the proposal calls, and drained with ready().
// No timers, sockets, clocks, promises or global randomness: the driver owns
// time and I/O. Leader-side replication, ReadIndex/lease and snapshot
// transfer live in their own files; this one owns state, roles and elections.

import {
  ConfigurationHistory,
  decodeConfiguration,
  encodeConfiguration,
  findServer,
  isVoter,
  nextConfiguration,
  quorumSize,
  sameConfiguration,
  voters,
} from "./configuration.ts";
import { AlreadyBootstrappedError, ConfigurationChangeError, NotLeaderError, RaftError, TransferInProgressError } from "./errors.ts";
import { RaftLog } from "./log.ts";
import { Progress } from "./progress.ts";
import { ReadOnly } from "./read-only.ts";
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
  type VoteRequest,
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
  /** @internal the fields below are shared with replication.ts, read-only.ts and snapshot-transfer.ts. */
  readonly settings: Settings;
  private readonly random: () => number;

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
  /**
   * Restarted with state on disk: we may have acknowledged a leader's
   * heartbeat just before crashing, and that leader may be serving lease reads
   * on it. So for the first election timeout after a restart we refuse votes
   * as if we still heard from a leader (§6.4.1; the lease assumes it).
   */
  private restartedWithState = false;
  private randomizedElectionTimeout = 0;
  private votes = new Map<NodeId, boolean>();

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

  // Output buffers, drained by ready().
  messages: Message[] = [];
  private unstable: Entry[] = [];
  private pendingSnapshot: Snapshot | undefined;
  private lastHardState: HardState = { term: 0, vote: null, commit: 0 };

  constructor(options: CoreOptions, initial: CoreInitialState = {}) {
    this.id = options.id;
    this.random = options.random;
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
    this.restartedWithState = this.term > 0;
    this.resetElectionTimer();
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
    if (this.role === "Leader") this.tickLeader();
    else this.tickElection();
  }

  step(m: Message): void {
    if (m.to !== this.id || m.from === this.id) return;
    if (m.term > this.term) {
      if (m.type === "vote") {
        // Leader stickiness (§4.2.3): while we hear from a leader, ignore
        // disruptive candidates, unless the leader itself handed over.
        const heardLeader = this.leader !== null || (this.restartedWithState && this.now < this.settings.electionTicks);
        const inLease = this.settings.checkQuorum && heardLeader && this.electionElapsed < this.settings.electionTicks;
        if (inLease && !m.transfer) return;
      }
      const keepTerm = (m.type === "vote" && m.preVote) || (m.type === "voteResp" && m.preVote && m.granted);
      if (!keepTerm) {
        const fromLeader = m.type === "append" || m.type === "heartbeat" || m.type === "snapshot";
        this.becomeFollower(m.term, fromLeader ? m.from : null);
      }
    } else if (m.term < this.term) {
      if ((m.type === "append" || m.type === "heartbeat") && (this.settings.checkQuorum || this.settings.preVote)) {
        // A stale leader cut off by Pre-Vote would otherwise never learn the new term.
        replication.rejectStale(this, m);
      } else if (m.type === "vote" && m.preVote) {
        this.send<VoteResponse>({ type: "voteResp", from: this.id, to: m.from, term: this.term, preVote: true, granted: false });
      }
      return;
    }

    switch (m.type) {
      case "vote":
        return this.handleVote(m);
      case "voteResp":
        return this.handleVoteResponse(m);
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
        if (this.role !== "Leader" && this.promotable()) this.campaign(true);
        return;
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
    const latest = this.configs.latest();
    if (!this.committedInTerm()) {
      // §4.1 / the single-server change bug: a new leader must commit an entry of its term first.
      throw new ConfigurationChangeError("the leader has not yet committed an entry in its term; retry shortly");
    }
    if (latest.index > this.commit) {
      throw new ConfigurationChangeError(`a configuration change (index ${latest.index}) is still being committed; one change at a time`);
    }
    if (prevIndex > 0 && prevIndex !== latest.index) {
      throw new ConfigurationChangeError(`configuration changed since index ${prevIndex} (now ${latest.index})`);
    }
    const next = nextConfiguration(latest.configuration, change);
    if (sameConfiguration(next, latest.configuration)) return { index: latest.index, term: this.log.term(latest.index) ?? this.term };
    return this.appendNew(EntryType.Config, encodeConfiguration(next));
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
    const latest = this.configs.latest().configuration;
    let target = to;
    if (target === undefined) {
      let best: Progress | undefined;
      for (const pr of this.progress.values()) {
        if (isVoter(latest, pr.id) && (!best || pr.match > best.match)) best = pr;
      }
      if (!best) throw new RaftError("NO_TRANSFER_TARGET", "there is no other voter to transfer leadership to");
      target = best.id;
    }
    if (target === this.id) return;
    if (!isVoter(latest, target)) throw new RaftError("NO_TRANSFER_TARGET", `${target} is not a voter in the current configuration`);
    this.transferTarget = target;
    // The transfer is abandoned if it has not happened within an election timeout.
    this.electionElapsed = 0;
    const pr = this.progress.get(target)!;
    if (pr.match === this.log.lastIndex()) this.sendTimeoutNow(target);
    else replication.sendAppends(this, pr);
  }

  campaign(transfer = false): void {
    if (!this.promotable() || this.role === "Leader") return;
    if (this.settings.preVote && !transfer) this.becomePreCandidate();
    else this.becomeCandidate(transfer);
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
    return (
      this.broadcastPending ||
      this.reads.hasOutput() ||
      this.messages.length > 0 ||
      this.unstable.length > 0 ||
      this.pendingSnapshot !== undefined ||
      this.commit > this.applied ||
      this.hardStateChanged()
    );
  }

  ready(): Ready {
    if (this.broadcastPending) {
      this.broadcastPending = false;
      replication.broadcast(this);
    }
    this.reads.flush();
    const rd: Ready = {
      entries: this.unstable,
      messages: this.messages,
      committed: this.commit > this.applied ? this.log.slice(this.applied + 1, this.commit) : [],
      readStates: this.reads.takeReadStates(),
      failedReads: this.reads.takeFailed(),
    };
    if (this.pendingSnapshot) rd.snapshot = this.pendingSnapshot;
    if (this.hardStateChanged()) {
      rd.hardState = { term: this.term, vote: this.vote, commit: this.commit };
      this.lastHardState = rd.hardState;
    }
    this.applied = Math.max(this.applied, this.commit);
    this.unstable = [];
    this.messages = [];
    this.pendingSnapshot = undefined;
    return rd;
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

  /** Installs a snapshot received from the leader (the follower side of InstallSnapshot). */
  installSnapshot(snap: Snapshot): void {
    const { index, term } = snap.meta;
    if (this.log.term(index) === term) {
      // Keep the entries that follow it: they match the leader's (§5.3 Log Matching).
      this.log.compactTo(index);
    } else {
      this.log.reset(index, term);
    }
    this.configs.resetTo(snap.meta.configuration, snap.meta.configurationIndex);
    const kept = this.log.slice(index + 1, this.log.lastIndex());
    for (const e of kept) if (e.type === EntryType.Config) this.configs.appended(e.index, decodeConfiguration(e.data));
    this.snapshot = snap;
    this.pendingSnapshot = snap;
    // The driver replaces its whole stored log with what we kept.
    this.unstable = kept;
    this.commit = Math.max(this.commit, index);
    this.applied = Math.max(this.applied, index);
    this.configurationChanged();
  }

  /** Advances the commit index; for the leader, only to entries of its own term (§5.4.2, Figure 8). */
  commitTo(index: number): void {
    if (index <= this.commit) return;
    this.commit = Math.min(index, this.log.lastIndex());
    if (this.role === "Leader") this.afterLeaderCommit();
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

  sendTimeoutNow(to: NodeId): void {
    this.reads.markHandedOver();
    this.send({ type: "timeoutNow", from: this.id, to, term: this.term });
  }

  // ---- roles ------------------------------------------------------------------

  private becomeFollower(term: number, leader: NodeId | null): void {
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
    this.resetElectionTimer();
  }

  private becomePreCandidate(): void {
    this.role = "Candidate";
    this.preCandidate = true;
    this.leader = null;
    this.startVoting(this.term + 1, true, false);
  }

  private becomeCandidate(transfer: boolean): void {
    this.role = "Candidate";
    this.preCandidate = false;
    this.term += 1;
    this.vote = this.id;
    this.leader = null;
    this.startVoting(this.term, false, transfer);
  }

  private startVoting(term: number, preVote: boolean, transfer: boolean): void {
    this.resetElectionTimer();
    this.votes = new Map([[this.id, true]]);
    if (this.tallyVotes()) return;
    for (const id of voters(this.latestConfiguration())) {
      if (id === this.id) continue;
      this.send<VoteRequest>({
        type: "vote",
        from: this.id,
        to: id,
        term,
        preVote,
        lastLogIndex: this.log.lastIndex(),
        lastLogTerm: this.log.lastTerm(),
        transfer,
      });
    }
  }

  private becomeLeader(): void {
    this.role = "Leader";
    this.preCandidate = false;
    this.leader = this.id;
    this.transferTarget = null;
    this.heartbeatElapsed = 0;
    this.electionElapsed = 0;
    this.seq = 0;
    this.reads.reset();
    this.progress.clear();
    this.syncProgress();
    for (const pr of this.progress.values()) pr.recentActive = true;
    // A no-op of our own term lets us commit (and learn the commit index) soon (§8).
    this.appendNew(EntryType.Noop, new Uint8Array(0));
  }

  private appendNew(type: EntryType, data: Uint8Array): { index: number; term: number } {
    const entry: Entry = { index: this.log.lastIndex() + 1, term: this.term, type, data };
    this.appendToLog([entry]);
    this.broadcastPending = true;
    // A lone voter commits on its own.
    if (this.quorum() === 1 && this.isVoterNow(this.id)) this.commitTo(entry.index);
    return { index: entry.index, term: entry.term };
  }

  private requireLeader(): void {
    if (this.role !== "Leader") throw new NotLeaderError(this.leader);
  }

  /**
   * Whether this node may campaign. A voter in the latest configuration may;
   * so may one whose demotion or removal is appended but not yet committed:
   * otherwise a node holding the only up-to-date copy of that change could
   * refuse to campaign while the others cannot win without it (found by
   * simulation). Votes are still counted in the candidate's latest
   * configuration, so quorums overlap as §4.1 requires.
   */
  private promotable(): boolean {
    if (this.isVoterNow(this.id)) return true;
    const latest = this.configs.latest();
    return latest.index > this.commit && isVoter(this.configs.at(this.commit).configuration, this.id);
  }

  // ---- elections ---------------------------------------------------------------

  private handleVote(m: VoteRequest): void {
    const canVote = this.vote === m.from || (this.vote === null && this.leader === null) || (m.preVote && m.term > this.term);
    const lastTerm = this.log.lastTerm();
    const upToDate = m.lastLogTerm > lastTerm || (m.lastLogTerm === lastTerm && m.lastLogIndex >= this.log.lastIndex());
    if (canVote && upToDate) {
      // A pre-vote grant answers in the term the candidate would use, so it is not dismissed as stale.
      this.send<VoteResponse>({ type: "voteResp", from: this.id, to: m.from, term: m.term, preVote: m.preVote, granted: true });
      if (!m.preVote) {
        this.electionElapsed = 0;
        this.vote = m.from;
      }
    } else {
      this.send<VoteResponse>({ type: "voteResp", from: this.id, to: m.from, term: this.term, preVote: m.preVote, granted: false });
    }
  }

  private handleVoteResponse(m: VoteResponse): void {
    if (this.role !== "Candidate" || m.preVote !== this.preCandidate) return;
    const expectedTerm = this.preCandidate ? this.term + 1 : this.term;
    if (m.granted && m.term !== expectedTerm) return;
    if (!this.isVoterNow(m.from)) return;
    this.votes.set(m.from, m.granted);
    this.tallyVotes();
  }

  /** Acts on the votes so far; true when the election ended. */
  private tallyVotes(): boolean {
    const config = this.latestConfiguration();
    let granted = 0;
    let rejected = 0;
    for (const id of voters(config)) {
      const v = this.votes.get(id);
      if (v === true) granted++;
      else if (v === false) rejected++;
    }
    const q = quorumSize(config);
    if (granted >= q) {
      if (this.preCandidate) this.becomeCandidate(false);
      else this.becomeLeader();
      return true;
    }
    if (rejected >= q) {
      this.becomeFollower(this.term, null);
      return true;
    }
    return false;
  }

  private tickElection(): void {
    this.electionElapsed++;
    if (this.electionElapsed >= this.randomizedElectionTimeout && this.promotable()) {
      this.electionElapsed = 0;
      this.campaign(false);
    }
  }

  private tickLeader(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.settings.electionTicks) {
      this.electionElapsed = 0;
      if (this.settings.checkQuorum && !this.reads.quorumRecentlyActive()) {
        // CheckQuorum (§6.2): a leader cut off from a majority steps down, so clients go elsewhere.
        this.becomeFollower(this.term, null);
        return;
      }
      for (const pr of this.progress.values()) pr.recentActive = false;
      this.transferTarget = null;
    }
    snapshots.retransmitStalled(this);
    if (this.heartbeatElapsed >= this.settings.heartbeatTicks) {
      this.heartbeatElapsed = 0;
      replication.broadcastHeartbeat(this);
    }
  }

  private resetElectionTimer(): void {
    this.electionElapsed = 0;
    const e = this.settings.electionTicks;
    this.randomizedElectionTimeout = e + Math.floor(this.random() * e);
  }

  // ---- configuration -------------------------------------------------------------

  /** The latest configuration changed (appended, truncated or restored). */
  private configurationChanged(): void {
    if (this.role === "Leader") this.syncProgress();
  }

  /** Tracks every server in the latest or the committed configuration (a removed server hears of its removal). */
  syncProgress(): void {
    const wanted = new Set<NodeId>();
    for (const s of this.latestConfiguration().servers) wanted.add(s.id);
    for (const s of this.configs.at(this.commit).configuration.servers) wanted.add(s.id);
    wanted.delete(this.id);
    for (const id of [...this.progress.keys()]) if (!wanted.has(id)) this.progress.delete(id);
    for (const id of wanted) {
      if (!this.progress.has(id)) {
        const pr = new Progress(id, this.log.lastIndex() + 1);
        pr.lastContactTick = this.now;
        pr.recentActive = true;
        this.progress.set(id, pr);
      }
    }
  }

  private afterLeaderCommit(): void {
    this.reads.onCommit();
    this.syncProgress();
    const latest = this.configs.latest();
    if (latest.index <= this.commit && !isVoter(latest.configuration, this.id)) {
      // Removed or demoted: we led until the change committed; now step aside (§4.2.2).
      this.broadcastPending = false;
      replication.broadcast(this);
      this.becomeFollower(this.term, null);
    }
  }

  addressOf(id: NodeId): string | undefined {
    return findServer(this.latestConfiguration(), id)?.address ?? findServer(this.configs.at(this.commit).configuration, id)?.address;
  }

  private hardStateChanged(): boolean {
    const h = this.lastHardState;
    return h.term !== this.term || h.vote !== this.vote || h.commit !== this.commit;
  }
}
