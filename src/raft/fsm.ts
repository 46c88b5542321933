// The state machine the node applies committed commands to. Only Command
// entries reach it: the no-op every leader appends and configuration entries
// are Raft's own business.

/** A committed command. */
export interface CommittedCommand {
  index: number;
  term: number;
  data: Uint8Array;
}

export interface FSM {
  /**
   * Applies one committed command and returns the response handed to the
   * `apply()` call that proposed it (on the leader). Must be deterministic: a
   * function of the state and the command only. A throw is treated as the
   * command's (deterministic) outcome: the proposer's future rejects with it
   * and the node carries on.
   */
  apply(entry: CommittedCommand): unknown | Promise<unknown>;
  /**
   * Optional: applies many committed commands at once (e.g. in one SQLite
   * transaction) and returns one response per command. When present it is
   * used for every run of commands, however short, instead of apply. Must be
   * atomic: if it throws, none of them may have taken effect (the node then
   * stops, since it cannot tell a retry from a replay); report a command's
   * own failure as its response instead.
   */
  applyBatch?(entries: CommittedCommand[]): unknown[] | Promise<unknown[]>;
  /** A consistent copy of the whole state; the node stores it and truncates the log behind it. */
  snapshot(): Uint8Array | Promise<Uint8Array>;
  /** Replaces the whole state with a snapshot's. */
  restore(data: Uint8Array): void | Promise<void>;
  /**
   * Optional, for a persistent state machine: the index of the last command
   * it holds. On restart the node then skips restoring a snapshot it already
   * reflects and replays only the commands after this index.
   */
  appliedIndex?(): number;
}
