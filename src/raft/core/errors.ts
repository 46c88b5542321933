// Errors the core raises synchronously. They carry no HTTP status: the API
// maps codes to statuses once, at the edge.

import type { NodeId } from "./types.ts";

export class RaftError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** The call needs the leader; `leader` is who this node believes leads, if anyone. */
export class NotLeaderError extends RaftError {
  constructor(readonly leader: NodeId | null) {
    super("NOT_LEADER", leader ? `not the leader; the leader is ${leader}` : "not the leader, and no leader is known");
  }
}

/** A leadership transfer is under way; proposals are refused until it ends. */
export class TransferInProgressError extends RaftError {
  constructor(readonly target: NodeId) {
    super("LEADERSHIP_TRANSFER", `leadership is being transferred to ${target}; retry shortly`);
  }
}

/** A membership change is refused (another is pending, prevIndex is stale, the server is unknown, …). */
export class ConfigurationChangeError extends RaftError {
  constructor(message: string) {
    super("CONFIGURATION_CHANGE_REJECTED", message);
  }
}

/** bootstrap() on a node that already has state. */
export class AlreadyBootstrappedError extends RaftError {
  constructor() {
    super("ALREADY_BOOTSTRAPPED", "this node already has Raft state; bootstrap only applies to a brand new node");
  }
}
