// Leader election (§5.2) with Pre-Vote (§9.6): the randomized election timer,
// campaigning as pre-candidate then candidate, granting and counting votes,
// and leader stickiness (§4.2.3), which keeps a node that still hears from a
// leader from being disrupted by candidates.

import type { RaftCore } from "./raft.ts";
import { isVoter, quorumSize, voters } from "./configuration.ts";
import { becomeLeader } from "./leader.ts";
import type { NodeId, VoteRequest, VoteResponse } from "./types.ts";

export class Election {
  private randomizedElectionTimeout = 0;
  private votes = new Map<NodeId, boolean>();

  constructor(
    private readonly core: RaftCore,
    /** Seeded generator in [0, 1). */
    private readonly random: () => number,
    /**
     * Restarted with state on disk: we may have acknowledged a leader's
     * heartbeat just before crashing, and that leader may be serving lease
     * reads on it. So for the first election timeout after a restart we refuse
     * votes as if we still heard from a leader (§6.4.1; the lease assumes it).
     */
    private readonly restartedWithState: boolean,
  ) {}

  resetElectionTimer(): void {
    this.core.electionElapsed = 0;
    const e = this.core.settings.electionTicks;
    this.randomizedElectionTimeout = e + Math.floor(this.random() * e);
  }

  /** A follower's or candidate's tick: campaign once the randomized timeout runs out. */
  tickElection(): void {
    const core = this.core;
    core.electionElapsed++;
    if (core.electionElapsed >= this.randomizedElectionTimeout && this.promotable()) {
      core.electionElapsed = 0;
      this.campaign(false);
    }
  }

  campaign(transfer: boolean): void {
    if (!this.promotable() || this.core.role === "Leader") return;
    if (this.core.settings.preVote && !transfer) this.becomePreCandidate();
    else this.becomeCandidate(transfer);
  }

  /**
   * Whether this node may campaign. A voter in the latest configuration may;
   * so may one whose demotion or removal is appended but not yet committed:
   * otherwise a node holding the only up-to-date copy of that change could
   * refuse to campaign while the others cannot win without it (found by
   * simulation). Votes are still counted in the candidate's latest
   * configuration, so quorums overlap as §4.1 requires.
   */
  promotable(): boolean {
    const core = this.core;
    if (core.isVoterNow(core.id)) return true;
    const latest = core.configs.latest();
    return latest.index > core.commit && isVoter(core.configs.at(core.commit).configuration, core.id);
  }

  /**
   * A vote request of a higher term to drop unanswered. Leader stickiness
   * (§4.2.3): while we hear from a leader, ignore disruptive candidates,
   * unless the leader itself handed over.
   */
  ignoresVote(m: VoteRequest): boolean {
    const core = this.core;
    const heardLeader = core.leader !== null || (this.restartedWithState && core.now < core.settings.electionTicks);
    const inLease = core.settings.checkQuorum && heardLeader && core.electionElapsed < core.settings.electionTicks;
    return inLease && !m.transfer;
  }

  handleVote(m: VoteRequest): void {
    const core = this.core;
    const canVote = core.vote === m.from || (core.vote === null && core.leader === null) || (m.preVote && m.term > core.term);
    const lastTerm = core.log.lastTerm();
    const upToDate = m.lastLogTerm > lastTerm || (m.lastLogTerm === lastTerm && m.lastLogIndex >= core.log.lastIndex());
    if (canVote && upToDate) {
      // A pre-vote grant answers in the term the candidate would use, so it is not dismissed as stale.
      core.send<VoteResponse>({ type: "voteResp", from: core.id, to: m.from, term: m.term, preVote: m.preVote, granted: true });
      if (!m.preVote) {
        core.electionElapsed = 0;
        core.vote = m.from;
      }
    } else {
      core.send<VoteResponse>({ type: "voteResp", from: core.id, to: m.from, term: core.term, preVote: m.preVote, granted: false });
    }
  }

  handleVoteResponse(m: VoteResponse): void {
    const core = this.core;
    if (core.role !== "Candidate" || m.preVote !== core.preCandidate) return;
    const expectedTerm = core.preCandidate ? core.term + 1 : core.term;
    if (m.granted && m.term !== expectedTerm) return;
    if (!core.isVoterNow(m.from)) return;
    this.votes.set(m.from, m.granted);
    this.tallyVotes();
  }

  private becomePreCandidate(): void {
    const core = this.core;
    core.role = "Candidate";
    core.preCandidate = true;
    core.leader = null;
    this.startVoting(core.term + 1, true, false);
  }

  private becomeCandidate(transfer: boolean): void {
    const core = this.core;
    core.role = "Candidate";
    core.preCandidate = false;
    core.term += 1;
    core.vote = core.id;
    core.leader = null;
    this.startVoting(core.term, false, transfer);
  }

  private startVoting(term: number, preVote: boolean, transfer: boolean): void {
    const core = this.core;
    this.resetElectionTimer();
    this.votes = new Map([[core.id, true]]);
    if (this.tallyVotes()) return;
    for (const id of voters(core.latestConfiguration())) {
      if (id === core.id) continue;
      core.send<VoteRequest>({
        type: "vote",
        from: core.id,
        to: id,
        term,
        preVote,
        lastLogIndex: core.log.lastIndex(),
        lastLogTerm: core.log.lastTerm(),
        transfer,
      });
    }
  }

  /** Acts on the votes so far; true when the election ended. */
  private tallyVotes(): boolean {
    const core = this.core;
    const config = core.latestConfiguration();
    let granted = 0;
    let rejected = 0;
    for (const id of voters(config)) {
      const v = this.votes.get(id);
      if (v === true) granted++;
      else if (v === false) rejected++;
    }
    const q = quorumSize(config);
    if (granted >= q) {
      if (core.preCandidate) this.becomeCandidate(false);
      else becomeLeader(core);
      return true;
    }
    if (rejected >= q) {
      core.becomeFollower(core.term, null);
      return true;
    }
    return false;
  }
}
