import { afterEach, describe, expect, it } from "bun:test";
import type { Socket } from "bun";
import type { AppendRequest, Message, SnapshotChunk } from "../../src/raft/core/types.ts";
import { encodeMessage } from "../../src/transport/codec.ts";
import type { TransportLogger } from "../../src/transport/logger.ts";
import { TcpTransport, type TcpTransportOptions } from "../../src/transport/tcp-transport.ts";
import type { Peer, WireMessage } from "../../src/transport/types.ts";
import { append, bytesOf, samples, waitFor } from "./fixtures.ts";

const started: TcpTransport[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((t) => t.close()));
});

interface Node {
  t: TcpTransport;
  got: WireMessage[];
  froms: (Peer | undefined)[];
  unreachable: string[];
  warnings: string[];
  peer: Peer;
}

async function node(id: string, options: Partial<TcpTransportOptions> = {}): Promise<Node> {
  const warnings: string[] = [];
  const logger: TransportLogger = { debug() {}, info() {}, warn: (m, f) => warnings.push(`${m} ${JSON.stringify(f)}`) };
  const t = new TcpTransport({ host: "127.0.0.1", port: 0, logger, ...options });
  started.push(t);
  const n: Node = { t, got: [], froms: [], unreachable: [], warnings, peer: { id, address: "" } };
  t.onUnreachable = (p) => n.unreachable.push(p);
  await t.start((m, from) => {
    n.got.push(m);
    n.froms.push(from);
  });
  n.peer = { id, address: t.localAddress };
  return n;
}

describe("TcpTransport", () => {
  it("binds port 0 and reports the real port in localAddress", async () => {
    const a = await node("a");
    expect(a.t.localAddress).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(a.t.localAddress.endsWith(":0")).toBe(false);
    const b = await node("b", { advertise: "raft-b.internal:7000" });
    expect(b.t.localAddress).toBe("raft-b.internal:7000");
  });

  it("carries every message variant intact", async () => {
    const a = await node("a");
    const b = await node("b");
    for (const m of samples) a.t.send(b.peer, m);
    await waitFor("all samples", () => b.got.length === samples.length);
    expect(b.got).toEqual(samples);
  });

  it("moves thousands of appends each way, in send order, and names the sender", async () => {
    const a = await node("a");
    const b = await node("b");
    const n = 5000;
    for (let i = 0; i < n; i++) {
      a.t.send(b.peer, append(i, "a", "b", 2, 256));
      b.t.send(a.peer, append(i, "b", "a", 1, 64));
    }
    await waitFor("both streams", () => a.got.length === n && b.got.length === n, 20_000);
    expect(b.got.map((m) => (m as AppendRequest).seq)).toEqual(Array.from({ length: n }, (_, i) => i));
    expect(a.got.map((m) => (m as AppendRequest).seq)).toEqual(Array.from({ length: n }, (_, i) => i));
    expect((b.got[4999] as AppendRequest).entries[1]!.data).toEqual(bytesOf(256, 1));
    expect(b.froms[0]).toEqual({ id: "a", address: a.t.localAddress });
  });

  it("passes a 4 MiB snapshot chunk between small messages without reordering them", async () => {
    const a = await node("a");
    const b = await node("b");
    const big = { ...(samples[9] as SnapshotChunk), data: bytesOf(4 * 1024 * 1024, 5), size: 8 * 1024 * 1024 };
    a.t.send(b.peer, append(1, "a", "b"));
    a.t.send(b.peer, big);
    a.t.send(b.peer, append(2, "a", "b"));
    await waitFor("three messages", () => b.got.length === 3, 10_000);
    expect(b.got.map((m) => m.type)).toEqual(["append", "snapshot", "append"]);
    expect((b.got[1] as SnapshotChunk).data).toEqual(big.data);
  });

  it("reconnects after the peer restarts on the same port, and delivery resumes", async () => {
    const a = await node("a", { backoffMinMs: 10, backoffMaxMs: 50 });
    const b = await node("b");
    a.t.send(b.peer, append(1, "a", "b"));
    await waitFor("first delivery", () => b.got.length === 1);
    await b.t.close();
    const port = Number(b.peer.address.split(":")[1]);
    // The old connection's loss is noticed and reported.
    await waitFor("unreachable after the restart", () => a.unreachable.includes("b"));
    const b2 = await node("b", { port });
    // Raft keeps sending (heartbeats); some may die with the old connection.
    await waitFor("delivery to the restarted peer", () => {
      a.t.send(b2.peer, append(2, "a", "b"));
      return b2.got.length > 0;
    });
    expect(b2.got[0]!.type).toBe("append");
    expect(a.t.peers()[0]!.connects).toBe(2);
  });

  it("reports an unreachable peer, never throws from send, and keeps the queue bounded", async () => {
    const a = await node("a", { backoffMinMs: 5, backoffMaxMs: 20, maxQueueBytes: 64 * 1024 });
    // Port 1 on loopback: nothing listens, so connections are refused at once.
    const ghost: Peer = { id: "ghost", address: "127.0.0.1:1" };
    for (let i = 0; i < 2000; i++) expect(() => a.t.send(ghost, append(i, "a", "ghost"))).not.toThrow();
    expect(() => a.t.send({ id: "bad", address: "no-port-here" }, append(1, "a", "bad"))).not.toThrow();
    await waitFor("unreachable reports", () => a.unreachable.includes("ghost") && a.unreachable.includes("bad"));
    const ghostLink = a.t.peers().find((p) => p.id === "ghost")!;
    expect(ghostLink.queuedBytes).toBeLessThanOrEqual(64 * 1024);
    expect(ghostLink.dropped).toBeGreaterThan(0);
  });

  it("drops (with a warning) a message larger than maxFrameBytes instead of breaking the connection", async () => {
    const a = await node("a", { maxFrameBytes: 64 * 1024 });
    const b = await node("b");
    a.t.send(b.peer, { ...(samples[9] as SnapshotChunk), data: bytesOf(100 * 1024) });
    a.t.send(b.peer, append(1, "a", "b"));
    await waitFor("the small message", () => b.got.length === 1);
    expect(a.warnings.some((w) => w.includes("larger than maxFrameBytes"))).toBe(true);
  });

  describe("a connection that sends bad bytes", () => {
    async function raw(address: string): Promise<{ socket: Socket<undefined>; closed: Promise<void> }> {
      const [host, port] = address.split(":");
      let onClose!: () => void;
      const closed = new Promise<void>((r) => (onClose = r));
      const socket = await Bun.connect({ hostname: host!, port: Number(port), socket: { data() {}, close: () => onClose() } });
      return { socket, closed };
    }

    const cases: [string, Uint8Array][] = [
      ["garbage", new TextEncoder().encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n")],
      ["an oversized length prefix", new Uint8Array([0x7f, 0xff, 0xff, 0xff, 1, 3])],
      ["a frame with a damaged checksum", (() => {
        const f = new Uint8Array(encodeMessage(append(1, "x", "b")));
        f[20] = f[20]! ^ 1;
        return f;
      })()],
    ];
    for (const [name, bytes] of cases) {
      it(`is closed when it sends ${name}, with one log line, and the transport keeps serving others`, async () => {
        const a = await node("a");
        const b = await node("b", { maxFrameBytes: 1024 * 1024 });
        const bad = await raw(b.peer.address);
        bad.socket.write(bytes);
        await bad.closed;
        expect(b.warnings.filter((w) => w.includes("bad frame"))).toHaveLength(1);
        a.t.send(b.peer, append(1, "a", "b"));
        await waitFor("a good peer's message", () => b.got.length === 1);
      });
    }
  });

  it("close() stops the listener: new dials are refused", async () => {
    const a = await node("a", { backoffMinMs: 5 });
    const b = await node("b");
    await b.t.close();
    a.t.send(b.peer, append(1, "a", "b"));
    await waitFor("unreachable", () => a.unreachable.includes("b"));
    expect(b.got).toHaveLength(0);
  });
});
