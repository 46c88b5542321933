// Single-server membership changes (dissertation §4.1): the leader proposes
// one change at a time, only once it has committed an entry of its term; a
// configuration takes effect as soon as it is appended. The leader tracks
// every server the change touches, and steps aside once its own removal or
// demotion commits (§4.2.2).

import type { RaftCore } from "./raft.ts";
import { encodeConfiguration, isVoter, nextConfiguration, sameConfiguration } from "./configuration.ts";
import { ConfigurationChangeError } from "./errors.ts";
import { Progress } from "./progress.ts";
import { broadcast } from "./replication.ts";
import { EntryType, type MembershipChange, type NodeId } from "./types.ts";

/** Appends the configuration `change` produces; the caller has checked that we lead and no transfer is under way. */
export function proposeChange(core: RaftCore, change: MembershipChange, prevIndex: number): { index: number; term: number } {
  const latest = core.configs.latest();
  if (!core.committedInTerm()) {
    // §4.1 / the single-server change bug: a new leader must commit an entry of its term first.
    throw new ConfigurationChangeError("the leader has not yet committed an entry in its term; retry shortly");
  }
  if (latest.index > core.commit) {
    throw new ConfigurationChangeError(`a configuration change (index ${latest.index}) is still being committed; one change at a time`);
  }
  if (prevIndex > 0 && prevIndex !== latest.index) {
    throw new ConfigurationChangeError(`configuration changed since index ${prevIndex} (now ${latest.index})`);
  }
  const next = nextConfiguration(latest.configuration, change);
  if (sameConfiguration(next, latest.configuration)) return { index: latest.index, term: core.log.term(latest.index) ?? core.term };
  return core.appendNew(EntryType.Config, encodeConfiguration(next));
}

/** Tracks every server in the latest or the committed configuration (a removed server hears of its removal). */
export function syncProgress(core: RaftCore): void {
  const wanted = new Set<NodeId>();
  for (const s of core.latestConfiguration().servers) wanted.add(s.id);
  for (const s of core.configs.at(core.commit).configuration.servers) wanted.add(s.id);
  wanted.delete(core.id);
  for (const id of [...core.progress.keys()]) if (!wanted.has(id)) core.progress.delete(id);
  for (const id of wanted) {
    if (!core.progress.has(id)) {
      const pr = new Progress(id, core.log.lastIndex() + 1);
      pr.lastContactTick = core.now;
      pr.recentActive = true;
      core.progress.set(id, pr);
    }
  }
}

/** The leader's commit index moved: track the committed configuration's servers, and step aside if it removed or demoted us. */
export function afterLeaderCommit(core: RaftCore): void {
  syncProgress(core);
  const latest = core.configs.latest();
  if (latest.index <= core.commit && !isVoter(latest.configuration, core.id)) {
    // Removed or demoted: we led until the change committed; now step aside (§4.2.2).
    core.broadcastPending = false;
    broadcast(core);
    core.becomeFollower(core.term, null);
  }
}
