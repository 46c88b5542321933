// Membership changes as the node's callers see them (addVoter, addNonvoter,
// demoteVoter, removeServer): wait until the core can take the change, propose
// it, then wait until it is committed and applied here.

import type { RaftCore } from "./core/raft.ts";
import type { MembershipChange } from "./core/types.ts";
import type { AddressBook } from "./addresses.ts";
import type { Applier } from "./apply.ts";
import type { Futures } from "./futures.ts";
import type { ReadyLoop } from "./ready-loop.ts";

export interface MembershipChangesOptions {
  core: RaftCore;
  futures: Futures;
  applier: Applier;
  readyLoop: ReadyLoop;
  addresses: AddressBook;
  defaultTimeoutMs: number;
  /** Throws ShutdownError once the node is shut down. */
  ensureOpen: () => void;
}

export class MembershipChanges {
  constructor(private readonly o: MembershipChangesOptions) {}

  async change(change: MembershipChange, prevIndex: number, timeoutMs?: number): Promise<{ index: number }> {
    const { core, futures, readyLoop, defaultTimeoutMs } = this.o;
    this.o.ensureOpen();
    const deadline = Date.now() + this.timeout(timeoutMs);
    const operation = change.kind;
    // The core accepts one change at a time, and only once the leader has
    // committed an entry of its term: wait for that here rather than fail, and
    // propose synchronously inside the poll so concurrent calls queue up.
    const at = await futures.until(operation, this.timeout(timeoutMs), () => {
      const st = core.status();
      if (st.role !== "Leader") throw this.o.addresses.notLeader(st.leader);
      if (readyLoop.committedTerm !== st.term || st.configurationIndex > st.commitIndex) return undefined;
      const proposed = core.proposeMembershipChange(change, prevIndex);
      readyLoop.schedule();
      return proposed;
    });
    if (at.index <= this.o.applier.applied) return { index: at.index }; // already the configuration: nothing to do
    const remaining = timeoutMs === 0 || (timeoutMs === undefined && defaultTimeoutMs === 0) ? 0 : Math.max(1, deadline - Date.now());
    readyLoop.schedule();
    const { index } = await futures.forEntry(operation, at, remaining);
    return { index };
  }

  private timeout(ms: number | undefined): number {
    return ms ?? this.o.defaultTimeoutMs;
  }
}
