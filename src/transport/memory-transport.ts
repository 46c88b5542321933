// An in-process network for node-level tests: MemoryNetwork hands out
// MemoryTransports by address and carries messages between them
// asynchronously (never inside send(), like a socket), with seeded fault
// injection: drop, delay, duplicate, reorder, partitions and one-way cuts.
//
// Faults are decided by a seeded generator, so a failing run replays from its
// seed (timer interleavings aside). A partition is checked when a message is
// sent AND when it arrives: a message in flight when the network splits is
// lost, as on a real network. Partitions are silent (no onUnreachable), like
// dropped packets; only sending to an address nobody listens on reports the
// peer unreachable, like a refused connection.

import { seededRandom } from "../raft/core/random.ts";
import type { NodeId } from "../raft/core/types.ts";
import { decodeFrames } from "./frame-decoder.ts";
import { encodeMessage } from "./codec.ts";
import type { Peer, Transport, WireMessage } from "./types.ts";

type WireMessageType = WireMessage["type"];

export interface MemoryFaults {
  /** Probability that a message is lost. */
  dropRate: number;
  /** Probability that a message is delivered twice. */
  duplicateRate: number;
  /** Delivery delay, uniformly drawn from [min, max] ms per message. */
  delayMs: readonly [number, number];
  /** Let per-message delays reorder messages on a link (otherwise each link stays FIFO). */
  reorder: boolean;
}

export interface MemoryNetworkOptions extends Partial<MemoryFaults> {
  /** Seed for every fault decision. Default 1. */
  seed?: number;
  /** Round-trip every message through the wire codec, to catch what the TCP path would. */
  wire?: boolean;
}

export interface MemoryNetworkStats {
  /** Messages handed to send(), by type (counted before any fault). */
  sent: Record<WireMessageType, number>;
  sentTotal: number;
  delivered: number;
  dropped: number;
  duplicated: number;
}

const MESSAGE_TYPES: readonly WireMessageType[] = [
  "vote", "voteResp", "append", "appendResp", "heartbeat", "heartbeatResp", "snapshot", "snapshotResp", "timeoutNow", "forward", "forwardResp",
];

function emptyStats(): MemoryNetworkStats {
  const sent = Object.fromEntries(MESSAGE_TYPES.map((t) => [t, 0])) as Record<WireMessageType, number>;
  return { sent, sentTotal: 0, delivered: 0, dropped: 0, duplicated: 0 };
}

/** A FIFO of deliveries on one link, each due at a time no earlier than the one before. */
class LinkQueue {
  private readonly items: { at: number; run: () => void }[] = [];
  private armed = false;
  last = 0;

  push(at: number, run: () => void): void {
    this.last = Math.max(this.last, at);
    this.items.push({ at: this.last, run });
    if (!this.armed) this.arm();
  }

  private arm(): void {
    this.armed = true;
    const wait = this.items[0]!.at - performance.now();
    const fire = (): void => this.fire();
    if (wait <= 0) setImmediate(fire);
    else setTimeout(fire, wait);
  }

  private fire(): void {
    this.armed = false;
    const now = performance.now();
    while (this.items.length > 0 && this.items[0]!.at <= now) this.items.shift()!.run();
    if (this.items.length > 0) this.arm();
  }
}

export class MemoryNetwork {
  private faults: MemoryFaults;
  private readonly random: () => number;
  private readonly wire: boolean;
  private readonly endpoints = new Map<string, MemoryTransport>();
  private readonly links = new Map<string, LinkQueue>();
  private groups: string[][] = [];
  private readonly isolated = new Set<string>();
  private readonly cuts = new Set<string>();
  private counters = emptyStats();
  private flying = 0;

  constructor(options: MemoryNetworkOptions = {}) {
    this.random = seededRandom(options.seed ?? 1);
    this.wire = options.wire ?? false;
    this.faults = {
      dropRate: options.dropRate ?? 0,
      duplicateRate: options.duplicateRate ?? 0,
      delayMs: options.delayMs ?? [0, 0],
      reorder: options.reorder ?? false,
    };
  }

  /** A transport listening at `address`; `id` lets partitions name it by node id as well. */
  transport(address: string, id?: NodeId): MemoryTransport {
    return new MemoryTransport(this, address, id);
  }

  /** Changes fault settings from now on (messages already in flight keep their fate). */
  setFaults(faults: Partial<MemoryFaults>): void {
    this.faults = { ...this.faults, ...faults };
  }

  /** Splits the network: messages pass only within a group. Names are addresses or ids; endpoints in no group form one more group together. */
  partition(groups: string[][]): void {
    this.groups = groups.map((g) => [...g]);
  }

  /** Cuts one endpoint (address or id) off from everyone, both ways. */
  isolate(name: string): void {
    this.isolated.add(name);
  }

  /** Cuts one direction only: `from` can no longer reach `to` (addresses or ids). */
  disconnect(from: string, to: string): void {
    this.cuts.add(`${from}\u0000${to}`);
  }

  /** Removes every partition, isolation and cut (fault probabilities stay). */
  heal(): void {
    this.groups = [];
    this.isolated.clear();
    this.cuts.clear();
  }

  stats(): MemoryNetworkStats {
    return { ...this.counters, sent: { ...this.counters.sent } };
  }

  resetStats(): void {
    this.counters = emptyStats();
  }

  /** Messages scheduled but not yet delivered or dropped. */
  get inFlight(): number {
    return this.flying;
  }

  /** @internal */
  register(t: MemoryTransport): void {
    const existing = this.endpoints.get(t.localAddress);
    if (existing && existing !== t) throw new Error(`address ${t.localAddress} is already in use on this MemoryNetwork`);
    this.endpoints.set(t.localAddress, t);
  }

  /** @internal */
  unregister(t: MemoryTransport): void {
    if (this.endpoints.get(t.localAddress) === t) this.endpoints.delete(t.localAddress);
  }

  /** @internal */
  route(from: MemoryTransport, to: Peer, message: WireMessage): void {
    this.counters.sent[message.type]++;
    this.counters.sentTotal++;
    if (!this.endpoints.has(to.address)) {
      this.counters.dropped++;
      queueMicrotask(() => from.unreachable(to.id));
      return;
    }
    const src = [from.localAddress, from.id ?? message.from];
    const dst = [to.address, to.id];
    if (this.blocked(src, dst) || this.random() < this.faults.dropRate) {
      this.counters.dropped++;
      return;
    }
    const copies = this.random() < this.faults.duplicateRate ? 2 : 1;
    if (copies === 2) this.counters.duplicated++;
    for (let i = 0; i < copies; i++) {
      const carried = this.wire ? (decodeFrames(encodeMessage(message))[0] as WireMessage) : message;
      this.schedule(from, to, () => this.arrive(src, dst, from, to, carried));
    }
  }

  private schedule(from: MemoryTransport, to: Peer, run: () => void): void {
    const [min, max] = this.faults.delayMs;
    const delay = min + this.random() * Math.max(0, max - min);
    this.flying++;
    if (this.faults.reorder) {
      setTimeout(run, delay);
      return;
    }
    const key = `${from.localAddress}\u0000${to.address}`;
    let link = this.links.get(key);
    if (!link) this.links.set(key, (link = new LinkQueue()));
    link.push(performance.now() + delay, run);
  }

  private arrive(src: string[], dst: string[], from: MemoryTransport, to: Peer, message: WireMessage): void {
    this.flying--;
    const target = this.endpoints.get(to.address);
    if (!target || this.blocked(src, dst)) {
      this.counters.dropped++;
      return;
    }
    this.counters.delivered++;
    target.receive(message, { id: message.from, address: from.localAddress });
  }

  private blocked(src: string[], dst: string[]): boolean {
    if (src.some((n) => this.isolated.has(n)) || dst.some((n) => this.isolated.has(n))) return true;
    for (const a of src) for (const b of dst) if (this.cuts.has(`${a}\u0000${b}`)) return true;
    return this.groups.length > 0 && this.groupOf(src) !== this.groupOf(dst);
  }

  private groupOf(names: string[]): number {
    return this.groups.findIndex((g) => g.some((n) => names.includes(n)));
  }
}

export class MemoryTransport implements Transport {
  onUnreachable?: (peer: NodeId) => void;
  private deliver: ((message: WireMessage, from?: Peer) => void) | null = null;

  constructor(
    private readonly network: MemoryNetwork,
    readonly localAddress: string,
    readonly id?: NodeId,
  ) {}

  /** `deliver` also receives the sender ({id, address}), as the TCP transport does after its hello. */
  async start(deliver: (message: WireMessage, from?: Peer) => void): Promise<void> {
    this.deliver = deliver;
    this.network.register(this);
  }

  send(to: Peer, message: WireMessage): void {
    if (!this.deliver) return;
    this.network.route(this, to, message);
  }

  async close(): Promise<void> {
    this.deliver = null;
    this.network.unregister(this);
  }

  /** @internal */
  receive(message: WireMessage, from: Peer): void {
    this.deliver?.(message, from);
  }

  /** @internal */
  unreachable(peer: NodeId): void {
    if (this.deliver) this.onUnreachable?.(peer);
  }
}
