// A TCP proxy a test can cut: a node advertises the proxy's address, so what
// its peers send it passes through here and can be dropped at will, delayed,
// or refused from chosen peers only (it reads the dialer's address from the
// hello frame that opens every Raft connection), which with one proxy per
// node makes any partition of the cluster into groups.

import type { Socket, TCPSocketListener } from "bun";
import { FrameDecoder } from "../../src/transport/frame-decoder.ts";

interface Pair {
  upstream: Socket<Pair> | null;
  pending: Uint8Array[];
  client: Socket<Pair>;
  /** The dialer's advertised Raft address, once its hello frame arrived. */
  source: string | null;
  hello: FrameDecoder | null;
}

export class TcpProxy {
  private listener: TCPSocketListener<Pair> | null = null;
  private readonly open = new Set<Socket<Pair>>();
  private cut = false;
  private delayMs = 0;
  private readonly blocked = new Set<string>();

  constructor(private readonly target: { host: string; port: number }) {}

  get port(): number {
    return this.listener!.port;
  }

  start(port = 0): void {
    this.listener = Bun.listen<Pair>({
      hostname: "127.0.0.1",
      port,
      socket: {
        open: (client) => {
          if (this.cut) return void client.end();
          const pair: Pair = { upstream: null, pending: [], client, source: null, hello: new FrameDecoder() };
          client.data = pair;
          this.open.add(client);
          void Bun.connect<Pair>({
            hostname: this.target.host,
            port: this.target.port,
            socket: {
              open: (up) => {
                up.data = pair;
                pair.upstream = up;
                this.open.add(up);
                for (const chunk of pair.pending) up.write(chunk);
                pair.pending = [];
              },
              data: (_up, chunk) => {
                if (!this.cut && !this.isBlocked(pair)) pair.client.write(chunk);
              },
              close: (up) => {
                this.open.delete(up);
                pair.client.end();
              },
              error: () => void pair.client.end(),
            },
          }).catch(() => client.end());
        },
        data: (client, chunk) => {
          if (this.cut) return;
          const pair = client.data;
          if (pair.hello) this.readHello(pair, new Uint8Array(chunk));
          if (this.isBlocked(pair)) return void client.end();
          const forward = (bytes: Uint8Array): void => {
            if (this.cut || this.isBlocked(pair)) return;
            if (pair.upstream) pair.upstream.write(bytes);
            else pair.pending.push(bytes);
          };
          const bytes = new Uint8Array(chunk);
          // Timers of equal delay fire in the order they were set: the stream stays in order.
          if (this.delayMs > 0) setTimeout(() => forward(bytes), this.delayMs);
          else forward(bytes);
        },
        close: (client) => {
          this.open.delete(client);
          client.data?.upstream?.end();
        },
      },
    });
  }

  /** Learns the dialer's address from the connection's first frame (a hello); anything else leaves it unknown. */
  private readHello(pair: Pair, chunk: Uint8Array): void {
    try {
      pair.hello!.push(chunk, (frame) => {
        if (pair.source === null && frame.type === "hello") pair.source = frame.address;
      });
    } catch {
      pair.hello = null;
    }
    if (pair.source !== null) pair.hello = null;
  }

  private isBlocked(pair: Pair): boolean {
    return pair.source !== null && this.blocked.has(pair.source);
  }

  /** Refuses connections from these dialers (their advertised Raft addresses), closing the ones open, until healed. */
  block(sources: Iterable<string>): void {
    for (const source of sources) this.blocked.add(source);
    for (const s of this.open) if (this.isBlocked(s.data)) s.end();
  }

  /** Holds every byte this long before passing it on, until healed. */
  delay(ms: number): void {
    this.delayMs = ms;
  }

  /** Drops everything and closes every connection until healed. */
  partition(): void {
    this.cut = true;
    for (const s of this.open) s.end();
    this.open.clear();
  }

  heal(): void {
    this.cut = false;
    this.delayMs = 0;
    this.blocked.clear();
  }

  stop(): void {
    this.partition();
    this.listener?.stop(true);
  }
}
