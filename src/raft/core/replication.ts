// Log replication (§5.3): the leader's appends and heartbeats with flow
// control, the follower's consistency check with fast-backtracking hints, and
// the commit rule (§5.4.2).

import type { Progress } from "./progress.ts";
import type { RaftCore } from "./raft.ts";
import { sendTimeoutNow } from "./leadership-transfer.ts";
import { sendSnapshot } from "./snapshot-transfer.ts";
import { voters } from "./configuration.ts";
import type { AppendRequest, AppendResponse, HeartbeatRequest, HeartbeatResponse, Message } from "./types.ts";

// ---- leader -----------------------------------------------------------------

/** Sends appends to every follower (after proposals or a commit advance). */
export function broadcast(core: RaftCore): void {
  for (const pr of core.progress.values()) {
    if (!sendAppends(core, pr) && pr.state === "replicate" && pr.match === core.log.lastIndex() && pr.inflight.length === 0) {
      // Up to date: tell it the new commit index now rather than at the next heartbeat.
      sendAppend(core, pr, true);
    }
  }
}

/** Sends as many appends as flow control allows; true when at least one left. */
export function sendAppends(core: RaftCore, pr: Progress): boolean {
  let sent = false;
  while (sendAppend(core, pr, false)) {
    sent = true;
    if (pr.state !== "replicate") break;
  }
  return sent;
}

/**
 * Sends one append to `pr` if flow control allows. `empty` sends even when
 * there is nothing new (a probe, or a commit-index update). Falls back to a
 * snapshot when the entries it needs were compacted.
 */
export function sendAppend(core: RaftCore, pr: Progress, empty: boolean): boolean {
  if (pr.state === "snapshot") return false;
  if (pr.state === "probe" && pr.paused) return false;
  if (pr.state === "replicate" && pr.inflight.length >= core.settings.maxInflight) return false;
  const prevIndex = pr.next - 1;
  const prevTerm = core.log.term(prevIndex);
  if (prevTerm === undefined) {
    sendSnapshot(core, pr);
    return false;
  }
  const { maxEntriesPerMessage, maxBytesPerMessage } = core.settings;
  const entries = core.log.slice(pr.next, core.log.lastIndex(), maxEntriesPerMessage, maxBytesPerMessage);
  if (entries.length === 0 && !empty && pr.state === "replicate") return false;
  core.send<AppendRequest>({
    type: "append",
    from: core.id,
    to: pr.id,
    term: core.term,
    prevIndex,
    prevTerm,
    entries,
    commit: core.commit,
    seq: core.seq,
  });
  if (pr.state === "replicate") {
    if (entries.length > 0) {
      const last = entries[entries.length - 1]!.index;
      pr.next = last + 1;
      pr.inflight.push(last);
    }
  } else {
    pr.paused = true;
  }
  return entries.length > 0 || pr.state === "probe";
}

export function broadcastHeartbeat(core: RaftCore): void {
  // Every heartbeat round gets its own sequence number so the lease can be timed from its acks.
  core.reads.newRound();
  for (const pr of core.progress.values()) {
    core.send<HeartbeatRequest>({
      type: "heartbeat",
      from: core.id,
      to: pr.id,
      term: core.term,
      commit: Math.min(core.commit, pr.match),
      seq: core.seq,
    });
  }
}

export function handleAppendResponse(core: RaftCore, m: AppendResponse): void {
  const pr = core.progress.get(m.from);
  if (!pr) return;
  heardFrom(core, pr, m.seq);
  if (!m.success) {
    if (!backtrack(core, pr, m)) return;
    sendAppends(core, pr);
    return;
  }
  if (m.matchIndex < pr.match) return; // stale
  const advanced = pr.acknowledge(m.matchIndex);
  if (pr.state === "snapshot" && pr.match >= pr.snapshotIndex) pr.becomeProbe();
  if (pr.state === "probe") pr.becomeReplicate();
  if (advanced) {
    maybeCommit(core);
    if (core.role !== "Leader") return;
    if (core.transferTarget === pr.id && pr.match === core.log.lastIndex()) sendTimeoutNow(core, pr.id);
  }
  sendAppends(core, pr);
}

/** Moves `next` back after a rejection; false when the rejection is stale and should be ignored. */
function backtrack(core: RaftCore, pr: Progress, m: AppendResponse): boolean {
  const rejected = m.matchIndex;
  if (pr.state === "replicate") {
    if (rejected <= pr.match) return false;
  } else if (pr.state === "probe") {
    if (rejected !== pr.next - 1) return false;
  } else {
    return false;
  }
  let next: number;
  if (m.conflictTerm > 0) {
    // Skip the follower's whole conflicting term in one round trip; if we have
    // entries of that term, resume just after our last one (dissertation §5.3 note).
    const ours = core.log.lastIndexOfTerm(m.conflictTerm, rejected);
    next = ours > 0 ? ours + 1 : m.conflictIndex;
  } else {
    next = m.conflictIndex;
  }
  pr.becomeProbe();
  pr.next = Math.max(pr.match + 1, Math.min(next, rejected));
  return true;
}

export function handleHeartbeatResponse(core: RaftCore, m: HeartbeatResponse): void {
  const pr = core.progress.get(m.from);
  if (!pr) return;
  heardFrom(core, pr, m.seq);
  if (pr.match >= core.log.lastIndex() || pr.state === "snapshot") return;
  if (pr.state === "probe") {
    pr.paused = false;
    sendAppend(core, pr, true);
  } else {
    // Replicating but behind: appends may have been lost. Re-send from where
    // we believe it is; a follower missing entries rejects, and we back off to probing.
    if (pr.inflight.length >= core.settings.maxInflight) pr.inflight.shift();
    sendAppend(core, pr, true);
  }
}

function heardFrom(core: RaftCore, pr: Progress, seq: number): void {
  pr.recentActive = true;
  pr.lastContactTick = core.now;
  if (seq > pr.ackedSeq) {
    pr.ackedSeq = seq;
    core.reads.onAck();
  }
}

/** The commit rule: the highest index stored on a quorum of voters, if it is of the current term. */
export function maybeCommit(core: RaftCore): void {
  const config = core.latestConfiguration();
  const matches: number[] = [];
  for (const id of voters(config)) {
    if (id === core.id) matches.push(core.log.lastIndex());
    else matches.push(core.progress.get(id)?.match ?? 0);
  }
  if (matches.length === 0) return;
  matches.sort((a, b) => b - a);
  const candidate = matches[Math.floor(matches.length / 2)]!;
  // Figure 8: never commit an older term's entry by counting replicas.
  if (candidate > core.commit && core.log.term(candidate) === core.term) {
    core.commitTo(candidate);
    core.broadcastPending = true;
  }
}

// ---- follower ---------------------------------------------------------------

export function handleAppend(core: RaftCore, m: AppendRequest): void {
  const reply = (fields: Pick<AppendResponse, "success" | "matchIndex" | "conflictIndex" | "conflictTerm">) =>
    core.send<AppendResponse>({
      type: "appendResp",
      from: core.id,
      to: m.from,
      term: core.term,
      lastIndex: core.log.lastIndex(),
      seq: m.seq,
      ...fields,
    });

  if (m.prevIndex < core.commit) {
    // Everything up to our commit index is already settled; say so, and let the leader move on.
    reply({ success: true, matchIndex: core.commit, conflictIndex: 0, conflictTerm: 0 });
    return;
  }
  const ourPrevTerm = core.log.term(m.prevIndex);
  if (ourPrevTerm !== m.prevTerm) {
    if (ourPrevTerm === undefined) {
      reply({ success: false, matchIndex: m.prevIndex, conflictIndex: core.log.lastIndex() + 1, conflictTerm: 0 });
    } else {
      const conflictIndex = Math.max(core.log.firstIndexOfTerm(m.prevIndex), core.commit + 1);
      reply({ success: false, matchIndex: m.prevIndex, conflictIndex, conflictTerm: ourPrevTerm });
    }
    return;
  }
  // Skip entries we already have; truncate at the first conflict (never a committed one).
  let i = 0;
  while (i < m.entries.length) {
    const e = m.entries[i]!;
    const t = core.log.term(e.index);
    if (t === undefined || t !== e.term) break;
    i++;
  }
  if (i < m.entries.length) core.appendToLog(m.entries.slice(i));
  const lastNew = m.prevIndex + m.entries.length;
  core.commitTo(Math.min(m.commit, lastNew));
  reply({ success: true, matchIndex: lastNew, conflictIndex: 0, conflictTerm: 0 });
}

export function handleHeartbeat(core: RaftCore, m: HeartbeatRequest): void {
  // The leader sends min(commit, our match), so everything up to it is in our log and matches.
  core.commitTo(Math.min(m.commit, core.log.lastIndex()));
  core.send<HeartbeatResponse>({ type: "heartbeatResp", from: core.id, to: m.from, term: core.term, seq: m.seq });
}

/** Answers a message from a stale leader with our term, so it steps down. */
export function rejectStale(core: RaftCore, m: Message): void {
  core.send<AppendResponse>({
    type: "appendResp",
    from: core.id,
    to: m.from,
    term: core.term,
    success: false,
    matchIndex: 0,
    conflictIndex: 0,
    conflictTerm: 0,
    lastIndex: core.log.lastIndex(),
    seq: 0,
  });
}
