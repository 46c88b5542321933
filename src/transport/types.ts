// How Raft messages move between nodes. Messages are one-way and best effort:
// the core retries whatever matters, so a transport may drop, but must never
// corrupt, a message. Messages to one peer are delivered in send order unless
// a test transport is told to reorder them.

import type { Message, NodeId } from "../raft/core/types.ts";

/**
 * A follower's request to the leader outside the Raft protocol: a proposal
 * to append (what etcd sends as MsgProp), so a write made on a follower costs
 * one frame each way instead of a second HTTP request. `payload` is opaque
 * here; `timeoutMs` is the proposer's remaining deadline.
 */
export interface ForwardRequest {
  type: "forward";
  from: NodeId;
  to: NodeId;
  /** Unused (0): forwarding is not part of any term. */
  term: number;
  id: number;
  timeoutMs: number;
  payload: Uint8Array;
}

/** The leader's answer to a ForwardRequest: a status, and the result's bytes or the error's message. */
export interface ForwardResponse {
  type: "forwardResp";
  from: NodeId;
  to: NodeId;
  term: number;
  id: number;
  status: number;
  payload: Uint8Array;
}

/** Everything a transport carries between nodes. */
export type WireMessage = Message | ForwardRequest | ForwardResponse;

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
  start(deliver: (message: WireMessage, from?: Peer) => void): Promise<void>;
  /** Queues a message for `to`; never throws for an unreachable peer. */
  send(to: Peer, message: WireMessage): void;
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
