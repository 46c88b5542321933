// RaftNode: the pure core driven by real time, storage, a transport and a
// state machine, behind hashicorp/raft's future-returning API.
//
// The loop: every input (a message, a proposal, a tick) goes into the core at
// once, and one "process ready" pass is scheduled for the end of the turn, so
// everything that arrived in a turn is handled together. A pass persists the
// snapshot, entries and hard state (one storage transaction: one fsync for the
// whole turn, i.e. group commit), THEN sends messages, THEN applies committed
// entries and settles the futures waiting on them. Passes never overlap.

import { NotLeaderError as CoreNotLeaderError } from "./core/errors.ts";
import { RaftCore, type CoreOptions } from "./core/raft.ts";
import { seededRandom } from "./core/random.ts";
import {
  type Configuration,
  type CoreStatus,
  type MembershipChange,
  type Message,
  type NodeId,
  type Ready,
  type Role,
  type SnapshotMeta,
} from "./core/types.ts";
import { FatalNodeError, LeadershipTransferError, NotLeaderError, ShutdownError } from "./errors.ts";
import { Applier } from "./apply.ts";
import type { FSM } from "./fsm.ts";
import { Futures, type ApplyResult } from "./futures.ts";
import { silentLogger, type Logger } from "./logger.ts";
import { Mutex } from "./mutex.ts";
import { recover, type Recovered } from "./recovery.ts";
import { Snapshotter } from "./snapshotter.ts";
import { TickClock } from "./tick-clock.ts";
import type { RaftStorage, SnapshotStore } from "../storage/types.ts";
import type { Peer, Transport } from "../transport/types.ts";

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
export type { ApplyResult };

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

type Listener<T> = (value: T, previous: T) => void;

export class RaftNode {
  readonly id: NodeId;
  private readonly storage: RaftStorage;
  private readonly transport: Transport;
  private readonly logger: Logger;
  private readonly tickMs: number;
  private readonly electionTicks: number;
  private readonly defaultTimeoutMs: number;

  private readonly futures = new Futures((e) => this.translate(e));
  private readonly applier: Applier;
  private readonly snapshotter: Snapshotter;
  /** Term of the last entry handed out as committed: the leader may change membership once it equals its term. */
  private committedTerm = 0;
  private nextReadId = 1;

  private readonly stateListeners = new Set<Listener<NodeState>>();
  private readonly leaderListeners = new Set<Listener<LeaderInfo | null>>();
  private lastState: NodeState = "Follower";
  private lastLeader: NodeId | null = null;
  private leaderTerm = 0;

  /** Addresses of every server seen in any configuration (replies may go to a removed server). */
  private readonly addresses = new Map<NodeId, string>();
  private addressesAt = -1;

  private readonly loop = new Mutex();
  private passScheduled = false;
  private passRunning = false;
  private closed = false;
  private shutdownDone: Promise<void> | undefined;
  private ticker: ReturnType<typeof setInterval> | undefined;
  private readonly clock: TickClock;

  private constructor(
    private readonly core: RaftCore,
    options: RaftNodeOptions,
    recovered: Recovered,
  ) {
    this.id = options.id;
    this.storage = options.storage;
    this.transport = options.transport;
    this.logger = options.logger ?? silentLogger;
    this.tickMs = options.tickMs ?? 50;
    this.electionTicks = options.electionTicks ?? 10;
    this.defaultTimeoutMs = options.timeoutMs ?? 10_000;
    this.clock = new TickClock(this.tickMs, 3 * this.electionTicks);
    this.applier = new Applier(options.fsm, this.logger, recovered, (e, outcome) => this.futures.entryApplied(e, outcome));
    this.snapshotter = new Snapshotter({
      core,
      storage: options.storage,
      snapshots: options.snapshots,
      fsm: options.fsm,
      applier: this.applier,
      loop: this.loop,
      logger: this.logger,
      threshold: options.snapshotThreshold ?? 8192,
      intervalMs: options.snapshotIntervalMs ?? 30_000,
      trailingLogs: options.trailingLogs ?? 10_240,
    });
  }

  /**
   * Loads the node's state from storage, restores the state machine and starts
   * the loop. The node owns the storage and the transport from here on: it
   * closes them on shutdown, and also when opening fails.
   */
  static async open(options: RaftNodeOptions): Promise<RaftNode> {
    const logger = options.logger ?? silentLogger;
    let node: RaftNode | undefined;
    try {
      const recovered = await recover(options.storage, options.snapshots, options.fsm, logger);
      const core = new RaftCore(
        {
          ...options.core,
          id: options.id,
          electionTicks: options.electionTicks ?? 10,
          heartbeatTicks: options.heartbeatTicks ?? 1,
          random: seededRandom(options.seed ?? Math.floor(Math.random() * 2 ** 32)),
        },
        recovered.initial,
      );
      node = new RaftNode(core, options, recovered);
      await node.start();
      const st = core.status();
      logger.info("raft node opened", { id: options.id, term: st.term, commit: st.commitIndex, applied: node.applier.applied, lastIndex: st.lastIndex, snapshot: st.snapshotIndex });
      return node;
    } catch (error) {
      if (node) await node.stop(undefined);
      else await closeQuietly(options, logger);
      throw error;
    }
  }

  private async start(): Promise<void> {
    this.transport.onUnreachable = (peer) => {
      if (this.closed) return;
      this.core.reportUnreachable(peer);
      this.schedule();
    };
    await this.transport.start((m, from) => this.deliver(m, from));
    this.refreshAddresses(this.core.status());
    this.ticker = setInterval(() => this.tick(), this.tickMs);
    this.snapshotter.start();
    // Committed entries the state machine does not have yet are replayed by the first pass.
    this.schedule();
  }

  // ---- inputs ---------------------------------------------------------------------

  private deliver(message: Message, from?: Peer): void {
    if (this.closed) return;
    // A server being added has no configuration yet, so it cannot answer the
    // leader unless the transport tells it where the message came from.
    // Configurations take precedence.
    if (from !== undefined && from.id === message.from && !this.addresses.has(message.from)) {
      this.addresses.set(message.from, from.address);
    }
    this.core.step(message);
    this.schedule();
  }

  /** Feeds the core the ticks that real time says are due (see TickClock). */
  private tick(): void {
    if (this.closed) return;
    const { ticks, stalledMs } = this.clock.due();
    if (ticks === 0) return;
    if (stalledMs >= this.electionTicks * this.tickMs) {
      this.logger.warn("the event loop stalled for longer than an election timeout; catching up", { stalledMs: Math.round(stalledMs) });
    }
    for (let i = 0; i < ticks; i++) this.core.tick();
    this.observe();
    this.schedule();
  }

  /** Brand-new node only: writes the initial configuration (identical on every bootstrapped node) as entry 1. */
  async bootstrapCluster(configuration: Configuration): Promise<void> {
    this.ensureOpen();
    this.core.bootstrap(configuration);
    this.refreshAddresses(this.core.status());
    this.schedule();
    await this.futures.until("bootstrap", this.defaultTimeoutMs, () => (this.storage.log.lastIndex() >= 1 ? true : undefined));
  }

  /** Replicates a command; resolves once it is committed and applied here, with the state machine's response. */
  async apply(command: Uint8Array, options: CallOptions = {}): Promise<ApplyResult> {
    this.ensureOpen();
    const at = this.call(() => this.core.propose(command));
    this.schedule();
    return this.futures.forEntry("apply", at, this.timeout(options.timeoutMs));
  }

  /** Leader only: resolves (with that index) once every entry in the leader's log when called is applied here. */
  async barrier(options: CallOptions = {}): Promise<number> {
    this.ensureOpen();
    const st = this.core.status();
    if (st.role !== "Leader") throw this.notLeader(st);
    return this.futures.forApplied("barrier", st.lastIndex, this.applier.applied, true, this.timeout(options.timeoutMs));
  }

  /** Leader only: resolves once a quorum confirmed this node is still the leader (one heartbeat round). */
  async verifyLeader(options: CallOptions = {}): Promise<void> {
    await this.requestRead("verifyLeader", false, options.timeoutMs);
  }

  /**
   * Leader only: resolves (with the read index) once a linearizable read is
   * safe here: leadership was confirmed by a quorum after the call (ReadIndex,
   * §6.4) and the state machine has applied up to the commit index noted then.
   */
  async readIndex(options: CallOptions = {}): Promise<number> {
    return this.requestRead("readIndex", true, options.timeoutMs);
  }

  /**
   * Leader only: like readIndex, but without a heartbeat round while the
   * leader lease holds (§6.4.1); falls back to readIndex when it does not.
   * Relies on bounded clock drift between nodes.
   */
  async leaseRead(options: CallOptions = {}): Promise<number> {
    this.ensureOpen();
    // The timer may not have run yet after a stall: bring the clock up to date before trusting the lease.
    this.tick();
    const index = this.call(() => this.core.leaseRead());
    if (index === null) return this.readIndex(options);
    return this.futures.forApplied("leaseRead", index, this.applier.applied, false, this.timeout(options.timeoutMs));
  }

  addVoter(id: NodeId, address: string, prevIndex = 0, timeoutMs?: number): Promise<{ index: number }> {
    return this.changeMembership({ kind: "addVoter", id, address }, prevIndex, timeoutMs);
  }

  addNonvoter(id: NodeId, address: string, prevIndex = 0, timeoutMs?: number): Promise<{ index: number }> {
    return this.changeMembership({ kind: "addNonvoter", id, address }, prevIndex, timeoutMs);
  }

  demoteVoter(id: NodeId, prevIndex = 0, timeoutMs?: number): Promise<{ index: number }> {
    return this.changeMembership({ kind: "demoteVoter", id }, prevIndex, timeoutMs);
  }

  removeServer(id: NodeId, prevIndex = 0, timeoutMs?: number): Promise<{ index: number }> {
    return this.changeMembership({ kind: "removeServer", id }, prevIndex, timeoutMs);
  }

  /**
   * Leader only: hands leadership to `to` (default: the most up-to-date
   * voter) and resolves with the new leader once another node leads. Rejects
   * if the core abandons the transfer (after an election timeout) or on timeout.
   */
  async leadershipTransfer(to?: NodeId, options: CallOptions = {}): Promise<LeaderInfo> {
    this.ensureOpen();
    if (to === this.id) throw new LeadershipTransferError(`${to} is this node; leadership can only be transferred to another voter`);
    this.call(() => this.core.transferLeadership(to));
    this.schedule();
    const timeoutMs = options.timeoutMs ?? Math.max(this.defaultTimeoutMs, 3 * this.electionTicks * this.tickMs);
    return this.futures.until<LeaderInfo>("leadershipTransfer", timeoutMs, () => {
      const st = this.core.status();
      if (st.role !== "Leader" && st.leader !== null && st.leader !== this.id) return this.leaderInfo(st.leader);
      if (st.role === "Leader" && st.transferTarget === null) {
        throw new LeadershipTransferError(`the transfer${to ? ` to ${to}` : ""} did not complete within an election timeout; this node is still the leader`);
      }
      return undefined;
    });
  }

  /** The latest configuration (in effect as soon as it is appended) and its index. */
  getConfiguration(): { configuration: Configuration; index: number; committed: boolean } {
    const st = this.core.status();
    return { configuration: structuredClone(st.configuration), index: st.configurationIndex, committed: st.configurationIndex <= st.commitIndex };
  }

  /** Takes a snapshot now and compacts the log behind it; resolves with its meta (the existing one if nothing new was applied). */
  async snapshot(): Promise<SnapshotMeta> {
    this.ensureOpen();
    return this.snapshotter.snapshot();
  }

  state(): NodeState {
    return this.closed ? "Shutdown" : this.core.status().role;
  }

  leader(): LeaderInfo | null {
    if (this.closed) return null;
    const id = this.core.status().leader;
    return id === null ? null : this.leaderInfo(id);
  }

  stats(): NodeStats {
    const st = this.core.status();
    return {
      id: this.id,
      state: this.closed ? "Shutdown" : st.role,
      term: st.term,
      leader: st.leader === null ? null : this.leaderInfo(st.leader),
      commitIndex: st.commitIndex,
      appliedIndex: this.applier.applied,
      firstIndex: st.firstIndex,
      lastIndex: st.lastIndex,
      snapshotIndex: st.snapshotIndex,
      lastContactMs: st.lastContactTicks * this.tickMs,
      configuration: structuredClone(st.configuration),
      configurationIndex: st.configurationIndex,
      peers: st.progress.map((p) => ({ id: p.id, match: p.match, next: p.next, state: p.state, lastContactMs: p.lastContactTicks * this.tickMs })),
    };
  }

  /** Called with (state, previous) whenever the role changes; returns the unsubscribe function. */
  onStateChange(listener: Listener<NodeState>): () => void {
    this.stateListeners.add(listener);
    return () => this.stateListeners.delete(listener);
  }

  /** Called with (leader, previous) whenever the known leader changes (null: none known); returns the unsubscribe function. */
  onLeaderChange(listener: Listener<LeaderInfo | null>): () => void {
    this.leaderListeners.add(listener);
    return () => this.leaderListeners.delete(listener);
  }

  /** Stops the node: rejects every pending call with ShutdownError, stops the timers, then closes the transport and the storage. */
  shutdown(): Promise<void> {
    return this.stop(undefined);
  }

  // ---- the loop -------------------------------------------------------------------

  private schedule(): void {
    if (this.passScheduled || this.closed) return;
    this.passScheduled = true;
    queueMicrotask(() => {
      this.passScheduled = false;
      void this.runPasses();
    });
  }

  private async runPasses(): Promise<void> {
    // A running pass re-checks hasReady() before it ends, so it picks up whatever arrived meanwhile.
    if (this.passRunning || this.closed) return;
    this.passRunning = true;
    const release = this.loop.tryAcquire() ?? (await this.loop.acquire());
    try {
      while (!this.closed && this.core.hasReady()) {
        await this.handleReady(this.core.ready());
        this.observe();
      }
    } catch (error) {
      void this.stop(error instanceof FatalNodeError ? error : new FatalNodeError("processing a ready batch", error));
    } finally {
      release();
      this.passRunning = false;
    }
  }

  private async handleReady(rd: Ready): Promise<void> {
    if (rd.snapshot) await this.snapshotter.install(rd.snapshot);
    if (rd.snapshot || rd.entries.length > 0 || rd.hardState) this.persist(rd);
    if (rd.messages.length > 0) this.send(rd.messages);
    if (rd.committed.length > 0) {
      this.committedTerm = rd.committed[rd.committed.length - 1]!.term;
      await this.applier.apply(rd.committed);
    }
    for (const id of rd.failedReads) this.futures.readFailed(id);
    for (const { id, index } of rd.readStates) this.futures.readConfirmed(id, index, this.applier.applied);
    this.futures.appliedUpTo(this.applier.applied);
  }

  /** Snapshot log reset, entries and hard state in one transaction: one fsync for the whole turn. */
  private persist(rd: Ready): void {
    try {
      const { log, stable } = this.storage;
      this.storage.transaction(() => {
        if (rd.snapshot) {
          // The core kept only what follows the snapshot and re-emits it in rd.entries.
          const first = log.firstIndex();
          if (first > 0) log.deleteRange(first, log.lastIndex());
        }
        if (rd.entries.length > 0) log.storeEntries(rd.entries);
        if (rd.hardState) stable.setHardState(rd.hardState);
      });
    } catch (error) {
      throw new FatalNodeError("persisting entries and hard state", error);
    }
  }

  private send(messages: Message[]): void {
    // status() copies the progress table: only call it when the configuration moved.
    if (this.core.configs.latest().index !== this.addressesAt) this.refreshAddresses(this.core.status());
    for (const m of messages) {
      const address = this.addresses.get(m.to);
      if (address === undefined) {
        this.logger.debug("dropping a message to a server with no known address", { to: m.to, type: m.type });
        continue;
      }
      try {
        this.transport.send({ id: m.to, address }, m);
      } catch (error) {
        this.logger.warn("transport refused a message", { to: m.to, type: m.type, error: String(error) });
      }
    }
  }

  /** Role and leader changes: observers, logging, and failing what only a leader can finish. */
  private observe(): void {
    if (this.closed) return;
    const st = this.core.status();
    if (st.configurationIndex !== this.addressesAt) this.refreshAddresses(st);
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
    this.futures.pollAll();
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

  private refreshAddresses(st: CoreStatus): void {
    for (const s of st.configuration.servers) this.addresses.set(s.id, s.address);
    for (const s of st.committedConfiguration.servers) if (!this.addresses.has(s.id)) this.addresses.set(s.id, s.address);
    this.addressesAt = st.configurationIndex;
  }

  // ---- waiting ----------------------------------------------------------------------

  private timeout(ms: number | undefined): number {
    return ms ?? this.defaultTimeoutMs;
  }

  private async requestRead(operation: string, thenApply: boolean, timeoutMs?: number): Promise<number> {
    this.ensureOpen();
    const id = this.nextReadId++;
    this.call(() => this.core.readIndex(id));
    this.schedule();
    return this.futures.forRead(operation, id, thenApply, this.timeout(timeoutMs));
  }

  private async changeMembership(change: MembershipChange, prevIndex: number, timeoutMs?: number): Promise<{ index: number }> {
    this.ensureOpen();
    const deadline = Date.now() + this.timeout(timeoutMs);
    const operation = change.kind;
    // The core accepts one change at a time, and only once the leader has
    // committed an entry of its term: wait for that here rather than fail, and
    // propose synchronously inside the poll so concurrent calls queue up.
    const at = await this.futures.until(operation, this.timeout(timeoutMs), () => {
      const st = this.core.status();
      if (st.role !== "Leader") throw this.notLeader(st);
      if (this.committedTerm !== st.term || st.configurationIndex > st.commitIndex) return undefined;
      const proposed = this.core.proposeMembershipChange(change, prevIndex);
      this.schedule();
      return proposed;
    });
    if (at.index <= this.applier.applied) return { index: at.index }; // already the configuration: nothing to do
    const remaining = timeoutMs === 0 || (timeoutMs === undefined && this.defaultTimeoutMs === 0) ? 0 : Math.max(1, deadline - Date.now());
    this.schedule();
    const { index } = await this.futures.forEntry(operation, at, remaining);
    return { index };
  }

  // ---- helpers -------------------------------------------------------------------------

  private ensureOpen(): void {
    if (this.closed) throw new ShutdownError();
  }

  /** Runs a core call, turning the core's NotLeaderError into the node's (with the leader's address). */
  private call<T>(fn: () => T): T {
    try {
      return fn();
    } catch (error) {
      throw this.translate(error);
    }
  }

  private translate(error: unknown): unknown {
    if (error instanceof CoreNotLeaderError && !(error instanceof NotLeaderError)) {
      return new NotLeaderError(error.leader, error.leader === null ? null : (this.addresses.get(error.leader) ?? null));
    }
    return error;
  }

  private notLeader(st: CoreStatus): NotLeaderError {
    return new NotLeaderError(st.leader, st.leader === null ? null : (this.addresses.get(st.leader) ?? null));
  }

  private leaderInfo(id: NodeId): LeaderInfo {
    const address = this.addresses.get(id) ?? (id === this.id ? this.transport.localAddress : "");
    return { id, address };
  }

  private stop(reason: unknown): Promise<void> {
    if (this.shutdownDone) return this.shutdownDone;
    if (reason !== undefined) this.logger.error("raft node stopping on a fatal error", { error: String(reason) });
    const previous = this.closed ? "Shutdown" : this.core.status().role;
    this.closed = true;
    clearInterval(this.ticker);
    const snapshotsStopped = this.snapshotter.stop();
    this.futures.rejectAll(new ShutdownError(reason));
    this.emit(this.stateListeners, "Shutdown", previous);
    this.shutdownDone = (async () => {
      // Let an in-flight pass or snapshot finish its I/O before closing the stores under it.
      const release = await this.loop.acquire();
      release();
      await snapshotsStopped;
      try {
        await this.transport.close();
      } catch (error) {
        this.logger.warn("closing the transport failed", { error: String(error) });
      }
      try {
        this.storage.close();
      } catch (error) {
        this.logger.warn("closing the storage failed", { error: String(error) });
      }
      this.logger.info("raft node shut down");
    })();
    return this.shutdownDone;
  }
}

/** A node that never got going still releases its SQLite file and its port. */
async function closeQuietly(options: RaftNodeOptions, logger: Logger): Promise<void> {
  try {
    await options.transport.close();
  } catch (error) {
    logger.warn("closing the transport after a failed open", { error: String(error) });
  }
  try {
    options.storage.close();
  } catch (error) {
    logger.warn("closing the storage after a failed open", { error: String(error) });
  }
}
