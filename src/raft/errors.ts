// Errors the Raft node's futures reject with. Every one has a `code` (mapped
// to an HTTP status once, at the API edge) and a message an operator can act
// on. The core's synchronous errors are re-exported so callers import one file.

import { NotLeaderError as CoreNotLeaderError, RaftError } from "./core/errors.ts";
import type { NodeId } from "./core/types.ts";

export {
  AlreadyBootstrappedError,
  ConfigurationChangeError,
  RaftError,
  TransferInProgressError,
} from "./core/errors.ts";

/**
 * The call needs the leader. `leader` is the id this node believes leads and
 * `leaderAddress` its Raft address (both null when no leader is known), so a
 * client or the API can forward the request. Extends the core's error, so
 * `instanceof` against either works.
 */
export class NotLeaderError extends CoreNotLeaderError {
  constructor(
    leader: NodeId | null,
    readonly leaderAddress: string | null,
  ) {
    super(leader);
    if (leader) this.message = `not the leader; the leader is ${leader}${leaderAddress ? ` at ${leaderAddress}` : ""}`;
  }
}

/** The node was shut down (or stopped on a fatal error) before the call completed. */
export class ShutdownError extends RaftError {
  constructor(reason?: unknown) {
    super("SHUTDOWN", reason === undefined ? "the Raft node is shut down" : `the Raft node stopped: ${describe(reason)}`);
    if (reason !== undefined) this.cause = reason;
  }
}

/** The call did not complete in time. For a write, the outcome is unknown: it may still commit. */
export class TimeoutError extends RaftError {
  constructor(
    readonly operation: string,
    readonly timeoutMs: number,
  ) {
    super("TIMEOUT", `${operation} did not complete within ${timeoutMs} ms; for a write the outcome is unknown, check before retrying`);
  }
}

/**
 * This node stopped being the leader while the call was in flight. For a
 * write the outcome is unknown: the entry may or may not be committed by the
 * next leader, so the caller must check before retrying a non-idempotent one.
 */
export class LeadershipLostError extends RaftError {
  constructor(
    readonly operation: string,
    readonly index?: number,
  ) {
    super(
      "LEADERSHIP_LOST",
      `leadership was lost while ${operation}${index ? ` (entry ${index})` : ""} was in flight; the outcome is unknown`,
    );
  }
}

/** A leadership transfer ended without another node taking over (the core abandons one after an election timeout). */
export class LeadershipTransferError extends RaftError {
  constructor(message: string) {
    super("LEADERSHIP_TRANSFER_FAILED", message);
  }
}

/** The state machine, the storage or the snapshot store failed; the node cannot safely continue. */
export class FatalNodeError extends RaftError {
  constructor(
    readonly stage: string,
    cause: unknown,
  ) {
    super("NODE_FAILED", `the Raft node stopped while ${stage}: ${describe(cause)}`);
    this.cause = cause;
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
