// The leader's term of office: taking it (a fresh progress table and a no-op
// of its own term) and its ticks: heartbeats, CheckQuorum (§6.2), giving up
// on a leadership transfer that did not happen within an election timeout,
// and resending stalled snapshot chunks.

import type { RaftCore } from "./raft.ts";
import { syncProgress } from "./membership.ts";
import { broadcastHeartbeat } from "./replication.ts";
import { retransmitStalled } from "./snapshot-transfer.ts";
import { EntryType } from "./types.ts";

export function becomeLeader(core: RaftCore): void {
  core.role = "Leader";
  core.preCandidate = false;
  core.leader = core.id;
  core.transferTarget = null;
  core.heartbeatElapsed = 0;
  core.electionElapsed = 0;
  core.seq = 0;
  core.reads.reset();
  core.progress.clear();
  syncProgress(core);
  for (const pr of core.progress.values()) pr.recentActive = true;
  // A no-op of our own term lets us commit (and learn the commit index) soon (§8).
  core.appendNew(EntryType.Noop, new Uint8Array(0));
}

export function tickLeader(core: RaftCore): void {
  core.heartbeatElapsed++;
  core.electionElapsed++;
  if (core.electionElapsed >= core.settings.electionTicks) {
    core.electionElapsed = 0;
    if (core.settings.checkQuorum && !core.reads.quorumRecentlyActive()) {
      // CheckQuorum (§6.2): a leader cut off from a majority steps down, so clients go elsewhere.
      core.becomeFollower(core.term, null);
      return;
    }
    for (const pr of core.progress.values()) pr.recentActive = false;
    core.transferTarget = null;
  }
  retransmitStalled(core);
  if (core.heartbeatElapsed >= core.settings.heartbeatTicks) {
    core.heartbeatElapsed = 0;
    broadcastHeartbeat(core);
  }
}
