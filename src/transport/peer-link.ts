// One outbound TCP connection to one peer, owned by TcpTransport.
//
// A single connection per peer (a pool of one) keeps frames in send order
// without sequence numbers; messages are one-way, so frames are pipelined:
// the link writes whatever is queued and never waits for an answer, and one
// connection is enough to fill a link between two nodes (see bench/transport.ts).
//
// States: idle (nothing to send, no connection) → dialing → open; a failed
// dial or a lost connection reports the peer unreachable and waits in
// backoff (doubling from backoffMinMs to backoffMaxMs) before dialing again,
// and only if something is queued by then. Bun's socket.write is unbuffered,
// so the bytes a write does not take stay in `pending` until `drain`.

import type { Socket } from "bun";
import type { NodeId } from "../raft/core/types.ts";
import { parseAddress } from "./address.ts";
import type { TransportLogger } from "./logger.ts";
import { SendQueue } from "./send-queue.ts";

export interface PeerLinkOptions {
  id: NodeId;
  address: string;
  /** The hello frame written first on every connection (carries our advertised address). */
  hello: Uint8Array;
  dialTimeoutMs: number;
  maxQueueBytes: number;
  backoffMinMs: number;
  backoffMaxMs: number;
  logger: TransportLogger;
  onUnreachable: (id: NodeId) => void;
  /** Dial with TLS, checking the peer's certificate against `ca` and showing this node's. */
  tls?: { cert: string; key: string; ca?: string };
}

export type PeerLinkState = "idle" | "dialing" | "open" | "backoff" | "closed";

export interface PeerLinkStats {
  id: NodeId;
  address: string;
  state: PeerLinkState;
  queuedFrames: number;
  queuedBytes: number;
  /** Frames dropped because the queue was full or a connection was lost with them half-written. */
  dropped: number;
  /** Connections opened so far. */
  connects: number;
}

/** Small frames are merged into writes of about this size: one syscall per batch, not per message. */
const WRITE_BATCH_BYTES = 256 * 1024;

export class PeerLink {
  private state: PeerLinkState = "idle";
  private socket: Socket<undefined> | null = null;
  /** The unwritten tail of the batch the socket last refused in part. */
  private pending: Uint8Array | null = null;
  private readonly queue: SendQueue;
  private failures = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  /** Bumped for every dial, so callbacks of an abandoned attempt change nothing. */
  private generation = 0;
  private flushScheduled = false;
  private turnFlushScheduled = false;
  private lostInFlight = 0;
  private connects = 0;
  private socketClosed: (() => void) | null = null;

  constructor(private readonly o: PeerLinkOptions) {
    this.queue = new SendQueue(o.maxQueueBytes);
  }

  get address(): string {
    return this.o.address;
  }

  /**
   * Queues one encoded frame; `keep` marks snapshot chunks (see SendQueue).
   * `perTurn` frames wait for the end of the event-loop turn, to share a
   * write with the others sent in it; see scheduleFlush.
   */
  send(frame: Uint8Array, keep: boolean, perTurn = false): void {
    if (this.state === "closed") return;
    if (!this.queue.push(frame, keep)) {
      this.o.logger.debug("peer queue full: dropped a message", { peer: this.o.id, queuedBytes: this.queue.bytes });
    }
    if (this.state === "idle") this.dial();
    else if (this.state === "open") this.scheduleFlush(perTurn);
  }

  /** Writes the queue now (the scheduled flush then finds it empty). */
  flushNow(): void {
    if (this.state === "open") this.flush();
  }

  stats(): PeerLinkStats {
    return {
      id: this.o.id,
      address: this.o.address,
      state: this.state,
      queuedFrames: this.queue.length,
      queuedBytes: this.queue.bytes,
      dropped: this.queue.dropped + this.lostInFlight,
      connects: this.connects,
    };
  }

  /** Stops for good: drops the queue and closes the connection; resolves once the socket has closed. */
  close(): Promise<void> {
    if (this.state === "closed") return Promise.resolve();
    this.state = "closed";
    this.generation++;
    this.clearTimer();
    this.queue.clear();
    this.pending = null;
    const socket = this.socket;
    this.socket = null;
    if (!socket) return Promise.resolve();
    const closed = new Promise<void>((resolve) => (this.socketClosed = resolve));
    socket.terminate();
    return closed;
  }

  private dial(): void {
    const target = parseAddress(this.o.address);
    this.state = "dialing";
    const gen = ++this.generation;
    if (!target) {
      this.failed(`invalid address ${JSON.stringify(this.o.address)}`);
      return;
    }
    this.timer = setTimeout(() => {
      this.timer = null;
      if (gen === this.generation && this.state === "dialing") this.failed(`dial timed out after ${this.o.dialTimeoutMs} ms`);
    }, this.o.dialTimeoutMs);
    Bun.connect({
      ...(this.o.tls ? { tls: { ...this.o.tls, rejectUnauthorized: true } } : {}),
      hostname: target.host,
      port: target.port,
      socket: {
        open: (socket) => this.opened(gen, socket),
        drain: (socket) => {
          if (socket === this.socket) this.flush();
        },
        close: (socket) => this.socketEnded(socket),
        connectError: (_socket, error) => {
          if (gen === this.generation && this.state === "dialing") this.failed(error.message);
        },
        error: (_socket, error) => this.o.logger.debug("peer connection error", { peer: this.o.id, error: error.message }),
        // Peers never write on a connection we dialed; anything that arrives is ignored.
        data: () => {},
      },
    }).catch(() => {
      // Reported through connectError; the rejection itself carries nothing more.
    });
  }

  private opened(gen: number, socket: Socket<undefined>): void {
    if (gen !== this.generation || this.state !== "dialing") {
      // A dial that timed out (or a link closed meanwhile) connected late.
      socket.terminate();
      return;
    }
    this.clearTimer();
    this.state = "open";
    this.socket = socket;
    this.failures = 0;
    this.connects++;
    socket.setNoDelay(true);
    this.pending = this.o.hello;
    this.flush();
  }

  private socketEnded(socket: Socket<undefined>): void {
    if (this.socketClosed && this.state === "closed") {
      this.socketClosed();
      this.socketClosed = null;
      return;
    }
    if (socket !== this.socket) return;
    this.socket = null;
    // Whatever was half written is lost with the connection: the peer's
    // decoder discards a partial frame, and Raft re-sends what matters.
    if (this.pending) this.lostInFlight++;
    this.pending = null;
    this.failed("connection lost");
  }

  private failed(reason: string): void {
    this.generation++;
    this.clearTimer();
    this.failures++;
    const delay = Math.min(this.o.backoffMaxMs, this.o.backoffMinMs * 2 ** Math.min(this.failures - 1, 16));
    this.o.logger.debug("peer unreachable", { peer: this.o.id, address: this.o.address, reason, retryInMs: delay });
    this.state = "backoff";
    this.timer = setTimeout(() => {
      this.timer = null;
      if (this.state !== "backoff") return;
      if (this.queue.length > 0) this.dial();
      else this.state = "idle";
    }, delay);
    // Never synchronously inside send(): the caller may be in the middle of
    // handing out a batch of messages when a bad address fails at once.
    const id = this.o.id;
    queueMicrotask(() => {
      if (this.state !== "closed") this.o.onUnreachable(id);
    });
  }

  /**
   * Sends issued together go out in one write: by default those of the same
   * callback (a microtask), and per-turn ones those of the whole event-loop
   * turn. Forwarded proposals and their answers are per-turn: each is made
   * in its own HTTP callback, and flushed per callback a follower wrote every
   * one on its own (11% of its loop under 64 writing clients). Raft's own
   * messages keep the microtask: the ready loop flushes its batches itself,
   * and deferring the rest to the turn's end cost the in-process Raft bench
   * (3 nodes, one event loop, 256 proposers) leader changes in 3 of 6 runs.
   */
  private scheduleFlush(perTurn: boolean): void {
    if (perTurn) {
      if (this.turnFlushScheduled) return;
      this.turnFlushScheduled = true;
      setImmediate(() => {
        this.turnFlushScheduled = false;
        this.flush();
      });
      return;
    }
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    queueMicrotask(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    const socket = this.socket;
    if (this.state !== "open" || !socket) return;
    for (;;) {
      if (!this.pending) {
        this.pending = this.queue.take(WRITE_BATCH_BYTES);
        if (!this.pending) return;
      }
      const written = socket.write(this.pending);
      if (written < 0) return; // closing: the close handler takes over
      if (written < this.pending.length) {
        this.pending = this.pending.subarray(written);
        return; // resumes on drain
      }
      this.pending = null;
    }
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
