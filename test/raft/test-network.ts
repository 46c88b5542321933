// A minimal in-process network for the node harness: asynchronous delivery
// (a macrotask later, like a socket), per-link cuts for partitions.

import type { Message, NodeId } from "../../src/raft/core/types.ts";
import type { Peer, Transport } from "../../src/transport/types.ts";

export class TestNetwork {
  private readonly endpoints = new Map<string, TestTransport>();
  private readonly cuts = new Set<string>();
  delivered = 0;

  transport(id: NodeId, address: string): TestTransport {
    return new TestTransport(this, id, address);
  }

  cut(a: NodeId, b: NodeId): void {
    this.cuts.add(`${a}|${b}`);
    this.cuts.add(`${b}|${a}`);
  }

  healAll(): void {
    this.cuts.clear();
  }

  /** @internal */
  register(t: TestTransport): void {
    this.endpoints.set(t.localAddress, t);
  }

  /** @internal */
  unregister(t: TestTransport): void {
    if (this.endpoints.get(t.localAddress) === t) this.endpoints.delete(t.localAddress);
  }

  /** @internal */
  route(from: Peer, to: Peer, m: Message): void {
    if (this.cuts.has(`${from.id}|${to.id}`)) return;
    setImmediate(() => {
      const target = this.endpoints.get(to.address);
      if (!target || this.cuts.has(`${from.id}|${to.id}`)) return;
      this.delivered++;
      target.receive(m, from);
    });
  }
}

export class TestTransport implements Transport {
  private deliver: ((m: Message, from?: Peer) => void) | undefined;
  onUnreachable?: (peer: NodeId) => void;

  constructor(
    private readonly network: TestNetwork,
    readonly id: NodeId,
    readonly localAddress: string,
  ) {}

  /** Like a transport that learns the sender's address from the frame, it passes `from` to deliver. */
  async start(deliver: (message: Message, from?: Peer) => void): Promise<void> {
    this.deliver = deliver;
    this.network.register(this);
  }

  send(to: Peer, message: Message): void {
    if (this.deliver) this.network.route({ id: this.id, address: this.localAddress }, to, message);
  }

  receive(m: Message, from: Peer): void {
    this.deliver?.(m, from);
  }

  async close(): Promise<void> {
    this.deliver = undefined;
    this.network.unregister(this);
  }
}
