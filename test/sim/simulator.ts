// Deterministic simulation of a Pontoon cluster: RaftCores, their disks and
// state machines, and a hostile network, all in memory under virtual time.
// One seed decides every choice, so a failure replays exactly. Two phases:
//   1. faults: a random event per step (deliver, tick, propose, read, crash,
//      restart, partition, heal, membership change, transfer, compaction...),
//      with every safety invariant checked after each step;
//   2. healed: the network is made reliable, crashed servers restart, churn
//      stops; within a bounded number of ticks a leader must commit fresh
//      proposals on every member, and all members must converge.

import { RaftError } from "../../src/raft/core/errors.ts";
import type { RaftCore } from "../../src/raft/core/raft.ts";
import type { Configuration, Message, NodeId, ReadState } from "../../src/raft/core/types.ts";
import { InvariantViolation, SafetyChecker, type LeaderView } from "./checker.ts";
import { chooseKnobs, describeKnobs, type EventName, type Knobs } from "./knobs.ts";
import { MembershipDriver } from "./membership.ts";
import { describe as describeMessage, SimNetwork } from "./network.ts";
import { SimNode, type DriverContext } from "./node.ts";
import { Rng } from "./rng.ts";
import { Trace } from "./trace.ts";

export interface SimOptions {
  seed: number;
  /** Voters at the start; chosen by the seed when omitted (3 sometimes grows to 5). */
  nodes?: 3 | 5;
  /** Events in the fault phase. */
  steps?: number;
  /**
   * Ticks the healed phase may go without progress (an entry stored or
   * applied anywhere, a snapshot chunk acknowledged) before liveness is
   * declared lost. Catching up is allowed to be slow (one 97-byte chunk or
   * one entry per round trip), never to stall.
   */
  livenessTicks?: number;
  /** More crashes, partitions and message loss. */
  heavy?: boolean;
  /** Called with every trace line as it happens. */
  onTrace?: (line: string) => void;
}

export interface SimStats {
  events: number;
  ticks: number;
  elections: number;
  commits: number;
  crashes: number;
  reads: number;
  membershipChanges: number;
  messages: number;
}

export interface SimResult {
  seed: number;
  ok: boolean;
  knobs: string;
  stats: SimStats;
  trace: string[];
  failure?: { invariant: string; detail: string };
}

export const DEFAULT_STEPS = 4000;
export const DEFAULT_LIVENESS_TICKS = 200;
/** However much progress is made, the healed phase must converge within this many ticks. */
export const MAX_HEALED_TICKS = 5000;
const encoder = new TextEncoder();

export function simulate(options: SimOptions): SimResult {
  return new Simulation(options).run();
}

class Simulation implements DriverContext {
  readonly checker = new SafetyChecker();
  readonly rng: Rng;
  readonly knobs: Knobs;
  readonly net: SimNetwork;
  readonly trace: Trace;
  readonly nodes = new Map<NodeId, SimNode>();
  readonly membership: MembershipDriver;
  private now = 0;
  private step = 0;
  private proposals = 0;
  private readSeq = 0;
  private crashes = 0;
  private snapshotAcks = 0;
  private readonly pendingReads = new Map<number, { node: NodeId; required: number }>();
  private nextNodeNumber = 1;

  constructor(private readonly options: SimOptions) {
    this.rng = new Rng(options.seed);
    this.knobs = chooseKnobs(this.rng, options.nodes, options.heavy ?? false);
    this.net = new SimNetwork(this.rng, { ...this.knobs.faults });
    this.trace = new Trace(options.onTrace);
    this.membership = new MembershipDriver(this);
  }

  run(): SimResult {
    let failure: SimResult["failure"];
    try {
      this.setup();
      const steps = this.options.steps ?? DEFAULT_STEPS;
      while (this.step < steps) this.faultStep();
      this.healedPhase();
    } catch (error) {
      failure =
        error instanceof InvariantViolation
          ? { invariant: error.invariant, detail: error.detail }
          : { invariant: "Unexpected Exception", detail: error instanceof Error ? (error.stack ?? error.message) : String(error) };
      this.trace.add(this.step, this.now, `FAILED: ${failure.invariant}: ${failure.detail}`);
    }
    return {
      seed: this.options.seed,
      ok: failure === undefined,
      knobs: describeKnobs(this.knobs),
      stats: {
        events: this.step,
        ticks: this.now,
        elections: this.checker.elections,
        commits: this.checker.commits,
        crashes: this.crashes,
        reads: this.readSeq,
        membershipChanges: this.membership.accepted,
        messages: this.net.sent,
      },
      trace: this.trace.lines,
      failure,
    };
  }

  // ---- DriverContext ------------------------------------------------------------

  send(m: Message): void {
    this.net.send(m, this.now);
  }

  highestTerm(): number {
    let t = 0;
    for (const n of this.nodes.values()) t = Math.max(t, n.core ? n.core.status().term : (n.disk.hardState?.term ?? 0));
    return t;
  }

  leaders(): LeaderView[] {
    const out: LeaderView[] = [];
    for (const n of this.nodes.values()) {
      const st = n.core?.status();
      if (st?.role === "Leader") out.push({ id: n.id, term: st.term, log: n.logView });
    }
    return out;
  }

  readConfirmed(node: SimNode, rs: ReadState): void {
    const p = this.pendingReads.get(rs.id);
    if (!p || p.node !== node.id) {
      throw new InvariantViolation("Ready Contract", `${node.id} confirmed read #${rs.id}, which it was never asked for (or has already answered)`);
    }
    this.pendingReads.delete(rs.id);
    this.checker.read(node.id, "readIndex", rs.id, rs.index, p.required);
    this.note(`read #${rs.id} confirmed on ${node.id} at index ${rs.index} (required ${p.required})`);
  }

  readFailed(node: SimNode, id: number): void {
    this.pendingReads.delete(id);
    this.note(`read #${id} failed on ${node.id}`);
  }

  spawn(): SimNode | undefined {
    if (this.nextNodeNumber > 9) return undefined;
    const node = new SimNode(`n${this.nextNodeNumber++}`, this.options.seed, this.knobs.core);
    this.nodes.set(node.id, node);
    this.note(`spawn ${node.id} (empty)`);
    return node;
  }

  revive(node: SimNode): void {
    if (!node.retired) return;
    node.retired = false;
    this.note(`revive ${node.id} from its old disk to add it again`);
    node.restart(this.checker);
  }

  // ---- the loop ------------------------------------------------------------------

  private setup(): void {
    const ids = Array.from({ length: this.knobs.initialVoters }, () => `n${this.nextNodeNumber++}`);
    const configuration: Configuration = { servers: ids.map((id) => ({ id, address: "sim", suffrage: "voter" as const })) };
    for (const id of ids) {
      const node = new SimNode(id, this.options.seed, this.knobs.core);
      node.core!.bootstrap(configuration);
      this.nodes.set(id, node);
    }
    this.membership.observeCommitted(configuration, 1);
    this.trace.add(0, 0, `setup seed=${this.options.seed} ${describeKnobs(this.knobs)}`);
    this.afterEvent();
  }

  private note(text: string): void {
    this.trace.add(this.step, this.now, `  ${text}`);
  }

  private event(text: string): void {
    this.step++;
    this.trace.add(this.step, this.now, text);
  }

  /** Drives every node's Ready, then checks every invariant that can be checked per step. */
  private afterEvent(): void {
    for (const n of this.nodes.values()) n.drive(this);
    for (const n of this.nodes.values()) {
      if (!n.core) continue;
      const st = n.core.status();
      this.checker.progress(n.id, n.incarnation, st.commitIndex, st.appliedIndex);
      if (n.fsm.lastIndex !== st.appliedIndex) {
        throw new InvariantViolation("Ready Contract", `${n.id}'s state machine applied ${n.fsm.lastIndex} but the core reports applied ${st.appliedIndex}`);
      }
      if (st.lastIndex !== n.lastIndex() || st.lastTerm !== n.termAt(st.lastIndex)) {
        throw new InvariantViolation(
          "Ready Contract",
          `${n.id}'s log ends at ${st.lastIndex}/${st.lastTerm} in memory but at ${n.lastIndex()}/${n.termAt(n.lastIndex())} on disk`,
        );
      }
      if (st.role === "Leader") {
        this.checker.leader(n.id, st.term, n.logView);
        if (st.configurationIndex <= st.commitIndex) this.retireRemoved(st.configuration, st.configurationIndex);
      }
    }
  }

  private liveNodes(): SimNode[] {
    return [...this.nodes.values()].filter((n) => n.live);
  }

  private liveLeaders(): RaftCore[] {
    return this.liveNodes()
      .map((n) => n.core!)
      .filter((c) => c.status().role === "Leader");
  }

  /** The leader of the highest term among the live nodes. */
  private topLeader(): RaftCore | undefined {
    let best: RaftCore | undefined;
    for (const c of this.liveLeaders()) if (!best || c.status().term > best.status().term) best = c;
    return best;
  }

  private maxCommit(): number {
    let c = 0;
    for (const n of this.nodes.values()) c = Math.max(c, n.core ? n.core.status().commitIndex : (n.disk.hardState?.commit ?? 0));
    return c;
  }

  private faultStep(): void {
    const due = this.net.countDue(this.now);
    if (due > 0 && this.rng.chance(Math.min(0.92, 0.45 + 0.08 * due))) this.deliver(due, this.knobs.tornCrash);
    else this.randomEvent();
    this.afterEvent();
  }

  private randomEvent(): void {
    const w = this.knobs.weights;
    const crashed = [...this.nodes.values()].filter((n) => !n.live && !n.retired);
    const available: [EventName, number][] = [
      ["tick", w.tick],
      ["skewTick", w.skewTick],
      ["propose", w.propose],
      ["readIndex", w.readIndex],
      ["leaseRead", w.leaseRead],
      ["crash", w.crash],
      ["restart", crashed.length > 0 ? w.restart : 0],
      ["partition", this.net.partitioned ? 0 : w.partition],
      ["cutLink", w.cutLink],
      ["heal", this.net.partitioned ? w.heal : 0],
      ["membership", w.membership],
      ["transfer", w.transfer],
      ["compact", w.compact],
      ["campaign", w.campaign],
    ];
    let total = 0;
    for (const [, weight] of available) total += weight;
    let r = this.rng.float() * total;
    for (const [name, weight] of available) {
      if ((r -= weight) < 0) return this.run1(name, crashed);
    }
    this.run1("tick", crashed);
  }

  private run1(name: EventName, crashed: SimNode[]): void {
    const rng = this.rng;
    switch (name) {
      case "tick":
        return this.tick();
      case "skewTick": {
        // A clock running fast: at most one extra tick per two election timeouts keeps drift within the lease's margin.
        const eligible = this.liveNodes().filter((n) => this.now - n.lastSkewTick >= 2 * this.knobs.core.electionTicks!);
        if (eligible.length === 0) return this.tick();
        const n = rng.pick(eligible);
        n.lastSkewTick = this.now;
        this.event(`skew tick ${n.id}`);
        n.core!.tick();
        return;
      }
      case "propose":
        return this.propose();
      case "readIndex": {
        const leader = this.pickLeader();
        if (!leader) return this.event("readIndex: no leader");
        const id = ++this.readSeq;
        const required = this.maxCommit();
        this.event(`readIndex #${id} at ${leader.id} (required ${required})`);
        leader.readIndex(id);
        this.pendingReads.set(id, { node: leader.id, required });
        return;
      }
      case "leaseRead": {
        const leader = this.pickLeader();
        if (!leader) return this.event("leaseRead: no leader");
        const id = ++this.readSeq;
        const required = this.maxCommit();
        const index = leader.leaseRead();
        this.event(`leaseRead #${id} at ${leader.id}: ${index === null ? "no lease" : `index ${index}`} (required ${required})`);
        // Every lease the core grants is checked (without CheckQuorum it must grant none).
        if (index !== null) this.checker.read(leader.id, "lease", id, index, required);
        return;
      }
      case "crash": {
        const live = this.liveNodes();
        if (live.length === 0) return this.tick();
        return this.crash(rng.pick(live), "crash");
      }
      case "restart": {
        const minDown = this.knobs.fastRestart ? 0 : 2 * this.knobs.core.electionTicks!;
        const eligible = crashed.filter((n) => this.now - n.crashedAt >= minDown);
        if (eligible.length === 0) return this.tick();
        return this.restart(rng.pick(eligible));
      }
      case "partition": {
        const ids = [...this.nodes.values()].filter((n) => !n.retired).map((n) => n.id);
        rng.shuffle(ids);
        const cut = rng.chance(0.5) ? 1 : rng.between(1, ids.length - 1);
        const groups = [ids.slice(0, cut), ids.slice(cut)];
        this.net.partition(groups);
        return this.event(`partition ${groups.map((g) => `[${g.join(",")}]`).join(" | ")}`);
      }
      case "cutLink": {
        const ids = [...this.nodes.keys()];
        const from = rng.pick(ids);
        const to = rng.pick(ids.filter((id) => id !== from));
        this.net.cutLink(from, to);
        return this.event(`cut link ${from}->${to} (one way)`);
      }
      case "heal":
        this.net.heal();
        return this.event("heal all links");
      case "membership": {
        const leader = this.pickLeader();
        if (!leader) return this.event("membership: no leader");
        return this.event(this.membership.step(leader));
      }
      case "transfer": {
        const leader = this.pickLeader();
        if (!leader) return this.event("transfer: no leader");
        const others = leader
          .status()
          .configuration.servers.filter((s) => s.id !== leader.id)
          .map((s) => s.id);
        const to = others.length > 0 && rng.chance(0.7) ? rng.pick(others) : undefined;
        this.event(`transfer leadership from ${leader.id} to ${to ?? "(most up to date)"}`);
        this.tryCore(() => leader.transferLeadership(to));
        return;
      }
      case "compact": {
        const live = this.liveNodes();
        if (live.length === 0) return this.tick();
        return this.event(rng.pick(live).compact(rng.pick(this.knobs.trailing)));
      }
      case "campaign": {
        const followers = this.liveNodes().filter((n) => n.core!.status().role !== "Leader");
        if (followers.length === 0) return this.tick();
        const n = rng.pick(followers);
        this.event(`campaign ${n.id}`);
        n.core!.campaign();
        return;
      }
    }
  }

  private tryCore(f: () => void): void {
    try {
      f();
    } catch (error) {
      if (!(error instanceof RaftError)) throw error;
      this.note(`refused: ${error.code}`);
    }
  }

  private pickLeader(): RaftCore | undefined {
    const leaders = this.liveLeaders();
    return leaders.length === 0 ? undefined : this.rng.pick(leaders);
  }

  private tick(): void {
    this.now++;
    this.event("tick");
    for (const n of this.rng.shuffle(this.liveNodes())) n.core!.tick();
  }

  private deliver(due: number, tornCrash: number): void {
    const got = this.net.takeDue(this.now, due);
    if (!got) return this.tick();
    const m = got.flight.msg;
    const to = this.nodes.get(m.to);
    const fate = !to?.core ? " [dropped: down]" : this.net.blocked(m.from, m.to) ? " [dropped: cut]" : "";
    this.event(`deliver ${describeMessage(m)}${got.duplicated ? " (duplicated)" : ""}${fate}`);
    if (fate || !to?.core) return;
    if (m.type === "snapshotResp" && m.accepted) this.snapshotAcks++;
    to.core.step(m);
    if (tornCrash > 0 && this.rng.chance(tornCrash)) {
      if (!to.core.hasReady()) return this.crash(to, "crash after persisting, before sending or applying");
      const rd = to.core.ready();
      if (rd.sendBeforePersist > 0 && this.rng.chance(0.5)) {
        // A leader's appends left, and it crashed before its own fsync: followers store what it never did.
        for (const m of rd.messages.slice(0, rd.sendBeforePersist)) this.send(m);
        return this.crash(to, "crash after sending appends, before persisting");
      }
      // Crash between the fsync and the reply: its effects are durable, nobody hears of them.
      to.persist(rd, this);
      this.crash(to, "crash after persisting, before sending or applying");
    }
  }

  private propose(): void {
    const leader = this.pickLeader();
    if (!leader) return this.event("propose: no leader");
    const data = `c${this.options.seed}-${++this.proposals}`;
    try {
      const at = leader.propose(encoder.encode(data));
      this.event(`propose ${data} at ${leader.id} -> ${at.index}/${at.term}`);
    } catch (error) {
      if (!(error instanceof RaftError)) throw error;
      this.event(`propose ${data} at ${leader.id} refused: ${error.code}`);
    }
  }

  private crash(n: SimNode, how: string): void {
    this.event(`${how} ${n.id}`);
    n.crash(this.now);
    this.crashes++;
    for (const [id, p] of this.pendingReads) if (p.node === n.id) this.pendingReads.delete(id);
  }

  private restart(n: SimNode): void {
    this.event(`restart ${n.id} (down since @${n.crashedAt}; disk: snapshot ${n.snapshotIndex()}, log to ${n.lastIndex()}, commit ${n.disk.hardState?.commit ?? 0})`);
    n.restart(this.checker);
  }

  /** A server removed by a committed configuration is shut down for good half of the time; the rest keep running, cut off. */
  private retireRemoved(committed: Configuration, index: number): void {
    for (const id of this.membership.observeCommitted(committed, index)) {
      const n = this.nodes.get(id);
      if (!n || !this.rng.chance(0.5)) {
        this.note(`${id} removed by configuration ${index}; left running`);
        continue;
      }
      this.note(`${id} removed by configuration ${index}; shut down`);
      n.crash(this.now);
      n.retired = true;
    }
  }

  // ---- phase 2: liveness -----------------------------------------------------------

  private healedPhase(): void {
    this.event("=== healed phase: all links healed, network reliable, crashed servers restarted, no more churn ===");
    this.net.heal();
    this.net.faults = { loss: 0, duplicate: 0, maxDelay: Math.min(this.knobs.faults.maxDelay, 2) };
    for (const n of this.nodes.values()) if (!n.live && !n.retired) this.restart(n);
    this.afterEvent();

    const idleLimit = this.options.livenessTicks ?? DEFAULT_LIVENESS_TICKS;
    const hardDeadline = this.now + MAX_HEALED_TICKS;
    let lastProgress = { at: this.now, mark: this.progressMark() };
    const accepted: { index: number; term: number; data: string; leader: NodeId }[] = [];
    // Proposals go to a leader that has been settled for a whole election
    // timeout: a transfer started before the heal (its TimeoutNow may still be
    // in flight after the leader gave up on it) could otherwise legitimately
    // depose it and discard what it accepted.
    let stable = { leader: "", term: 0, since: this.now };
    for (;;) {
      const mark = this.progressMark();
      if (mark !== lastProgress.mark) lastProgress = { at: this.now, mark };
      if (this.now - lastProgress.at > idleLimit) {
        throw new InvariantViolation("Liveness", `no progress for ${idleLimit} ticks after healing; ${this.describeCluster(accepted)}`);
      }
      if (this.now > hardDeadline) {
        throw new InvariantViolation("Liveness", `no convergence within ${MAX_HEALED_TICKS} ticks of healing; ${this.describeCluster(accepted)}`);
      }
      this.round();
      const leader = this.topLeader();
      if (!leader) continue;
      const st = leader.status();
      this.fenceRemoved(st.configuration);
      // A live server in a higher term will depose this leader (without Pre-Vote or CheckQuorum it
      // ignores the leader's lower-term messages until it campaigns): not settled yet (seed 51707).
      const outranked = st.configuration.servers.some((s) => {
        const n = this.nodes.get(s.id);
        return n !== undefined && n.live && n.core !== null && n.core.term > st.term;
      });
      const settled = st.commitIndex === st.lastIndex && st.transferTarget === null && st.configurationIndex <= st.commitIndex && !outranked;
      if (!settled || stable.leader !== st.id || stable.term !== st.term) stable = { leader: settled ? st.id : "", term: st.term, since: this.now };
      // An accepted entry is only a proposal: a later leader that never had it
      // may commit something else at its index (the proposer's client would be
      // told leadership was lost, and retry). Raft promises nothing more, so
      // drop it and propose afresh: a removed server that has not learnt its
      // removal committed can still win Pre-Vote from voters whose logs are no
      // longer than its own, and without CheckQuorum depose a settled leader
      // (seed 401055).
      const lost = accepted.filter((a) => this.overwritten(this.nodes.get(st.id)!, a));
      if (lost.length > 0) {
        this.event(`lost ${lost.map((a) => `${a.data}@${a.index}/${a.term}`).join(", ")}: overwritten by a later leader; proposing again`);
        accepted.length = 0;
      }
      if (accepted.length === 0) {
        if (!settled || this.now - stable.since < this.knobs.core.electionTicks!) continue;
        for (let i = 0; i < 5; i++) {
          const data = `c${this.options.seed}-${++this.proposals}`;
          const at = leader.propose(encoder.encode(data));
          accepted.push({ ...at, data, leader: leader.id });
          this.event(`propose ${data} at ${leader.id} -> ${at.index}/${at.term} (healed phase)`);
        }
        this.afterEvent();
        continue;
      }
      if (settled && this.converged(st.committedConfiguration, st.commitIndex, accepted)) return;
    }
  }

  /**
   * Without Pre-Vote or leader stickiness (CheckQuorum) nothing stops a
   * removed server that has not learnt its removal was committed from
   * deposing leader after leader with ever higher terms (dissertation
   * §4.2.3); an operator must shut it down, so the simulation does, unless
   * the leader's latest configuration is adding it back.
   */
  private fenceRemoved(latest: Configuration): void {
    if (this.knobs.core.preVote || this.knobs.core.checkQuorum) return;
    for (const id of this.membership.removed) {
      const n = this.nodes.get(id);
      if (!n?.live || latest.servers.some((s) => s.id === id)) continue;
      this.event(`shut down ${id} (removed; no Pre-Vote or CheckQuorum to fence it off)`);
      n.crash(this.now);
      n.retired = true;
    }
  }

  /** Changes whenever anything moves: entries stored or applied, commit indexes, snapshot chunks acknowledged. */
  private progressMark(): string {
    let sum = 0;
    for (const n of this.nodes.values()) sum += n.lastIndex() + n.fsm.lastIndex + (n.disk.hardState?.commit ?? 0);
    return `${sum}/${this.snapshotAcks}`;
  }

  /** Delivers everything due (one event each), then ticks. */
  private round(): void {
    for (let due = this.net.countDue(this.now); due > 0; due = this.net.countDue(this.now)) {
      this.deliver(due, 0);
      this.afterEvent();
    }
    this.tick();
    this.afterEvent();
  }

  /** Whether the leader has applied an entry other than `a` at `a`'s index. Applied means committed, so `a` never can be. */
  private overwritten(leader: SimNode, a: { index: number; term: number; data: string }): boolean {
    const rec = leader.fsm.records[a.index - 1];
    return rec !== undefined && (rec.term !== a.term || rec.key !== `cmd:${a.data}`);
  }

  private converged(config: Configuration, commit: number, accepted: { index: number; term: number; data: string }[]): boolean {
    const members = config.servers.map((s) => this.nodes.get(s.id)!);
    if (members.some((m) => !m?.core || m.fsm.lastIndex !== commit)) return false;
    for (const a of accepted) {
      for (const m of members) {
        const rec = m.fsm.records[a.index - 1];
        if (rec?.term !== a.term || rec.key !== `cmd:${a.data}`) return false;
      }
    }
    this.checker.converged(members.map((m) => ({ id: m.id, records: m.fsm.records })));
    this.event(`converged: ${members.map((m) => m.id).join(",")} applied ${commit} entries`);
    return true;
  }

  private describeCluster(accepted: { index: number; term: number; data: string; leader: NodeId }[]): string {
    const nodes = [...this.nodes.values()].map((n) => {
      if (!n.core) return `${n.id}: ${n.retired ? "retired" : "down"}`;
      const st = n.core.status();
      return `${n.id}: ${st.role} t${st.term} leader=${st.leader} commit=${st.commitIndex} applied=${st.appliedIndex} last=${st.lastIndex}/${st.lastTerm} config@${st.configurationIndex}=[${st.configuration.servers.map((s) => `${s.id}${s.suffrage === "voter" ? "" : "(nv)"}`).join(",")}]`;
    });
    const props = accepted.length === 0 ? "no stable leader to propose to" : `proposed ${accepted.map((a) => `${a.data}@${a.index}/${a.term} via ${a.leader}`).join(", ")}`;
    return `${props}; ${nodes.join("; ")}`;
  }
}
