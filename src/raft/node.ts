// RaftNode: the pure core driven by real time, storage, a transport and a
// state machine, behind hashicorp/raft's future-returning API.
//
// Every input (a message, a proposal, a tick) goes into the core at once; the
// ReadyLoop (ready-loop.ts) then persists, sends and applies what the core
// made ready, one pass per turn of the event loop.

import { NotLeaderError as CoreNotLeaderError } from "./core/errors.ts";
import { RaftCore } from "./core/raft.ts";
import { seededRandom } from "./core/random.ts";
import type { Configuration, Message, NodeId, SnapshotMeta } from "./core/types.ts";
import { LeadershipTransferError, NotLeaderError, ShutdownError } from "./errors.ts";
import { AddressBook } from "./addresses.ts";
import { Applier } from "./apply.ts";
import { Forwarding, type ForwardHandler } from "./forwarding.ts";
import { Futures } from "./futures.ts";
import { silentLogger, type Logger } from "./logger.ts";
import { MembershipChanges } from "./membership.ts";
import { Mutex } from "./mutex.ts";
import { Observers, type Listener } from "./observers.ts";
import { ReadyLoop } from "./ready-loop.ts";
import { recover, type Recovered } from "./recovery.ts";
import { Snapshotter } from "./snapshotter.ts";
import { TickClock } from "./tick-clock.ts";
import type { ApplyResult, CallOptions, LeaderInfo, NodeState, NodeStats, RaftNodeOptions } from "./types.ts";
import type { RaftStorage } from "../storage/types.ts";
import type { Peer, Transport, WireMessage } from "../transport/types.ts";

export type { ApplyResult, CallOptions, LeaderInfo, NodeState, NodeStats, RaftNodeOptions } from "./types.ts";

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
  private readonly readyLoop: ReadyLoop;
  private readonly membership: MembershipChanges;
  private readonly observers: Observers;
  private readonly forwarding: Forwarding;
  private readonly addresses = new AddressBook();
  private nextReadId = 1;

  private readonly loop = new Mutex();
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
    this.readyLoop = new ReadyLoop({
      core,
      storage: options.storage,
      transport: options.transport,
      snapshotter: this.snapshotter,
      applier: this.applier,
      futures: this.futures,
      addresses: this.addresses,
      loop: this.loop,
      logger: this.logger,
      closed: () => this.closed,
      observe: () => this.observe(),
      fail: (error) => void this.stop(error),
    });
    this.membership = new MembershipChanges({
      core,
      futures: this.futures,
      applier: this.applier,
      readyLoop: this.readyLoop,
      addresses: this.addresses,
      defaultTimeoutMs: this.defaultTimeoutMs,
      ensureOpen: () => this.ensureOpen(),
    });
    this.observers = new Observers(this.logger, this.futures, (id) => this.leaderInfo(id));
    this.forwarding = new Forwarding({
      id: options.id,
      send: (to, m) => {
        this.transport.send(to, m);
        this.transport.flush?.();
      },
      address: (id) => this.addresses.get(id),
      logger: this.logger,
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
      this.forwarding.unreachable(peer);
      this.core.reportUnreachable(peer);
      this.schedule();
    };
    await this.transport.start((m, from) => this.deliver(m, from));
    this.addresses.refresh(this.core.status());
    this.ticker = setInterval(() => this.tick(), this.tickMs);
    this.snapshotter.start();
    // Committed entries the state machine does not have yet are replayed by the first pass.
    this.schedule();
  }

  // ---- inputs ---------------------------------------------------------------------

  private deliver(message: WireMessage, from?: Peer): void {
    if (this.closed) return;
    this.forwarding.heard(message.from);
    if (message.type === "forward") return void this.forwarding.handleRequest(message, from);
    if (message.type === "forwardResp") return this.forwarding.handleResponse(message);
    this.addresses.learn(message, from);
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
    this.addresses.refresh(this.core.status());
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

  /**
   * Follower: sends `payload` to the leader over the Raft transport, where the
   * onForwarded handler answers it (a proposal, usually: see Proposer). Fails
   * at once with NotLeaderError when no other node is known to lead; a
   * TimeoutError or LeadershipLostError means the leader may have acted on it.
   */
  async forward(payload: Uint8Array, options: CallOptions = {}): Promise<Uint8Array> {
    this.ensureOpen();
    const leader = this.core.leader;
    if (leader === null || leader === this.id) throw this.addresses.notLeader(leader);
    return this.forwarding.request(leader, payload, this.timeout(options.timeoutMs));
  }

  /** When automatic snapshots are taken: entries since the last one, how often to check, how many entries to keep behind it. */
  setSnapshotPolicy(policy: { threshold: number; intervalMs: number; trailingLogs: number }): void {
    this.snapshotter.setPolicy(policy);
  }

  /** How this node answers what followers forward to it while it leads (one handler; the last set wins). */
  onForwarded(handler: ForwardHandler): void {
    this.forwarding.onRequest(handler);
  }

  /** Leader only: resolves (with that index) once every entry in the leader's log when called is applied here. */
  async barrier(options: CallOptions = {}): Promise<number> {
    this.ensureOpen();
    const st = this.core.status();
    if (st.role !== "Leader") throw this.addresses.notLeader(st.leader);
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
    return this.membership.change({ kind: "addVoter", id, address }, prevIndex, timeoutMs);
  }

  addNonvoter(id: NodeId, address: string, prevIndex = 0, timeoutMs?: number): Promise<{ index: number }> {
    return this.membership.change({ kind: "addNonvoter", id, address }, prevIndex, timeoutMs);
  }

  demoteVoter(id: NodeId, prevIndex = 0, timeoutMs?: number): Promise<{ index: number }> {
    return this.membership.change({ kind: "demoteVoter", id }, prevIndex, timeoutMs);
  }

  removeServer(id: NodeId, prevIndex = 0, timeoutMs?: number): Promise<{ index: number }> {
    return this.membership.change({ kind: "removeServer", id }, prevIndex, timeoutMs);
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

  // state(), isLeader() and leader() are asked on every request: they read the
  // core's fields instead of status(), which copies the progress table.
  state(): NodeState {
    return this.closed ? "Shutdown" : this.core.role;
  }

  isLeader(): boolean {
    return !this.closed && this.core.role === "Leader";
  }

  leader(): LeaderInfo | null {
    if (this.closed) return null;
    const id = this.core.leader;
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
    return this.observers.onStateChange(listener);
  }

  /** Called with (leader, previous) whenever the known leader changes (null: none known); returns the unsubscribe function. */
  onLeaderChange(listener: Listener<LeaderInfo | null>): () => void {
    return this.observers.onLeaderChange(listener);
  }

  /** Stops the node: rejects every pending call with ShutdownError, stops the timers, then closes the transport and the storage. */
  shutdown(): Promise<void> {
    return this.stop(undefined);
  }

  // ---- the loop -------------------------------------------------------------------

  private schedule(): void {
    this.readyLoop.schedule();
  }

  /** Role and leader changes: observers, logging, and failing what only a leader can finish. */
  private observe(): void {
    if (this.closed) return;
    const st = this.core.status();
    if (st.configurationIndex !== this.addresses.at) this.addresses.refresh(st);
    this.observers.observe(st);
    this.futures.pollAll();
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
      return this.addresses.notLeader(error.leader);
    }
    return error;
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
    this.forwarding.rejectAll(new ShutdownError(reason));
    this.observers.shutDown(previous);
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
