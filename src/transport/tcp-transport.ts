// The production transport: Raft messages as length-prefixed, checksummed
// binary frames (codec.ts) over TCP, using Bun.listen / Bun.connect.
//
// Each node dials one outbound connection per peer and only writes on it;
// messages from a peer arrive on the connection that peer dialed. The first
// frame a dialer writes is a hello with its advertised address, so `deliver`
// can tell the node where a message came from (a server being added has no
// configuration yet). A malformed stream closes only the connection it came
// on, with one log line: a confused or hostile client cannot take the node down.

import type { Socket, TCPSocketListener } from "bun";
import type { NodeId } from "../raft/core/types.ts";
import { formatAddress } from "./address.ts";
import { encodeFrame, encodeMessage } from "./codec.ts";
import { FrameError } from "./frame-error.ts";
import { DEFAULT_MAX_FRAME_BYTES, FrameDecoder } from "./frame-decoder.ts";
import { quietLogger, type TransportLogger } from "./logger.ts";
import { PeerLink, type PeerLinkStats } from "./peer-link.ts";
import type { Peer, Transport, WireMessage } from "./types.ts";

export interface TcpTransportOptions {
  /** Interface to bind, e.g. "127.0.0.1" or "0.0.0.0". */
  host: string;
  /** Port to bind; 0 picks a free one (read it back from localAddress after start). */
  port: number;
  /** The address peers should dial, when it differs from host:port (0.0.0.0 binds, NAT, containers). */
  advertise?: string;
  logger?: TransportLogger;
  /** Give up on a connection attempt after this long. Default 2000. */
  dialTimeoutMs?: number;
  /** Largest frame sent or accepted, length prefix included. Default 64 MiB. */
  maxFrameBytes?: number;
  /** Bytes queued per peer before messages are dropped (see send-queue.ts). Default 64 MiB. */
  maxQueueBytes?: number;
  /** First reconnect delay; doubles per failure. Default 50. */
  backoffMinMs?: number;
  /** Longest reconnect delay. Default 2000. */
  backoffMaxMs?: number;
  /** An inbound connection silent this long in the middle of a frame is closed (whole seconds). Default 30. */
  stalledFrameSeconds?: number;
  /**
   * TLS on both sides: the listener shows `cert`, and with `mutual` asks every
   * dialer for a certificate `ca` signed; dialers check the peer's certificate
   * against `ca` (the system's CAs without it) and show their own.
   */
  tls?: { cert: string; key: string; ca?: string; mutual: boolean };
}

interface Inbound {
  decoder: FrameDecoder;
  /** The dialer's advertised address, from its hello. */
  peerAddress: string | null;
  remote: string;
}

/** How long close() waits for sockets to report closed before giving up on them. */
const CLOSE_WAIT_MS = 1000;

export class TcpTransport implements Transport {
  onUnreachable?: (peer: NodeId) => void;

  private readonly o: Required<Omit<TcpTransportOptions, "advertise" | "tls">> & Pick<TcpTransportOptions, "advertise" | "tls">;
  private listener: TCPSocketListener<Inbound> | null = null;
  private readonly links = new Map<NodeId, PeerLink>();
  private readonly inbound = new Set<Socket<Inbound>>();
  private inboundDrained: (() => void) | null = null;
  private deliver: ((message: WireMessage, from?: Peer) => void) | null = null;
  private hello: Uint8Array | null = null;
  private closed = false;

  constructor(options: TcpTransportOptions) {
    this.o = {
      logger: quietLogger,
      dialTimeoutMs: 2000,
      maxFrameBytes: DEFAULT_MAX_FRAME_BYTES,
      maxQueueBytes: 64 * 1024 * 1024,
      backoffMinMs: 50,
      backoffMaxMs: 2000,
      stalledFrameSeconds: 30,
      ...options,
    };
  }

  get localAddress(): string {
    return this.o.advertise ?? formatAddress(this.o.host, this.listener?.port ?? this.o.port);
  }

  /** Binds the listener. `deliver` also receives the sender as {id: message.from, address} once its hello arrived. */
  async start(deliver: (message: WireMessage, from?: Peer) => void): Promise<void> {
    if (this.listener || this.closed) throw new Error(`transport ${this.localAddress} was already started or closed`);
    this.deliver = deliver;
    try {
      const tls = this.o.tls;
      this.listener = Bun.listen<Inbound>({
        ...(tls ? { tls: { cert: tls.cert, key: tls.key, ...(tls.ca === undefined ? {} : { ca: tls.ca }), requestCert: tls.mutual, rejectUnauthorized: tls.mutual } } : {}),
        hostname: this.o.host,
        port: this.o.port,
        socket: {
          open: (socket) => this.accepted(socket),
          data: (socket, chunk) => this.received(socket, chunk),
          close: (socket) => this.inboundClosed(socket),
          timeout: (socket) => this.stalled(socket),
          error: (socket, error) => this.o.logger.debug("inbound connection error", { remote: socket.data?.remote, error: error.message }),
        },
      });
    } catch (error) {
      throw new Error(`cannot listen on ${formatAddress(this.o.host, this.o.port)}: ${error instanceof Error ? error.message : String(error)}`);
    }
    this.hello = encodeFrame({ type: "hello", address: this.localAddress });
    this.o.logger.info("raft transport listening", { address: this.localAddress });
  }

  send(to: Peer, message: WireMessage): void {
    if (this.closed || !this.hello) return;
    const frame = encodeMessage(message);
    if (frame.length > this.o.maxFrameBytes) {
      // The receiver would refuse it and drop the connection with it.
      this.o.logger.warn("dropped a message larger than maxFrameBytes", { to: to.id, type: message.type, bytes: frame.length, max: this.o.maxFrameBytes });
      return;
    }
    // Forwarded proposals and answers come one per HTTP callback: let a turn's worth share a write.
    this.link(to).send(frame, message.type === "snapshot", message.type === "forward" || message.type === "forwardResp");
  }

  flush(): void {
    for (const link of this.links.values()) link.flushNow();
  }

  /** Per-peer queue and connection state, for stats and tests. */
  peers(): PeerLinkStats[] {
    return [...this.links.values()].map((l) => l.stats());
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const waits: Promise<void>[] = [...this.links.values()].map((l) => l.close());
    this.links.clear();
    if (this.inbound.size > 0) {
      waits.push(new Promise<void>((resolve) => (this.inboundDrained = resolve)));
      for (const s of this.inbound) s.terminate();
    }
    this.listener?.stop(true);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const giveUp = new Promise<void>((resolve) => (timer = setTimeout(resolve, CLOSE_WAIT_MS)));
    await Promise.race([Promise.all(waits), giveUp]);
    clearTimeout(timer);
  }

  private link(to: Peer): PeerLink {
    let link = this.links.get(to.id);
    if (link && link.address !== to.address) {
      // The peer moved (a new address in the configuration): start over there.
      void link.close();
      link = undefined;
    }
    if (!link) {
      link = new PeerLink({
        id: to.id,
        address: to.address,
        hello: this.hello!,
        dialTimeoutMs: this.o.dialTimeoutMs,
        maxQueueBytes: this.o.maxQueueBytes,
        backoffMinMs: this.o.backoffMinMs,
        backoffMaxMs: this.o.backoffMaxMs,
        logger: this.o.logger,
        ...(this.o.tls ? { tls: { cert: this.o.tls.cert, key: this.o.tls.key, ...(this.o.tls.ca === undefined ? {} : { ca: this.o.tls.ca }) } } : {}),
        onUnreachable: (id) => {
          if (!this.closed) this.onUnreachable?.(id);
        },
      });
      this.links.set(to.id, link);
    }
    return link;
  }

  private accepted(socket: Socket<Inbound>): void {
    if (this.closed) {
      socket.terminate();
      return;
    }
    socket.data = {
      decoder: new FrameDecoder({ maxFrameBytes: this.o.maxFrameBytes }),
      peerAddress: null,
      remote: formatAddress(socket.remoteAddress, socket.remotePort),
    };
    this.inbound.add(socket);
  }

  private received(socket: Socket<Inbound>, chunk: Uint8Array): void {
    const conn = socket.data;
    if (this.closed || !conn) return;
    try {
      conn.decoder.push(chunk, (frame) => {
        if (frame.type === "hello") {
          conn.peerAddress = frame.address;
          return;
        }
        this.handOver(frame, conn);
      });
      // Mid-frame, the rest must keep coming; between frames a peer may rightly be quiet.
      socket.timeout(conn.decoder.buffered > 0 ? this.o.stalledFrameSeconds : 0);
    } catch (error) {
      if (!(error instanceof FrameError)) throw error;
      this.o.logger.warn("closing a raft connection that sent a bad frame", { remote: conn.remote, peer: conn.peerAddress, code: error.code, error: error.message });
      // Said once: the close that follows is not reported again as a cut-short frame.
      this.inbound.delete(socket);
      socket.terminate();
    }
  }

  /** A frame begun and then left unfinished: a slow-loris client (or a dead one) holds no buffer forever. */
  private stalled(socket: Socket<Inbound>): void {
    const conn = socket.data;
    this.o.logger.warn("closing a raft connection that stalled inside a frame", { remote: conn?.remote, peer: conn?.peerAddress, buffered: conn?.decoder.buffered, seconds: this.o.stalledFrameSeconds });
    this.inbound.delete(socket);
    socket.terminate();
  }

  private handOver(message: WireMessage, conn: Inbound): void {
    try {
      this.deliver?.(message, conn.peerAddress === null ? undefined : { id: message.from, address: conn.peerAddress });
    } catch (error) {
      // The node's bug, not the peer's: keep the connection and the stream aligned.
      this.o.logger.warn("deliver threw; message dropped", { from: message.from, type: message.type, error: String(error) });
    }
  }

  private inboundClosed(socket: Socket<Inbound>): void {
    const conn = socket.data;
    if (conn && conn.decoder.buffered > 0 && this.inbound.has(socket) && !this.closed) {
      this.o.logger.warn("a raft connection closed inside a frame", { remote: conn.remote, peer: conn.peerAddress, buffered: conn.decoder.buffered });
    }
    this.inbound.delete(socket);
    if (this.inbound.size === 0 && this.inboundDrained) {
      this.inboundDrained();
      this.inboundDrained = null;
    }
  }
}
