// The whole cluster as the console shows it, put together by the node the
// browser talks to from each member's own GET /v1/cluster. A member that
// does not answer is shown unreachable rather than dropped, which is how a
// dead leader shows up. Pure, so the browser can import its types and the
// tests can feed it views.

import type { clusterStatus } from "../api/cluster-routes.ts";

export type MemberStatus = ReturnType<typeof clusterStatus>;

export interface MemberView {
  id: string;
  raft: string;
  http: string | null;
  voter: boolean;
  reachable: boolean;
  /** Why it is unreachable, as the probe failed. */
  error: string | null;
  /** Leader, Follower, Candidate, Shutdown; null when unreachable. */
  state: string | null;
  term: number | null;
  commitIndex: number | null;
  appliedIndex: number | null;
  /** Entries behind the leader's log (by the leader's match index), else behind the highest commit seen. */
  lag: number | null;
  /** Ms since the leader last heard from it (the leader's view), else since it last heard from a leader. */
  lastContactMs: number | null;
}

export interface ClusterOverview {
  /** The node that put this together (the one the browser talks to). */
  from: string;
  /** Wall-clock ms when gathered. */
  at: number;
  leader: { id: string; http: string | null } | null;
  term: number;
  members: MemberView[];
}

/** `views` maps each member id to its own status, or to the reason it could not be had. */
export function overviewOf(self: MemberStatus, views: Map<string, MemberStatus | Error>, at: number): ClusterOverview {
  const answered = [...views.values()].filter((v): v is MemberStatus => !(v instanceof Error));
  // The leader by the highest term any member reports, so a stale view does not win.
  const leaderView = answered.filter((v) => v.state === "Leader").sort((a, b) => b.term - a.term)[0];
  const leaderId = leaderView?.id ?? self.leader?.id ?? null;
  const highestCommit = Math.max(0, ...answered.map((v) => v.commitIndex));
  const members = self.members.map((m): MemberView => {
    const view = views.get(m.id);
    const replication = leaderView?.replication.find((r) => r.id === m.id);
    if (!view || view instanceof Error) {
      return { ...m, reachable: false, error: view?.message ?? "not asked", state: null, term: null, commitIndex: null, appliedIndex: null, lag: replication?.lag ?? null, lastContactMs: replication?.lastContactMs ?? null };
    }
    const lag = view.state === "Leader" ? 0 : (replication?.lag ?? Math.max(0, highestCommit - view.appliedIndex));
    const lastContactMs = view.state === "Leader" ? 0 : (replication?.lastContactMs ?? view.lastContactMs);
    return { ...m, reachable: true, error: null, state: view.state, term: view.term, commitIndex: view.commitIndex, appliedIndex: view.appliedIndex, lag, lastContactMs };
  });
  const leaderHttp = leaderId === null ? null : (self.members.find((m) => m.id === leaderId)?.http ?? null);
  return { from: self.id, at, leader: leaderId === null ? null : { id: leaderId, http: leaderHttp }, term: Math.max(self.term, ...answered.map((v) => v.term)), members };
}
