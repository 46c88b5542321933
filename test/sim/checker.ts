// The safety properties of Raft (Figure 3 of the paper), checked against a
// history the simulator reports as it happens. The checker knows nothing of
// the simulator: it is fed observations (a leader seen, entries made durable,
// an entry applied, ...) so that checker.test.ts can feed it bad histories by
// hand and prove every check can fail.

import type { NodeId } from "../../src/raft/core/types.ts";
import type { AppliedRecord } from "./fsm.ts";

export class InvariantViolation extends Error {
  constructor(
    readonly invariant: string,
    readonly detail: string,
  ) {
    super(`${invariant} violated: ${detail}`);
    this.name = "InvariantViolation";
  }
}

/** A node's durable log as Leader Completeness needs it. */
export interface LogView {
  /** True when the entry (index, term) is in the log, or index is covered by the node's snapshot. */
  has(index: number, term: number): boolean;
}

export interface LeaderView {
  id: NodeId;
  term: number;
  log: LogView;
}

interface CommittedEntry {
  term: number;
  key: string;
  /** Who applied it first. */
  node: NodeId;
  /**
   * The highest term any node had when the entry was first applied. It was
   * committed in a term no higher than that, so every leader of a term >=
   * bound must hold it (Leader Completeness).
   */
  bound: number;
}

export class SafetyChecker {
  private readonly leaderOfTerm = new Map<number, NodeId>();
  /** Every (index, term) ever made durable in any log: its content and the term of the entry before it. */
  private readonly written = new Map<string, { key: string; prevTerm: number; node: NodeId }>();
  private readonly committed = new Map<number, CommittedEntry>();
  private readonly commitOf = new Map<NodeId, { incarnation: number; commit: number }>();

  /** Distinct (term, leader) pairs seen. */
  get elections(): number {
    return this.leaderOfTerm.size;
  }

  /** Distinct indexes known to be committed (applied somewhere). */
  get commits(): number {
    return this.committed.size;
  }

  isCommitted(index: number, term: number): boolean {
    return this.committed.get(index)?.term === term;
  }

  /**
   * Election Safety: at most one leader per term, over the whole history.
   * A leader seen for the first time in a term must also hold every entry
   * committed before it (Leader Completeness).
   */
  leader(id: NodeId, term: number, log: LogView): void {
    const known = this.leaderOfTerm.get(term);
    if (known !== undefined && known !== id) {
      throw new InvariantViolation("Election Safety", `${known} and ${id} were both leader in term ${term}`);
    }
    if (known !== undefined) return;
    this.leaderOfTerm.set(term, id);
    for (const [index, c] of this.committed) {
      if (c.bound <= term && !log.has(index, c.term)) {
        throw new InvariantViolation(
          "Leader Completeness",
          `${id} became leader of term ${term} without committed entry ${index} (term ${c.term}, "${c.key}", applied first by ${c.node} when the highest term was ${c.bound})`,
        );
      }
    }
  }

  /**
   * Log Matching, checked incrementally: an entry (index, term) has the same
   * content and the same predecessor term in every log it is ever written to.
   * By induction on the index, two logs that share an (index, term) then share
   * the whole prefix before it.
   */
  logWritten(node: NodeId, prevTerm: number, entries: readonly AppliedRecord[]): void {
    let prev = prevTerm;
    for (const e of entries) {
      if (e.term < prev) {
        throw new InvariantViolation("Log Matching", `${node}'s log has entry ${e.index} of term ${e.term} after an entry of term ${prev}`);
      }
      const id = `${e.index}/${e.term}`;
      const seen = this.written.get(id);
      if (seen === undefined) {
        this.written.set(id, { key: e.key, prevTerm: prev, node });
      } else if (seen.key !== e.key) {
        throw new InvariantViolation(
          "Log Matching",
          `entry ${e.index} of term ${e.term} is "${e.key}" on ${node} but "${seen.key}" on ${seen.node}`,
        );
      } else if (seen.prevTerm !== prev) {
        throw new InvariantViolation(
          "Log Matching",
          `entry ${e.index} of term ${e.term} follows an entry of term ${prev} on ${node} but of term ${seen.prevTerm} on ${seen.node}`,
        );
      }
      prev = e.term;
    }
  }

  /**
   * State Machine Safety: no two nodes apply different entries at one index.
   * A newly committed entry must also already be in the log of every current
   * leader whose term is at least its bound.
   */
  applied(node: NodeId, rec: AppliedRecord, highestTerm: number, leaders: readonly LeaderView[]): void {
    const first = this.committed.get(rec.index);
    if (first !== undefined) {
      if (first.term !== rec.term || first.key !== rec.key) {
        throw new InvariantViolation(
          "State Machine Safety",
          `${node} applied "${rec.key}" (term ${rec.term}) at index ${rec.index}, but ${first.node} applied "${first.key}" (term ${first.term}) there`,
        );
      }
      return;
    }
    this.committed.set(rec.index, { term: rec.term, key: rec.key, node, bound: highestTerm });
    for (const l of leaders) {
      if (l.term >= highestTerm && !l.log.has(rec.index, rec.term)) {
        throw new InvariantViolation(
          "Leader Completeness",
          `entry ${rec.index} (term ${rec.term}) was committed but leader ${l.id} of term ${l.term} does not hold it`,
        );
      }
    }
  }

  /** Checks a state machine restored from a snapshot against what was committed. */
  restoredFrom(node: NodeId, records: readonly AppliedRecord[], highestTerm: number): void {
    for (const rec of records) this.applied(node, rec, highestTerm, []);
  }

  /** A node's commit index never goes back within one incarnation, and nothing is applied before it is committed. */
  progress(node: NodeId, incarnation: number, commit: number, applied: number): void {
    if (applied > commit) {
      throw new InvariantViolation("Applied <= Commit", `${node} has applied ${applied} but its commit index is ${commit}`);
    }
    const last = this.commitOf.get(node);
    if (last !== undefined && last.incarnation === incarnation && commit < last.commit) {
      throw new InvariantViolation("Commit Monotonic", `${node}'s commit index went back from ${last.commit} to ${commit} without a crash`);
    }
    this.commitOf.set(node, { incarnation, commit });
  }

  /**
   * Durability: a node removes an entry from its stored log (a conflicting
   * suffix is replaced). It must never be one it had persisted as committed,
   * nor one any node applied.
   */
  entryDropped(node: NodeId, index: number, term: number, persistedCommit: number): void {
    if (index <= persistedCommit) {
      throw new InvariantViolation("Committed Entry Durability", `${node} dropped entry ${index} (term ${term}) though it had persisted commit index ${persistedCommit}`);
    }
    if (this.isCommitted(index, term)) {
      throw new InvariantViolation("Committed Entry Durability", `${node} dropped entry ${index} (term ${term}), which was committed`);
    }
  }

  /** After a restart the core must have loaded everything on its disk. */
  restarted(node: NodeId, disk: { lastIndex: number; lastTerm: number; commit: number }, core: { lastIndex: number; lastTerm: number; commit: number }): void {
    if (core.lastIndex !== disk.lastIndex || core.lastTerm !== disk.lastTerm) {
      throw new InvariantViolation(
        "Committed Entry Durability",
        `${node} restarted with log ending at ${core.lastIndex}/${core.lastTerm} but its disk ends at ${disk.lastIndex}/${disk.lastTerm}`,
      );
    }
    if (core.commit < disk.commit) {
      throw new InvariantViolation("Committed Entry Durability", `${node} restarted with commit ${core.commit} but had persisted commit ${disk.commit}`);
    }
  }

  /**
   * Linearizable reads: a read served at `index` must reflect every write
   * committed anywhere before the read was issued (`required`).
   */
  read(node: NodeId, kind: "readIndex" | "lease", id: number, index: number, required: number): void {
    if (index < required) {
      throw new InvariantViolation(
        "Linearizable Read",
        `${kind} read #${id} on ${node} was served at index ${index}, but index ${required} was already committed when it was issued`,
      );
    }
  }

  /** Liveness: every live member ends with the same applied sequence. */
  converged(members: readonly { id: NodeId; records: readonly AppliedRecord[] }[]): void {
    const [ref, ...rest] = members;
    if (!ref) return;
    for (const m of rest) {
      const n = Math.max(ref.records.length, m.records.length);
      for (let i = 0; i < n; i++) {
        const a = ref.records[i];
        const b = m.records[i];
        if (a?.term !== b?.term || a?.key !== b?.key) {
          const show = (r: AppliedRecord | undefined) => (r ? `"${r.key}" (term ${r.term})` : "nothing");
          throw new InvariantViolation(
            "Convergence",
            `at index ${i + 1} ${ref.id} applied ${show(a)} but ${m.id} applied ${show(b)} (${ref.id} applied ${ref.records.length}, ${m.id} ${m.records.length})`,
          );
        }
      }
    }
  }
}
