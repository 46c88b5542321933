import { afterEach, describe, expect, it } from "bun:test";
import type { AppendRequest, Message } from "../../src/raft/core/types.ts";
import { MemoryNetwork, type MemoryNetworkOptions, type MemoryTransport } from "../../src/transport/memory-transport.ts";
import type { Peer, WireMessage } from "../../src/transport/types.ts";
import { append, samples, waitFor } from "./fixtures.ts";

const started: MemoryTransport[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((t) => t.close()));
});

interface Node {
  t: MemoryTransport;
  got: WireMessage[];
  unreachable: string[];
  peer: Peer;
}

async function cluster(options: MemoryNetworkOptions, ids = ["n1", "n2", "n3"]): Promise<{ net: MemoryNetwork; nodes: Record<string, Node> }> {
  const net = new MemoryNetwork(options);
  const nodes: Record<string, Node> = {};
  for (const id of ids) {
    const t = net.transport(`${id}:7000`, id);
    started.push(t);
    const n: Node = { t, got: [], unreachable: [], peer: { id, address: t.localAddress } };
    t.onUnreachable = (p) => n.unreachable.push(p);
    await t.start((m) => n.got.push(m));
    nodes[id] = n;
  }
  return { net, nodes };
}

const seqs = (ms: WireMessage[]): number[] => ms.map((m) => (m as AppendRequest).seq);
const settled = (net: MemoryNetwork) => () => net.inFlight === 0;

describe("MemoryNetwork", () => {
  it("delivers asynchronously, in order, and counts messages by type", async () => {
    const { net, nodes } = await cluster({});
    const { n1, n2 } = nodes as Record<string, Node>;
    for (let i = 0; i < 100; i++) n1!.t.send(n2!.peer, append(i, "n1", "n2"));
    n1!.t.send(n2!.peer, samples[7]!);
    expect(n2!.got).toHaveLength(0);
    await waitFor("delivery", settled(net));
    expect(seqs(n2!.got.slice(0, 100))).toEqual(Array.from({ length: 100 }, (_, i) => i));
    const stats = net.stats();
    expect(stats.sent.append).toBe(100);
    expect(stats.sent.heartbeat).toBe(1);
    expect(stats.sentTotal).toBe(101);
    expect(stats.delivered).toBe(101);
  });

  it("keeps each link FIFO under random delays unless told to reorder", async () => {
    const { net, nodes } = await cluster({ delayMs: [0, 5], seed: 3 });
    const { n1, n2 } = nodes as Record<string, Node>;
    for (let i = 0; i < 200; i++) n1!.t.send(n2!.peer, append(i, "n1", "n2"));
    await waitFor("delivery", settled(net));
    expect(seqs(n2!.got)).toEqual(Array.from({ length: 200 }, (_, i) => i));
  });

  it("reorders, duplicates and drops when asked, reproducibly from the seed", async () => {
    const run = async (): Promise<number[]> => {
      const { net, nodes } = await cluster({ delayMs: [0, 3], reorder: true, duplicateRate: 0.2, dropRate: 0.1, seed: 42 });
      const { n1, n2 } = nodes as Record<string, Node>;
      for (let i = 0; i < 300; i++) n1!.t.send(n2!.peer, append(i, "n1", "n2"));
      await waitFor("delivery", settled(net));
      const s = net.stats();
      expect(s.delivered).toBe(300 - s.dropped + s.duplicated);
      expect(s.duplicated).toBeGreaterThan(0);
      expect(s.dropped).toBeGreaterThan(0);
      await Promise.all(started.splice(0).map((t) => t.close()));
      return seqs(n2!.got);
    };
    const got = await run();
    const sorted = [...got].sort((x, y) => x - y);
    expect(got).not.toEqual(sorted); // reordered
    expect(new Set(got).size).toBeLessThan(got.length); // duplicated
    expect(new Set(got).size).toBeLessThan(300); // dropped
    // Same seed, same fates (arrival order depends on timers, the multiset does not).
    expect([...(await run())].sort((x, y) => x - y)).toEqual(sorted);
  });

  it("partition drops messages between groups, heal restores them", async () => {
    const { net, nodes } = await cluster({});
    const { n1, n2, n3 } = nodes as Record<string, Node>;
    net.partition([["n1", "n2"], ["n3:7000"]]);
    n1!.t.send(n2!.peer, append(1, "n1", "n2"));
    n1!.t.send(n3!.peer, append(1, "n1", "n3"));
    n3!.t.send(n1!.peer, append(1, "n3", "n1"));
    await waitFor("delivery", settled(net));
    expect(n2!.got).toHaveLength(1);
    expect(n3!.got).toHaveLength(0);
    expect(n1!.got).toHaveLength(0);
    expect(n1!.unreachable).toEqual([]); // a partition is silent, like lost packets
    net.heal();
    n1!.t.send(n3!.peer, append(2, "n1", "n3"));
    await waitFor("delivery after heal", () => n3!.got.length === 1);
  });

  it("loses messages already in flight when the network splits", async () => {
    const { net, nodes } = await cluster({ delayMs: [20, 20] });
    const { n1, n2 } = nodes as Record<string, Node>;
    n1!.t.send(n2!.peer, append(1, "n1", "n2"));
    net.isolate("n2");
    await waitFor("settled", settled(net));
    expect(n2!.got).toHaveLength(0);
    expect(net.stats().dropped).toBe(1);
  });

  it("isolate cuts an endpoint off both ways; disconnect cuts one direction", async () => {
    const { net, nodes } = await cluster({});
    const { n1, n2, n3 } = nodes as Record<string, Node>;
    net.isolate("n3");
    n1!.t.send(n3!.peer, append(1, "n1", "n3"));
    n3!.t.send(n1!.peer, append(1, "n3", "n1"));
    net.disconnect("n1", "n2");
    n1!.t.send(n2!.peer, append(1, "n1", "n2"));
    n2!.t.send(n1!.peer, append(2, "n2", "n1"));
    await waitFor("settled", settled(net));
    expect(n3!.got).toHaveLength(0);
    expect(n2!.got).toHaveLength(0);
    expect(seqs(n1!.got)).toEqual([2]);
  });

  it("reports a peer with no listener unreachable", async () => {
    const { net, nodes } = await cluster({}, ["n1"]);
    nodes.n1!.t.send({ id: "gone", address: "gone:7000" }, append(1, "n1", "gone"));
    await waitFor("unreachable", () => nodes.n1!.unreachable.includes("gone"));
    expect(net.stats().dropped).toBe(1);
  });

  it("can round-trip every message through the wire codec", async () => {
    const { net, nodes } = await cluster({ wire: true });
    for (const m of samples) nodes.n1!.t.send(nodes.n2!.peer, m);
    await waitFor("delivery", settled(net));
    expect(nodes.n2!.got).toEqual(samples);
    expect(nodes.n2!.got[4]).not.toBe(samples[4]); // a decoded copy, not the sender's object
  });
});
