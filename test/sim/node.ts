// One simulated server: a RaftCore, the disk it persists to, and its state
// machine. `drive` is the driver loop of a real node, following the Ready
// contract of core-api.md to the letter: snapshot first (persist it, restore
// the state machine, replace the whole stored log), then entries replacing
// the stored suffix, then the hard state, all durable before the messages
// leave; then committed entries are applied and reads are served. Every
// step of it reports to the SafetyChecker.

import { RaftCore, type CoreOptions } from "../../src/raft/core/raft.ts";
import { seededRandom } from "../../src/raft/core/random.ts";
import type { Entry, HardState, Message, NodeId, ReadState, Ready, Snapshot } from "../../src/raft/core/types.ts";
import { InvariantViolation, type LeaderView, type LogView, type SafetyChecker } from "./checker.ts";
import { entryKey, SimFsm } from "./fsm.ts";
import { deriveSeed } from "./rng.ts";

/** What survives a crash. */
export interface Disk {
  hardState?: HardState;
  snapshot?: Snapshot;
  /** Contiguous; may start before the snapshot index (trailing entries kept by compaction). */
  entries: Entry[];
}

/** What the driver needs from the rest of the simulation. */
export interface DriverContext {
  readonly checker: SafetyChecker;
  send(m: Message): void;
  /** Highest term held by any node (live or on disk): the bound for Leader Completeness. */
  highestTerm(): number;
  leaders(): LeaderView[];
  readConfirmed(node: SimNode, rs: ReadState): void;
  readFailed(node: SimNode, id: number): void;
}

const copyEntry = (e: Entry): Entry => ({ ...e, data: e.data.slice() });

export class SimNode {
  core: RaftCore | null = null;
  disk: Disk = { entries: [] };
  fsm = new SimFsm();
  /** Bumped at every restart: a commit index may go back only across incarnations. */
  incarnation = 0;
  crashedAt = -1;
  /** Removed from the cluster and shut down for good. */
  retired = false;
  /** Virtual time of the last extra (clock-skew) tick. */
  lastSkewTick = -Infinity;

  constructor(
    readonly id: NodeId,
    private readonly seed: number,
    private readonly options: Omit<CoreOptions, "id" | "random">,
  ) {
    this.core = this.newCore();
  }

  get live(): boolean {
    return this.core !== null;
  }

  private newCore(): RaftCore {
    const random = seededRandom(deriveSeed(this.seed, `${this.id}#${this.incarnation}`));
    const d = this.disk;
    return new RaftCore(
      { id: this.id, random, ...this.options },
      { hardState: d.hardState && { ...d.hardState }, snapshot: d.snapshot, entries: d.entries.map(copyEntry) },
    );
  }

  crash(now: number): void {
    this.core = null;
    this.crashedAt = now;
  }

  /** A new incarnation from the disk; its state machine restarts from the snapshot and re-applies. */
  restart(checker: SafetyChecker): void {
    this.incarnation++;
    this.core = this.newCore();
    this.fsm = SimFsm.fromSnapshot(this.disk.snapshot?.data);
    const st = this.core.status();
    checker.restarted(this.id, { lastIndex: this.lastIndex(), lastTerm: this.termAt(this.lastIndex()) ?? -1, commit: this.disk.hardState?.commit ?? 0 }, {
      lastIndex: st.lastIndex,
      lastTerm: st.lastTerm,
      commit: st.commitIndex,
    });
  }

  // ---- the disk ---------------------------------------------------------------

  snapshotIndex(): number {
    return this.disk.snapshot?.meta.index ?? 0;
  }

  lastIndex(): number {
    const es = this.disk.entries;
    return es.length > 0 ? es[es.length - 1]!.index : this.snapshotIndex();
  }

  termAt(index: number): number | undefined {
    const snap = this.disk.snapshot;
    if (snap && index === snap.meta.index) return snap.meta.term;
    const es = this.disk.entries;
    if (es.length > 0) {
      const e = es[index - es[0]!.index];
      if (e !== undefined) return e.term;
    }
    if (index === 0) return 0;
    return undefined;
  }

  /** The durable log, for Leader Completeness: an entry is held if stored, or covered by the snapshot. */
  readonly logView: LogView = {
    has: (index, term) => index <= this.snapshotIndex() || this.termAt(index) === term,
  };

  // ---- the driver loop --------------------------------------------------------

  /** Processes Ready batches until the core has nothing more to say. */
  drive(ctx: DriverContext): void {
    const core = this.core;
    if (!core) return;
    for (let guard = 0; core.hasReady(); guard++) {
      if (guard > 100) throw new InvariantViolation("Ready Contract", `${this.id}: hasReady() stays true after 100 ready() calls`);
      const rd = core.ready();
      // A leader's appends may leave before the Ready is persisted (Ready.sendBeforePersist).
      for (const m of rd.messages.slice(0, rd.sendBeforePersist)) ctx.send(m);
      this.persist(rd, ctx);
      for (const m of rd.messages.slice(rd.sendBeforePersist)) ctx.send(m);
      this.apply(rd, ctx);
    }
  }

  /** Makes a Ready's state durable (and nothing else): the first half of the driver loop. */
  persist(rd: Ready, ctx: DriverContext): void {
    const d = this.disk;
    const persistedCommit = d.hardState?.commit ?? 0;
    if (rd.snapshot) this.installSnapshot(rd, ctx, persistedCommit);
    if (rd.entries.length > 0) this.storeEntries(rd.entries, ctx, persistedCommit);
    if (rd.hardState) {
      const hs = rd.hardState;
      const old = d.hardState;
      if (old && hs.term < old.term) throw new InvariantViolation("Term Monotonic", `${this.id} persisted term ${hs.term} after term ${old.term}`);
      if (old && hs.term === old.term && old.vote !== null && hs.vote !== old.vote) {
        throw new InvariantViolation("Vote Once Per Term", `${this.id} voted for ${old.vote} and then ${hs.vote} in term ${hs.term}`);
      }
      if (old && hs.commit < old.commit) {
        throw new InvariantViolation("Commit Monotonic", `${this.id} persisted commit ${hs.commit} after commit ${old.commit}`);
      }
      if (hs.commit > this.lastIndex()) {
        throw new InvariantViolation("Ready Contract", `${this.id} persisted commit ${hs.commit} beyond its stored log (last index ${this.lastIndex()})`);
      }
      d.hardState = { ...hs };
    }
  }

  private installSnapshot(rd: Ready, ctx: DriverContext, persistedCommit: number): void {
    const snap = rd.snapshot!;
    const { index, term } = snap.meta;
    if (index <= this.fsm.lastIndex) {
      throw new InvariantViolation("Ready Contract", `${this.id} was handed snapshot ${index} but has already applied ${this.fsm.lastIndex}`);
    }
    // The whole stored log is replaced by rd.entries: whatever else is after the snapshot is dropped.
    const kept = new Map(rd.entries.map((e) => [e.index, e.term]));
    for (const e of this.disk.entries) {
      if (e.index > index && kept.get(e.index) !== e.term) ctx.checker.entryDropped(this.id, e.index, e.term, persistedCommit);
    }
    const fsm = SimFsm.fromSnapshot(snap.data);
    if (fsm.lastIndex !== index || fsm.lastTerm !== term) {
      throw new InvariantViolation("Snapshot Consistency", `${this.id} got snapshot meta ${index}/${term} whose data ends at ${fsm.lastIndex}/${fsm.lastTerm}`);
    }
    ctx.checker.restoredFrom(this.id, fsm.records, ctx.highestTerm());
    this.disk.snapshot = { meta: structuredClone(snap.meta), data: snap.data.slice() };
    this.disk.entries = [];
    this.fsm = fsm;
  }

  private storeEntries(entries: Entry[], ctx: DriverContext, persistedCommit: number): void {
    const d = this.disk;
    const first = entries[0]!.index;
    const last = this.lastIndex();
    if (first > last + 1) {
      throw new InvariantViolation("Ready Contract", `${this.id} was asked to store entries from ${first} but its log ends at ${last}`);
    }
    if (first <= this.snapshotIndex()) {
      throw new InvariantViolation("Ready Contract", `${this.id} was asked to store entry ${first}, covered by its snapshot at ${this.snapshotIndex()}`);
    }
    const prevTerm = this.termAt(first - 1);
    if (prevTerm === undefined) {
      throw new InvariantViolation("Ready Contract", `${this.id} was asked to store entries from ${first} but holds no entry ${first - 1}`);
    }
    for (let i = 1; i < entries.length; i++) {
      if (entries[i]!.index !== first + i) throw new InvariantViolation("Ready Contract", `${this.id} was handed non-contiguous entries at ${first + i}`);
    }
    const keepUpTo = d.entries.length > 0 ? first - d.entries[0]!.index : 0;
    for (let i = Math.max(0, keepUpTo); i < d.entries.length; i++) {
      const old = d.entries[i]!;
      const replacement = entries[old.index - first];
      if (replacement === undefined || replacement.term !== old.term) ctx.checker.entryDropped(this.id, old.index, old.term, persistedCommit);
    }
    d.entries = d.entries.slice(0, Math.max(0, keepUpTo)).concat(entries.map(copyEntry));
    ctx.checker.logWritten(
      this.id,
      prevTerm,
      entries.map((e) => ({ index: e.index, term: e.term, key: entryKey(e) })),
    );
  }

  /** The second half: committed entries to the state machine, then reads. */
  private apply(rd: Ready, ctx: DriverContext): void {
    if (rd.committed.length > 0) {
      const highest = ctx.highestTerm();
      const leaders = ctx.leaders();
      for (const e of rd.committed) {
        if (e.index !== this.fsm.lastIndex + 1) {
          throw new InvariantViolation("Ready Contract", `${this.id} was handed committed entry ${e.index} after applying ${this.fsm.lastIndex}`);
        }
        ctx.checker.applied(this.id, this.fsm.apply(e), highest, leaders);
      }
    }
    for (const id of rd.failedReads) ctx.readFailed(this, id);
    for (const rs of rd.readStates) ctx.readConfirmed(this, rs);
  }

  /** Compacts at the applied index, as the node's snapshotter does: snapshot the FSM, store it, trim the log. */
  compact(trailing: number): string {
    const core = this.core!;
    const idx = this.fsm.lastIndex;
    if (idx <= this.snapshotIndex()) return `compact ${this.id}: nothing new (applied ${idx})`;
    const snap = this.fsm.snapshot();
    core.compact(idx, snap.data, trailing);
    const ours = snap.meta;
    const theirs = core.status();
    if (theirs.snapshotIndex !== ours.index) {
      throw new InvariantViolation("Snapshot Consistency", `${this.id}: compact(${idx}) left the core's snapshot at ${theirs.snapshotIndex}`);
    }
    this.disk.snapshot = snap;
    this.disk.entries = this.disk.entries.filter((e) => e.index > idx - trailing);
    return `compact ${this.id} at ${idx}/${ours.term} trailing=${trailing} (core first index ${theirs.firstIndex})`;
  }
}
