// A TCP proxy a test can cut: a node advertises the proxy's address, so what
// its peers send it passes through here and can be dropped at will.

import type { Socket, TCPSocketListener } from "bun";

interface Pair {
  upstream: Socket<Pair> | null;
  pending: Uint8Array[];
  client: Socket<Pair>;
}

export class TcpProxy {
  private listener: TCPSocketListener<Pair> | null = null;
  private readonly open = new Set<Socket<Pair>>();
  private cut = false;

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
          const pair: Pair = { upstream: null, pending: [], client };
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
                if (!this.cut) pair.client.write(chunk);
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
          if (pair.upstream) pair.upstream.write(chunk);
          else pair.pending.push(new Uint8Array(chunk));
        },
        close: (client) => {
          this.open.delete(client);
          client.data?.upstream?.end();
        },
      },
    });
  }

  /** Drops everything and closes every connection until healed. */
  partition(): void {
    this.cut = true;
    for (const s of this.open) s.end();
    this.open.clear();
  }

  heal(): void {
    this.cut = false;
  }

  stop(): void {
    this.partition();
    this.listener?.stop(true);
  }
}
