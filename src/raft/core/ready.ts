// The Ready batch: what the core hands the driver after a round of inputs
// (hard state and entries to persist, a snapshot to install, messages to
// send, committed entries to apply, reads that became safe or failed). The
// driver persists before it sends, so nothing is acknowledged that a crash
// could lose.

import type { RaftCore } from "./raft.ts";
import { broadcast } from "./replication.ts";
import type { Ready } from "./types.ts";

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
  const rd: Ready = {
    entries: core.unstable,
    messages: core.messages,
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

function hardStateChanged(core: RaftCore): boolean {
  const h = core.lastHardState;
  return h.term !== core.term || h.vote !== core.vote || h.commit !== core.commit;
}
