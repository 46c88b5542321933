// Leadership transfer (dissertation §3.10): the leader stops taking proposals,
// brings the target's log up to date, then sends it TimeoutNow so it campaigns
// at once, without Pre-Vote and past the voters' leader stickiness. The
// transfer is abandoned if it has not happened within an election timeout.

import type { RaftCore } from "./raft.ts";
import { isVoter } from "./configuration.ts";
import { RaftError } from "./errors.ts";
import type { Progress } from "./progress.ts";
import { sendAppends } from "./replication.ts";
import type { NodeId } from "./types.ts";

/** Starts a transfer to `to` (default: the most up-to-date voter); the caller has checked that we lead. */
export function transferLeadership(core: RaftCore, to: NodeId | undefined): void {
  const latest = core.configs.latest().configuration;
  let target = to;
  if (target === undefined) {
    let best: Progress | undefined;
    for (const pr of core.progress.values()) {
      if (isVoter(latest, pr.id) && (!best || pr.match > best.match)) best = pr;
    }
    if (!best) throw new RaftError("NO_TRANSFER_TARGET", "there is no other voter to transfer leadership to");
    target = best.id;
  }
  if (target === core.id) return;
  if (!isVoter(latest, target)) throw new RaftError("NO_TRANSFER_TARGET", `${target} is not a voter in the current configuration`);
  core.transferTarget = target;
  // The transfer is abandoned if it has not happened within an election timeout.
  core.electionElapsed = 0;
  const pr = core.progress.get(target)!;
  if (pr.match === core.log.lastIndex()) sendTimeoutNow(core, target);
  else sendAppends(core, pr);
}

export function sendTimeoutNow(core: RaftCore, to: NodeId): void {
  core.reads.markHandedOver();
  core.send({ type: "timeoutNow", from: core.id, to, term: core.term });
}

/** The target's side: campaign now, as a real candidate whose vote requests say the leader handed over. */
export function handleTimeoutNow(core: RaftCore): void {
  if (core.role !== "Leader" && core.election.promotable()) core.campaign(true);
}
