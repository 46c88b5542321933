// How Raft messages move between nodes. Messages are one-way and best effort:
// the core retries whatever matters, so a transport may drop, but must never
// corrupt, a message. Messages to one peer are delivered in send order unless
// a test transport is told to reorder them.

import type { Message, NodeId } from "../raft/core/types.ts";

export interface Peer {
  id: NodeId;
  address: string;
}

export interface Transport {
  /** The address peers dial to reach this node. */
  readonly localAddress: string;
  /**
   * Starts accepting messages; `deliver` is called once per received message,
   * with the sender when the transport knows it (a server being added has no
   * configuration yet, and answers the leader at this address).
   */
  start(deliver: (message: Message, from?: Peer) => void): Promise<void>;
  /** Queues a message for `to`; never throws for an unreachable peer. */
  send(to: Peer, message: Message): void;
  /**
   * Writes what send() queued now instead of at the end of the turn. The node
   * calls it before applying a batch, which can hold the event loop for
   * milliseconds: appends and acknowledgements should be on the wire by then.
   */
  flush?(): void;
  /** Called when a peer cannot be reached (connect failed or connection lost). */
  onUnreachable?: (peer: NodeId) => void;
  close(): Promise<void>;
}
