// Membership churn as an operator would do it: grow the cluster by adding a
// fresh server as a non-voter and then promoting it, shrink it by demoting or
// removing servers (the leader included), one change at a time. A change the
// leader refuses (one still uncommitted, none committed in its term yet, a
// stale prevIndex) is simply retried at a later event.

import { RaftError } from "../../src/raft/core/errors.ts";
import type { RaftCore } from "../../src/raft/core/raft.ts";
import type { Configuration, MembershipChange, NodeId } from "../../src/raft/core/types.ts";
import type { Knobs } from "./knobs.ts";
import type { SimNode } from "./node.ts";
import type { Rng } from "./rng.ts";

export interface MembershipHost {
  readonly rng: Rng;
  readonly knobs: Knobs;
  readonly nodes: Map<NodeId, SimNode>;
  /** Creates a fresh, empty server (not bootstrapped) that the leader can add. */
  spawn(): SimNode | undefined;
  /** Brings a removed server back (restarting it from its old disk if it was shut down) to be added again. */
  revive(node: SimNode): void;
}

export class MembershipDriver {
  /** Ids that were in some committed configuration. */
  private readonly members = new Set<NodeId>();
  /** Ids removed by a committed configuration (and not re-added since): possibly shut down. */
  readonly removed = new Set<NodeId>();
  accepted = 0;
  private observedIndex = 0;

  constructor(private readonly host: MembershipHost) {}

  /** Proposes one change at `leader`; returns the trace line. */
  step(leader: RaftCore): string {
    const { rng, knobs } = this.host;
    const st = leader.status();
    if (st.configurationIndex > st.commitIndex) return `membership: change at ${st.configurationIndex} still uncommitted on ${st.id}`;
    const cfg = st.configuration;
    const voters = cfg.servers.filter((s) => s.suffrage === "voter").map((s) => s.id);
    const nonvoters = cfg.servers.filter((s) => s.suffrage === "nonvoter").map((s) => s.id);
    const options: [number, () => MembershipChange | undefined][] = [];
    const growing = voters.length < knobs.targetVoters;
    if (nonvoters.length > 0 && voters.length < 5) {
      options.push([growing ? 4 : 1, () => ({ kind: "addVoter", id: rng.pick(nonvoters), address: "sim" })]);
    }
    if (cfg.servers.length < knobs.maxServers && (growing || voters.length < 5)) {
      options.push([
        growing ? 3 : 0.7,
        () => {
          const node = this.spare(cfg) ?? this.host.spawn();
          if (!node) return undefined;
          return { kind: rng.chance(0.15) ? "addVoter" : "addNonvoter", id: node.id, address: "sim" };
        },
      ]);
    }
    const returning = [...this.removed].filter((id) => !cfg.servers.some((s) => s.id === id));
    if (returning.length > 0 && cfg.servers.length < knobs.maxServers) {
      // A removed server joins again with whatever its disk still holds: a stale,
      // possibly conflicting log the leader must overwrite.
      options.push([
        1.5,
        () => {
          const node = this.host.nodes.get(rng.pick(returning))!;
          this.host.revive(node);
          return { kind: rng.chance(0.3) ? "addVoter" : "addNonvoter", id: node.id, address: "sim" };
        },
      ]);
    }
    if (voters.length > knobs.minVoters) {
      options.push([1, () => ({ kind: "demoteVoter", id: rng.pick(voters) })]);
      options.push([1, () => ({ kind: "removeServer", id: rng.pick(voters) })]);
    }
    if (nonvoters.length > 0) options.push([1, () => ({ kind: "removeServer", id: rng.pick(nonvoters) })]);
    if (options.length === 0) return `membership: nothing to change on ${st.id}`;

    let total = 0;
    for (const [w] of options) total += w;
    let r = rng.float() * total;
    let make = options[options.length - 1]![1];
    for (const [w, f] of options) {
      if ((r -= w) < 0) {
        make = f;
        break;
      }
    }
    const change = make();
    if (!change) return "membership: no spare server id left";
    const prevIndex = rng.chance(0.5) ? st.configurationIndex : rng.chance(0.1) ? Math.max(1, st.configurationIndex - 1) : 0;
    const what = `${change.kind} ${change.id} at ${st.id} (t${st.term}, prevIndex ${prevIndex})`;
    try {
      const at = leader.proposeMembershipChange(change, prevIndex);
      this.accepted++;
      return `membership: ${what} -> ${at.index}/${at.term}`;
    } catch (error) {
      if (error instanceof RaftError) return `membership: ${what} refused: ${error.code}`;
      throw error;
    }
  }

  /** A live, never-removed server outside the configuration (a spawned one whose addition was lost). */
  private spare(cfg: Configuration): SimNode | undefined {
    for (const node of this.host.nodes.values()) {
      if (node.live && !node.retired && !this.removed.has(node.id) && !cfg.servers.some((s) => s.id === node.id)) return node;
    }
    return undefined;
  }

  /**
   * Learns from a committed configuration (and the index of its entry) who is a member and who was
   * removed; returns the newly removed, whom the caller may shut down.
   */
  observeCommitted(committed: Configuration, index: number): NodeId[] {
    // A stale leader may report an older committed configuration: only move forward.
    if (index <= this.observedIndex) return [];
    this.observedIndex = index;
    const now = new Set(committed.servers.map((s) => s.id));
    const gone: NodeId[] = [];
    for (const id of now) {
      this.members.add(id);
      this.removed.delete(id);
    }
    for (const id of this.members) {
      if (!now.has(id) && !this.removed.has(id)) {
        this.removed.add(id);
        gone.push(id);
      }
    }
    return gone;
  }
}
