// Proposals made on a follower, sent to the leader over the Raft transport
// (etcd's MsgProp, kept outside the core): one frame there, one back, instead
// of a second HTTP request. The payload is opaque here: the layer above says
// what a request means and encodes the answer (see RaftNode.onForwarded).
//
// What a failure means for a write is kept: REJECTED means the leader never
// appended it (safe to retry anywhere); UNKNOWN means it may or may not
// commit, exactly as for a write made on the leader that timed out or lost
// leadership in flight.

import type { NodeId } from "./core/types.ts";
import { LeadershipLostError, NotLeaderError, ShutdownError, TimeoutError, TransferInProgressError } from "./errors.ts";
import type { Logger } from "./logger.ts";
import type { ForwardRequest, ForwardResponse, Peer } from "../transport/types.ts";

export const ForwardStatus = { ok: 0, rejected: 1, timeout: 2, unknown: 3 } as const;

/**
 * The leader's side: carries out a forwarded request and returns the answer's
 * bytes. It throws NotLeaderError, ShutdownError or TransferInProgressError
 * only when it proposed nothing; any other error leaves the outcome unknown.
 */
export type ForwardHandler = (payload: Uint8Array, timeoutMs: number) => Promise<Uint8Array>;

interface Pending {
  resolve(payload: Uint8Array): void;
  reject(error: unknown): void;
  timer: ReturnType<typeof setTimeout>;
  leader: NodeId;
  timeoutMs: number;
}

export interface ForwardingOptions {
  id: NodeId;
  send(to: Peer, message: ForwardRequest | ForwardResponse): void;
  /** Where a node is: from the configurations, or as the transport told us. */
  address(id: NodeId): string | undefined;
  logger: Logger;
}

const utf8 = new TextEncoder();
const text = new TextDecoder();

export class Forwarding {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private handler: ForwardHandler | undefined;
  /** Peers reported unreachable and not heard from since: nothing is sent to them. */
  private readonly down = new Set<NodeId>();

  constructor(private readonly o: ForwardingOptions) {}

  onRequest(handler: ForwardHandler): void {
    this.handler = handler;
  }

  /** Sends `payload` to `leader`; resolves with its answer's bytes. */
  request(leader: NodeId, payload: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
    const address = this.o.address(leader);
    if (address === undefined) return Promise.reject(new NotLeaderError(leader, null));
    // Sent to a peer we cannot reach, a request would wait in its queue and
    // might still arrive later: refuse it now, unsent, so the caller may retry.
    if (this.down.has(leader)) return Promise.reject(Object.assign(new NotLeaderError(leader, address), { message: `the leader ${leader} at ${address} cannot be reached from here; retry shortly` }));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      // A little longer than the leader's own deadline, so its answer (even a timeout) can still arrive.
      const timer = setTimeout(() => this.settle(id, new TimeoutError("forwarding to the leader", timeoutMs)), timeoutMs + 250);
      this.pending.set(id, { resolve, reject, timer, leader, timeoutMs });
      this.o.send({ id: leader, address }, { type: "forward", from: this.o.id, to: leader, term: 0, id, timeoutMs, payload });
    });
  }

  /** A message came from `peer`: it can be reached again. */
  heard(peer: NodeId): void {
    if (this.down.size > 0) this.down.delete(peer);
  }

  /** The leader became unreachable: its answers will not come; whatever was sent may still commit. */
  unreachable(peer: NodeId): void {
    this.down.add(peer);
    for (const [id, p] of this.pending) if (p.leader === peer) this.settle(id, new LeadershipLostError("forwarding to the leader"));
  }

  /** The node stops: nothing pending will be answered. */
  rejectAll(error: unknown): void {
    for (const id of [...this.pending.keys()]) this.settle(id, error);
  }

  handleResponse(m: ForwardResponse): void {
    const p = this.pending.get(m.id);
    if (!p) return; // timed out already
    if (m.status === ForwardStatus.ok) return this.settle(m.id, undefined, m.payload);
    const why = text.decode(m.payload);
    if (m.status === ForwardStatus.rejected) return this.settle(m.id, Object.assign(new NotLeaderError(null, null), { message: `the leader ${p.leader} did not take the proposal: ${why}` }));
    if (m.status === ForwardStatus.timeout) return this.settle(m.id, new TimeoutError(`the proposal forwarded to ${p.leader}`, p.timeoutMs));
    this.settle(m.id, new LeadershipLostError(`the proposal forwarded to ${p.leader} (${why})`));
  }

  /** The leader's side: runs the handler and answers the sender, whatever happens. */
  async handleRequest(m: ForwardRequest, from: Peer | undefined): Promise<void> {
    const address = this.o.address(m.from) ?? from?.address;
    if (address === undefined) {
      this.o.logger.warn("dropping a forwarded proposal from a server with no known address", { from: m.from });
      return;
    }
    let status: number = ForwardStatus.ok;
    let payload: Uint8Array;
    try {
      if (!this.handler) throw new NotLeaderError(null, null);
      payload = await this.handler(m.payload, m.timeoutMs);
    } catch (error) {
      // Never appended: the sender may retry elsewhere. Otherwise the outcome is unknown.
      status =
        error instanceof NotLeaderError || error instanceof ShutdownError || error instanceof TransferInProgressError
          ? ForwardStatus.rejected
          : error instanceof TimeoutError
            ? ForwardStatus.timeout
            : ForwardStatus.unknown;
      payload = utf8.encode(error instanceof Error ? error.message : String(error));
    }
    this.o.send({ id: m.from, address }, { type: "forwardResp", from: this.o.id, to: m.from, term: 0, id: m.id, status, payload });
  }

  private settle(id: number, error: unknown, payload?: Uint8Array): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    clearTimeout(p.timer);
    if (error === undefined) p.resolve(payload!);
    else p.reject(error);
  }
}
