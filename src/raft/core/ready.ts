// The Ready batch: what the core hands the driver after a round of inputs
// (hard state and entries to persist, a snapshot to install, messages to
// send, committed entries to apply, reads that became safe or failed). The
// driver persists before it sends (but for a leader's appends, which may go
// out while it persists), so nothing is acknowledged that a crash could lose.

import type { RaftCore } from "./raft.ts";
import { broadcast } from "./replication.ts";
import type { Message, Ready } from "./types.ts";

export function hasReady(core: RaftCore): boolean {
  return (
    core.broadcastPending ||
    core.reads.hasOutput() ||
    core.messages.length > 0 ||
    core.unstable.length > 0 ||
    core.pendingSnapshot !== undefined ||
    core.commit > core.applied ||
    hardStateChanged(core)
  );
}

export function takeReady(core: RaftCore): Ready {
  if (core.broadcastPending) {
    core.broadcastPending = false;
    broadcast(core);
  }
  core.reads.flush();
  const { messages, sendBeforePersist } = orderMessages(core);
  const rd: Ready = {
    entries: core.unstable,
    messages,
    sendBeforePersist,
    committed: core.commit > core.applied ? core.log.slice(core.applied + 1, core.commit) : [],
    readStates: core.reads.takeReadStates(),
    failedReads: core.reads.takeFailed(),
  };
  if (core.pendingSnapshot) rd.snapshot = core.pendingSnapshot;
  if (hardStateChanged(core)) {
    rd.hardState = { term: core.term, vote: core.vote, commit: core.commit };
    core.lastHardState = rd.hardState;
  }
  core.applied = Math.max(core.applied, core.commit);
  core.unstable = [];
  core.messages = [];
  core.pendingSnapshot = undefined;
  return rd;
}

/**
 * A leader's appends, heartbeats and snapshot chunks first, when they may go
 * out before the Ready is persisted (see Ready.sendBeforePersist): never when
 * the term or vote changed, as in a one-voter cluster's election, whose new
 * term must be durable before anyone hears of it, or two incarnations of the
 * same leader could hand out different entries in one term.
 */
function orderMessages(core: RaftCore): { messages: Message[]; sendBeforePersist: number } {
  const h = core.lastHardState;
  if (core.role !== "Leader" || core.pendingSnapshot || h.term !== core.term || h.vote !== core.vote) return { messages: core.messages, sendBeforePersist: 0 };
  const early: Message[] = [];
  const late: Message[] = [];
  for (const m of core.messages) (m.type === "append" || m.type === "heartbeat" || m.type === "snapshot" ? early : late).push(m);
  return { messages: late.length === 0 ? early : [...early, ...late], sendBeforePersist: early.length };
}

function hardStateChanged(core: RaftCore): boolean {
  const h = core.lastHardState;
  return h.term !== core.term || h.vote !== core.vote || h.commit !== core.commit;
}
