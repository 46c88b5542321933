// RaftNode: the pure core driven by real time, storage, a transport and a
// state machine, behind hashicorp/raft's future-returning API.
//
// The loop: every input (a message, a proposal, a tick) goes into the core at
// once, and one "process ready" pass is scheduled for the end of the turn, so
// everything that arrived in a turn is handled together. A pass persists the
// snapshot, entries and hard state (one storage transaction: one fsync for the
// whole turn, i.e. group commit), THEN sends messages, THEN applies committed
// entries and settles the futures waiting on them. Passes never overlap.

import { decodeConfiguration } from "./core/configuration.ts";
import { NotLeaderError as CoreNotLeaderError, RaftError } from "./core/errors.ts";
import { RaftCore, type CoreOptions } from "./core/raft.ts";
import { seededRandom } from "./core/random.ts";
import {
  EntryType,
  type Configuration,
  type CoreStatus,
  type Entry,
  type MembershipChange,
  type Message,
  type NodeId,
  type Ready,
  type Role,
  type Snapshot,
  type SnapshotMeta,
} from "./core/types.ts";
import { FatalNodeError, LeadershipLostError, LeadershipTransferError, NotLeaderError, ShutdownError } from "./errors.ts";
import type { CommittedCommand, FSM } from "./fsm.ts";
import { silentLogger, type Logger } from "./logger.ts";
import { recover } from "./recovery.ts";
import { Mutex, WaiterRegistry, type Waiter } from "./waiters.ts";
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

export interface LeaderInfo {
  id: NodeId;
  address: string;
}

export interface ApplyResult {
  index: number;
  /** What the state machine's apply returned. */
  response: unknown;
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

interface ApplyWaiter {
  term: number;
  waiter: Waiter<ApplyResult>;
}

interface IndexWaiter {
  index: number;
  waiter: Waiter<number>;
  /** Rejected when leadership is lost (a barrier); a confirmed read stays valid and only waits for apply. */
  leaderOnly: boolean;
}

interface Condition {
  /** Returns a value to resolve with, undefined to keep waiting, or throws to reject. */
  poll: () => unknown;
  waiter: Waiter<unknown>;
}

export class RaftNode {
  readonly id: NodeId;
  private readonly storage: RaftStorage;
  private readonly snapshots: SnapshotStore;
  private readonly transport: Transport;
  private readonly fsm: FSM;
  private readonly logger: Logger;
  private readonly tickMs: number;
  private readonly electionTicks: number;
  private readonly snapshotThreshold: number;
  private readonly snapshotIntervalMs: number;
  private readonly trailingLogs: number;
  private readonly defaultTimeoutMs: number;

  private readonly waiters = new WaiterRegistry();
  private readonly applies = new Map<number, ApplyWaiter>();
  private readonly indexWaiters = new Set<IndexWaiter>();
  private readonly reads = new Map<number, { waiter: Waiter<number>; thenApply: boolean }>();
  private readonly conditions = new Set<Condition>();
  private nextReadId = 1;

  private readonly stateListeners = new Set<Listener<NodeState>>();
  private readonly leaderListeners = new Set<Listener<LeaderInfo | null>>();
  private lastState: NodeState = "Follower";
  private lastLeader: NodeId | null = null;
  private leaderTerm = 0;

  /** Addresses of every server seen in any configuration (replies may go to a removed server). */
  private readonly addresses = new Map<NodeId, string>();
  private addressesAt = -1;

  /** Last index applied to the state machine, and the term of the last entry handed out as committed. */
  private applied: number;
  private committedTerm = 0;
  private appliedConfiguration: { configuration: Configuration; index: number };
  /** Meta of a snapshot taken now: the last command applied (later no-op/config entries do not change the FSM). */
  private fsmPoint: SnapshotMeta;

  private readonly loop = new Mutex();
  private passScheduled = false;
  private passRunning = false;
  private closed = false;
  private shutdownDone: Promise<void> | undefined;
  private snapshotting: Promise<SnapshotMeta> | undefined;
  private ticker: ReturnType<typeof setInterval> | undefined;
  private snapshotTimer: ReturnType<typeof setTimeout> | undefined;

  private constructor(
    private readonly core: RaftCore,
    options: RaftNodeOptions,
    recovered: { applied: number; appliedConfiguration: { configuration: Configuration; index: number }; fsmPoint: SnapshotMeta },
  ) {
    this.id = options.id;
    this.storage = options.storage;
    this.snapshots = options.snapshots;
    this.transport = options.transport;
    this.fsm = options.fsm;
    this.logger = options.logger ?? silentLogger;
    this.tickMs = options.tickMs ?? 50;
    this.electionTicks = options.electionTicks ?? 10;
    this.snapshotThreshold = options.snapshotThreshold ?? 8192;
    this.snapshotIntervalMs = options.snapshotIntervalMs ?? 30_000;
    this.trailingLogs = options.trailingLogs ?? 10_240;
    this.defaultTimeoutMs = options.timeoutMs ?? 10_000;
    this.applied = recovered.applied;
    this.appliedConfiguration = recovered.appliedConfiguration;
    this.fsmPoint = recovered.fsmPoint;
  }

  /** Loads the node's state from storage, restores the state machine and starts the loop. */
  static async open(options: RaftNodeOptions): Promise<RaftNode> {
    const logger = options.logger ?? silentLogger;
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
    const node = new RaftNode(core, options, recovered);
    await node.start();
    const st = core.status();
    logger.info("raft node opened", { id: options.id, term: st.term, commit: st.commitIndex, applied: node.applied, lastIndex: st.lastIndex, snapshot: st.snapshotIndex });
    return node;
  }

  private async start(): Promise<void> {
    this.transport.onUnreachable = (peer) => {
      if (this.closed) return;
      this.core.reportUnreachable(peer);
      this.schedule();
    };
    // `from` is optional: a transport that knows the sender's address passes it (see deliver).
    await this.transport.start((m: Message, from?: Peer) => this.deliver(m, from));
    this.refreshAddresses(this.core.status());
    this.ticker = setInterval(() => this.tick(), this.tickMs);
    this.scheduleSnapshotCheck();
    // Committed entries the state machine does not have yet are replayed by the first pass.
    this.schedule();
  }

  // ---- inputs ---------------------------------------------------------------------

  private deliver(message: Message, from?: Peer): void {
    if (this.closed) return;
    // A server being added has no configuration yet, so it cannot answer the
    // leader unless the transport tells it where the message came from.
    if (from && from.id === message.from && !this.addresses.has(from.id)) this.addresses.set(from.id, from.address);
    this.core.step(message);
    this.schedule();
  }

  private tick(): void {
    if (this.closed) return;
    this.core.tick();
    this.observe();
    this.schedule();
  }

  /** Brand-new node only: writes the initial configuration (identical on every bootstrapped node) as entry 1. */
  async bootstrapCluster(configuration: Configuration): Promise<void> {
    this.ensureOpen();
    this.core.bootstrap(configuration);
    this.refreshAddresses(this.core.status());
    this.schedule();
    await this.waitUntil("bootstrap", this.defaultTimeoutMs, () => (this.storage.log.lastIndex() >= 1 ? true : undefined));
  }

  /** Replicates a command; resolves once it is committed and applied here, with the state machine's response. */
  async apply(command: Uint8Array, options: CallOptions = {}): Promise<ApplyResult> {
    this.ensureOpen();
    const at = this.call(() => this.core.propose(command));
    return this.waitForEntry("apply", at, options.timeoutMs);
  }

  /** Leader only: resolves (with that index) once every entry in the leader's log when called is applied here. */
  async barrier(options: CallOptions = {}): Promise<number> {
    this.ensureOpen();
    const st = this.core.status();
    if (st.role !== "Leader") throw this.notLeader(st);
    return this.waitForApplied("barrier", st.lastIndex, true, options.timeoutMs);
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
    const index = this.call(() => this.core.leaseRead());
    if (index === null) return this.readIndex(options);
    return this.waitForApplied("leaseRead", index, false, options.timeoutMs);
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
    return this.waitUntil<LeaderInfo>("leadershipTransfer", timeoutMs, () => {
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
    while (this.snapshotting) await this.snapshotting.catch(() => undefined);
    this.ensureOpen();
    const run = this.takeSnapshot();
    this.snapshotting = run;
    try {
      return await run;
    } finally {
      this.snapshotting = undefined;
    }
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
      appliedIndex: this.applied,
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
    if (rd.snapshot) await this.installSnapshot(rd.snapshot);
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
    if (rd.messages.length > 0) this.send(rd.messages);
    if (rd.committed.length > 0) {
      this.committedTerm = rd.committed[rd.committed.length - 1]!.term;
      await this.applyCommitted(rd.committed);
    }
    for (const id of rd.failedReads) this.reads.get(id)?.waiter.reject(new LeadershipLostError("confirming leadership for a read"));
    for (const { id, index } of rd.readStates) {
      const read = this.reads.get(id);
      if (!read) continue;
      this.reads.delete(id);
      if (read.thenApply) this.moveToApplied(read.waiter, index);
      else read.waiter.resolve(index);
    }
    this.settleApplied();
  }

  private async installSnapshot(snap: Snapshot): Promise<void> {
    try {
      await this.snapshots.create(snap.meta, snap.data);
    } catch (error) {
      throw new FatalNodeError(`storing the snapshot received at index ${snap.meta.index}`, error);
    }
    try {
      await this.fsm.restore(snap.data);
    } catch (error) {
      throw new FatalNodeError(`restoring the state machine from the snapshot at index ${snap.meta.index}`, error);
    }
    this.applied = snap.meta.index;
    this.appliedConfiguration = { configuration: snap.meta.configuration, index: snap.meta.configurationIndex };
    this.fsmPoint = snap.meta;
    this.logger.info("installed a snapshot from the leader", { index: snap.meta.index, term: snap.meta.term, bytes: snap.data.length });
  }

  private send(messages: Message[]): void {
    this.refreshAddresses(this.core.status());
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

  /** Applies committed entries in order: runs of commands go to the FSM (in one applyBatch when it has one). */
  private async applyCommitted(entries: Entry[]): Promise<void> {
    let run: Entry[] = [];
    for (const e of entries) {
      if (e.type === EntryType.Command) {
        run.push(e);
        continue;
      }
      if (run.length > 0) await this.applyCommands(run);
      run = [];
      if (e.type === EntryType.Config) this.applyConfiguration(e);
      this.applied = e.index;
      this.settleEntry(e, { ok: true, value: undefined });
    }
    if (run.length > 0) await this.applyCommands(run);
  }

  private async applyCommands(entries: Entry[]): Promise<void> {
    const commands: CommittedCommand[] = entries.map((e) => ({ index: e.index, term: e.term, data: e.data }));
    if (this.fsm.applyBatch && commands.length > 1) {
      let responses: unknown[];
      try {
        const out = this.fsm.applyBatch(commands);
        responses = out instanceof Promise ? await out : out;
      } catch (error) {
        throw new FatalNodeError(`applying entries ${entries[0]!.index}..${entries[entries.length - 1]!.index} to the state machine`, error);
      }
      entries.forEach((e, i) => this.commandApplied(e, { ok: true, value: responses[i] }));
      return;
    }
    for (let i = 0; i < entries.length; i++) {
      let outcome: { ok: true; value: unknown } | { ok: false; error: unknown };
      try {
        const out = this.fsm.apply(commands[i]!);
        outcome = { ok: true, value: out instanceof Promise ? await out : out };
      } catch (error) {
        // Deterministic on every node (the FSM contract), so it is the command's outcome, not a fault.
        outcome = { ok: false, error };
      }
      this.commandApplied(entries[i]!, outcome);
    }
  }

  private commandApplied(e: Entry, outcome: { ok: true; value: unknown } | { ok: false; error: unknown }): void {
    this.applied = e.index;
    const c = this.appliedConfiguration;
    this.fsmPoint = { index: e.index, term: e.term, configuration: c.configuration, configurationIndex: c.index };
    this.settleEntry(e, outcome);
  }

  private applyConfiguration(e: Entry): void {
    const before = this.appliedConfiguration.configuration;
    const after = decodeConfiguration(e.data);
    this.appliedConfiguration = { configuration: after, index: e.index };
    for (const s of after.servers) {
      const old = before.servers.find((o) => o.id === s.id);
      if (!old) this.logger.info("member added", { id: s.id, address: s.address, suffrage: s.suffrage, index: e.index });
      else if (old.suffrage !== s.suffrage) this.logger.info("member changed suffrage", { id: s.id, suffrage: s.suffrage, index: e.index });
    }
    for (const o of before.servers) {
      if (!after.servers.some((s) => s.id === o.id)) this.logger.info("member removed", { id: o.id, index: e.index });
    }
  }

  /** Settles the apply() future for this index: only if the entry is the one it proposed (same term). */
  private settleEntry(e: Entry, outcome: { ok: true; value: unknown } | { ok: false; error: unknown }): void {
    const pending = this.applies.get(e.index);
    if (!pending) return;
    if (pending.term !== e.term) pending.waiter.reject(new LeadershipLostError("replicating the entry", e.index));
    else if (outcome.ok) pending.waiter.resolve({ index: e.index, response: outcome.value });
    else pending.waiter.reject(outcome.error);
  }

  private settleApplied(): void {
    for (const w of this.indexWaiters) if (w.index <= this.applied) w.waiter.resolve(w.index);
  }

  /** Role and leader changes: observers, logging, and failing what only a leader can finish. */
  private observe(): void {
    if (this.closed) return;
    const st = this.core.status();
    if (st.configurationIndex !== this.addressesAt) this.refreshAddresses(st);
    const lostLeadership = this.lastState === "Leader" && (st.role !== "Leader" || st.term !== this.leaderTerm);
    if (lostLeadership) {
      this.logger.info("lost leadership", { term: this.leaderTerm, newTerm: st.term, leader: st.leader });
      for (const { waiter } of this.applies.values()) waiter.reject(new LeadershipLostError(waiter.operation));
      for (const w of this.indexWaiters) if (w.leaderOnly) w.waiter.reject(new LeadershipLostError(w.waiter.operation));
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
    for (const c of this.conditions) this.pollCondition(c);
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

  private waitForEntry(operation: string, at: { index: number; term: number }, timeoutMs?: number): Promise<ApplyResult> {
    const waiter = this.waiters.create<ApplyResult>(operation, this.timeout(timeoutMs));
    this.applies.set(at.index, { term: at.term, waiter });
    waiter.cleanup = () => {
      if (this.applies.get(at.index)?.waiter === waiter) this.applies.delete(at.index);
    };
    this.schedule();
    return waiter.promise;
  }

  private waitForApplied(operation: string, index: number, leaderOnly: boolean, timeoutMs?: number): Promise<number> {
    if (this.applied >= index) return Promise.resolve(index);
    const waiter = this.waiters.create<number>(operation, this.timeout(timeoutMs));
    const entry: IndexWaiter = { index, waiter, leaderOnly };
    this.indexWaiters.add(entry);
    waiter.cleanup = () => this.indexWaiters.delete(entry);
    return waiter.promise;
  }

  private moveToApplied(waiter: Waiter<number>, index: number): void {
    if (this.applied >= index) return waiter.resolve(index);
    const entry: IndexWaiter = { index, waiter, leaderOnly: false };
    this.indexWaiters.add(entry);
    waiter.cleanup = () => this.indexWaiters.delete(entry);
  }

  private async requestRead(operation: string, thenApply: boolean, timeoutMs?: number): Promise<number> {
    this.ensureOpen();
    const id = this.nextReadId++;
    this.call(() => this.core.readIndex(id));
    const waiter = this.waiters.create<number>(operation, this.timeout(timeoutMs));
    this.reads.set(id, { waiter, thenApply });
    waiter.cleanup = () => this.reads.delete(id);
    this.schedule();
    return waiter.promise;
  }

  /** Resolves with poll()'s first defined value, checked now and after every tick and pass; rejects if it throws. */
  private waitUntil<T>(operation: string, timeoutMs: number, poll: () => T | undefined): Promise<T> {
    const waiter = this.waiters.create<T>(operation, timeoutMs);
    const c: Condition = { poll, waiter: waiter as Waiter<unknown> };
    this.conditions.add(c);
    waiter.cleanup = () => this.conditions.delete(c);
    this.pollCondition(c);
    return waiter.promise;
  }

  private pollCondition(c: Condition): void {
    try {
      const value = c.poll();
      if (value !== undefined) c.waiter.resolve(value);
    } catch (error) {
      c.waiter.reject(this.translate(error));
    }
  }

  private async changeMembership(change: MembershipChange, prevIndex: number, timeoutMs?: number): Promise<{ index: number }> {
    this.ensureOpen();
    const deadline = Date.now() + this.timeout(timeoutMs);
    const operation = change.kind;
    // The core accepts one change at a time, and only once the leader has
    // committed an entry of its term: wait for that here rather than fail, and
    // propose synchronously inside the poll so concurrent calls queue up.
    const at = await this.waitUntil(operation, this.timeout(timeoutMs), () => {
      const st = this.core.status();
      if (st.role !== "Leader") throw this.notLeader(st);
      if (this.committedTerm !== st.term || st.configurationIndex > st.commitIndex) return undefined;
      const proposed = this.core.proposeMembershipChange(change, prevIndex);
      this.schedule();
      return proposed;
    });
    if (at.index <= this.applied) return { index: at.index }; // already the configuration: nothing to do
    const remaining = timeoutMs === 0 || (timeoutMs === undefined && this.defaultTimeoutMs === 0) ? 0 : Math.max(1, deadline - Date.now());
    const { index } = await this.waitForEntry(operation, at, remaining);
    return { index };
  }

  // ---- snapshots --------------------------------------------------------------------

  private scheduleSnapshotCheck(): void {
    if (this.closed || this.snapshotIntervalMs <= 0) return;
    const delay = this.snapshotIntervalMs * (1 + Math.random());
    this.snapshotTimer = setTimeout(() => {
      void this.autoSnapshot().finally(() => this.scheduleSnapshotCheck());
    }, delay);
  }

  private async autoSnapshot(): Promise<void> {
    if (this.closed || this.snapshotting) return;
    if (this.fsmPoint.index - this.core.status().snapshotIndex < this.snapshotThreshold) return;
    try {
      await this.snapshot();
    } catch (error) {
      if (!this.closed) this.logger.warn("automatic snapshot failed", { error: String(error) });
    }
  }

  private async takeSnapshot(): Promise<SnapshotMeta> {
    // The state machine must be exactly at fsmPoint while it copies itself: hold the loop.
    const release = await this.loop.acquire();
    let meta: SnapshotMeta;
    let data: Uint8Array;
    try {
      this.ensureOpen();
      meta = this.fsmPoint;
      const current = this.core.status().snapshotIndex;
      if (meta.index === 0 || meta.index <= current) {
        const existing = (await this.snapshots.latest())?.stored.meta;
        if (existing) return existing;
        throw new RaftError("NOTHING_TO_SNAPSHOT", "the state machine has applied nothing yet, so there is nothing to snapshot");
      }
      data = await this.fsm.snapshot();
    } finally {
      release();
    }
    // Writing the file can be slow: the loop keeps running meanwhile.
    await this.snapshots.create(meta, data);
    this.ensureOpen();
    // A no-op if a newer snapshot from the leader was installed meanwhile.
    this.core.compact(meta.index, data, this.trailingLogs);
    const cut = meta.index - this.trailingLogs;
    const first = this.storage.log.firstIndex();
    if (first > 0 && cut >= first) this.storage.transaction(() => this.storage.log.deleteRange(first, cut));
    this.logger.info("snapshot taken", { index: meta.index, term: meta.term, bytes: data.length, compactedTo: Math.max(cut, first - 1) });
    return meta;
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
    clearTimeout(this.snapshotTimer);
    this.waiters.rejectAll(new ShutdownError(reason));
    this.emit(this.stateListeners, "Shutdown", previous);
    this.shutdownDone = (async () => {
      // Let an in-flight pass or snapshot finish its I/O before closing the stores under it.
      const release = await this.loop.acquire();
      release();
      await this.snapshotting?.catch(() => undefined);
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
