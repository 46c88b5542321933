// Malformed Raft frames from a raw socket, against a real 3-node cluster of
// processes: random bytes, huge and hanging length prefixes, good framing
// around bad payloads for every kind, numbers a core could choke on, a forged
// term from a member, a hundred connections at once, and a slow loris. No node
// may crash; the cluster keeps (or re-elects) a leader and keeps taking
// writes; each bad connection is closed by the node, which says why in one
// log line naming the connection.

import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import type { Socket } from "bun";
import { FrameKind, encodeFrame } from "../../src/transport/codec.ts";
import { TcpTransport } from "../../src/transport/tcp-transport.ts";
import type { TransportLogger } from "../../src/transport/logger.ts";
import { ProcessCluster, waitUntil } from "../e2e/process-cluster.ts";
import { framedPayload } from "./fixtures.ts";

const cluster = new ProcessCluster();
const IDS = ["n1", "n2", "n3"];
let leader = "";

beforeAll(async () => {
  await cluster.startPeers(IDS);
  leader = await cluster.leader();
}, 60_000);

afterAll(async () => {
  await cluster.shutdown();
});

const encoder = new TextEncoder();

function str(s: string): Uint8Array {
  const b = encoder.encode(s);
  const out = new Uint8Array(4 + b.length);
  new DataView(out.buffer).setUint32(0, b.length);
  out.set(b, 4);
  return out;
}

function f64(v: number): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setFloat64(0, v);
  return out;
}

/** A frame with a correct length, version and CRC around whatever payload: it passes the framing checks. */
const framed = (kind: number, ...parts: Uint8Array[]): Uint8Array => framedPayload(kind, Buffer.concat(parts));

/**
 * Random bytes the node must refuse at once. With a plausible length and
 * version 1 (one in 16,000) random bytes would be a frame still in progress,
 * waited for rather than refused, so the version byte is never 1.
 */
function junk(n: number): Uint8Array {
  const bytes = crypto.getRandomValues(new Uint8Array(n));
  if (bytes[4] === 1) bytes[4] = 0;
  return bytes;
}

/** The common header of every message: from, to, term. */
const header = (from: string, to: string, term: number) => Buffer.concat([str(from), str(to), f64(term)]);

interface Hostile {
  /** The client's port: the node's log names the connection by it. */
  port: number;
  /** Resolves once the node closed the connection (or the test did). */
  closed: Promise<void>;
  closedByNode: () => boolean;
  write(bytes: Uint8Array): void;
  end(): void;
}

async function connect(raftPort: number): Promise<Hostile> {
  let closedByUs = false;
  let done = false;
  let resolveClosed!: () => void;
  const closed = new Promise<void>((resolve) => (resolveClosed = resolve));
  const socket: Socket<undefined> = await Bun.connect({
    hostname: "127.0.0.1",
    port: raftPort,
    socket: {
      data() {},
      close() {
        done = true;
        resolveClosed();
      },
      error() {
        done = true;
        resolveClosed();
      },
    },
  });
  return {
    port: socket.localPort,
    closed,
    closedByNode: () => done && !closedByUs,
    write: (bytes) => {
      if (!done) socket.write(bytes);
    },
    end: () => {
      closedByUs = true;
      socket.end();
    },
  };
}

/** Sends `bytes` on a fresh connection and waits for the node to close it; returns the connection. */
async function sendAndExpectClose(id: string, bytes: Uint8Array): Promise<Hostile> {
  const conn = await connect(cluster.node(id).raftPort);
  conn.write(bytes);
  await withDeadline(conn.closed, `${id} to close a connection that sent ${bytes.length} bad bytes`);
  expect(conn.closedByNode()).toBe(true);
  return conn;
}

async function withDeadline<T>(p: Promise<T>, what: string, ms = 15_000): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms)));
  try {
    return await Promise.race([p, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** The node's log lines about the connection from `port`: waits for the first, returns all. */
async function linesAbout(id: string, port: number): Promise<string[]> {
  const mine = () => cluster.logs(id).split("\n").filter((l) => l.includes(`remote=127.0.0.1:${port} `) || l.endsWith(`remote=127.0.0.1:${port}`));
  await waitUntil(`${id} to log about the connection from port ${port}`, () => (mine().length > 0 ? true : undefined));
  return mine();
}

/** One warning line, naming the connection and the code. */
async function expectOneLine(id: string, conn: Hostile, code: RegExp): Promise<void> {
  const lines = await linesAbout(id, conn.port);
  expect(lines).toHaveLength(1);
  expect(lines[0]).toContain("WARN");
  expect(lines[0]).toMatch(code);
}

/** Every node still running, one leader, and a write through every node lands and reads back from every node. */
async function expectHealthy(tag: string): Promise<void> {
  for (const id of IDS) expect(cluster.node(id).proc?.exitCode ?? null).toBeNull();
  leader = await cluster.leader(IDS, 30_000);
  for (const id of IDS) {
    const key = `malformed/${tag}/${id}`;
    const put = await waitUntil(`a write through ${id}`, async () => {
      const r = await fetch(`${cluster.node(id).url}/v1/kv/${key}`, { method: "PUT", body: tag });
      return r.ok ? r : undefined;
    }, 30_000);
    expect(put.status).toBe(200);
  }
  for (const id of IDS) {
    const r = await fetch(`${cluster.node(id).url}/v1/kv?prefix=malformed/${tag}/`);
    expect(((await r.json()) as { items: unknown[] }).items).toHaveLength(IDS.length);
  }
}

const follower = () => IDS.find((id) => id !== leader)!;

describe("malformed Raft frames from a raw socket", () => {
  it("random bytes: the connection is closed with one line; the cluster carries on", async () => {
    for (let round = 0; round < 5; round++) {
      const conn = await sendAndExpectClose(leader, junk(64 + round * 100));
      await expectOneLine(leader, conn, /code=(BAD_LENGTH|FRAME_TOO_LARGE|BAD_VERSION|BAD_CRC|UNKNOWN_KIND)/);
    }
    await expectHealthy("random");
  }, 60_000);

  it("a huge length prefix is refused before anything is buffered", async () => {
    const conn = await sendAndExpectClose(leader, new Uint8Array([0xff, 0xff, 0xff, 0xff]));
    await expectOneLine(leader, conn, /code=FRAME_TOO_LARGE/);
  });

  it("a length prefix with nothing after it, then a close: one line saying the frame was cut short", async () => {
    const conn = await connect(cluster.node(leader).raftPort);
    conn.write(new Uint8Array([0x00, 0x10, 0x00, 0x00, 0x01]));
    conn.end();
    const lines = await linesAbout(leader, conn.port);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain("closed inside a frame");
  });

  it("good framing around a bad payload, for every kind: closed, one line each", async () => {
    const target = follower();
    const truncated = Object.values(FrameKind).filter((k) => k !== FrameKind.hello && k !== FrameKind.timeoutNow);
    for (const kind of truncated) {
      // The common header alone: every kind but hello and timeoutNow has fields after it.
      const conn = await sendAndExpectClose(target, framed(kind, header("n1", target, 1)));
      await expectOneLine(target, conn, /code=TRUNCATED/);
    }
    for (const kind of Object.values(FrameKind)) {
      // Garbage where the fields should be: a string length far past the payload, or trailing bytes.
      const conn = await sendAndExpectClose(target, framed(kind, new Uint8Array([0xff, 0xff, 0xff, 0x00, 0x41, 0x42])));
      await expectOneLine(target, conn, /code=(TRUNCATED|BAD_PAYLOAD)/);
    }
    const unknown = await sendAndExpectClose(target, framed(200, header("n1", target, 1)));
    await expectOneLine(target, unknown, /code=UNKNOWN_KIND/);
    const badCrc = framed(FrameKind.heartbeat, header("n1", target, 1), f64(1), f64(1));
    badCrc[badCrc.length - 1]! ^= 0xff;
    await expectOneLine(target, await sendAndExpectClose(target, badCrc), /code=BAD_CRC/);
    await expectHealthy("payloads");
  }, 90_000);

  it("a term or index that is NaN, infinite, negative, fractional or past 2^53-1 is refused, naming the field", async () => {
    const target = follower();
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, -1, 1.5, 2 ** 53]) {
      const vote = framed(FrameKind.vote, header(leader, target, bad), new Uint8Array([0]), f64(1), f64(1), new Uint8Array([0]));
      await expectOneLine(target, await sendAndExpectClose(target, vote), /code=BAD_PAYLOAD .*term is/);
      const heartbeat = framed(FrameKind.heartbeat, header(leader, target, 1), f64(bad), f64(1));
      await expectOneLine(target, await sendAndExpectClose(target, heartbeat), /code=BAD_PAYLOAD .*commit is/);
    }
    await expectHealthy("numbers");
  }, 60_000);

  it("a well-formed frame claiming to be from a member with a bogus term: the cluster re-elects and keeps taking writes", async () => {
    const before = await cluster.status(leader);
    const target = follower();
    const conn = await connect(cluster.node(target).raftPort);
    // A member's id with a term far ahead (spoofing a member cannot be told from the member without authenticated peers),
    // and a vote request from a server no configuration names.
    conn.write(encodeFrame({ type: "heartbeat", from: leader, to: target, term: before.term + 1000, commit: 0, seq: 1 }));
    conn.write(encodeFrame({ type: "vote", from: "intruder", to: target, term: before.term + 1_000_000, preVote: false, lastLogIndex: 0, lastLogTerm: 0, transfer: false }));
    conn.end();
    // The forged heartbeat is taken (the frame is well formed): the target moves to that term, and the cluster follows it.
    await waitUntil(`${target} to take the forged term`, async () => ((await cluster.status(target)).term >= before.term + 1000 ? true : undefined));
    await expectHealthy("bogus-term");
    expect((await cluster.status(leader)).term).toBeGreaterThan(before.term + 1000);
  }, 90_000);

  it("a hundred connections of junk at once: every one closed, the cluster carries on", async () => {
    const conns = await Promise.all(Array.from({ length: 100 }, (_, i) => sendAndExpectClose(IDS[i % 3]!, junk(32))));
    expect(conns.every((c) => c.closedByNode())).toBe(true);
    await expectHealthy("many");
  }, 90_000);

  it("a slow loris: junk a byte at a time is refused by its fifth byte; a good frame a byte at a time stalls nobody", async () => {
    const bad = await connect(cluster.node(leader).raftPort);
    // A plausible length, then a version byte this build does not speak.
    for (const byte of [0x00, 0x00, 0x00, 0x40, 0x07, 0x00, 0x00, 0x00]) {
      bad.write(new Uint8Array([byte]));
      await Bun.sleep(20); // pacing the loris, not waiting for a result
    }
    await withDeadline(bad.closed, "the node to close the slow junk");
    await expectOneLine(leader, bad, /code=BAD_VERSION/);

    const slow = await connect(cluster.node(leader).raftPort);
    const hello = encodeFrame({ type: "hello", address: "127.0.0.1:1" });
    const writes = expectHealthy("loris");
    for (const byte of hello) {
      slow.write(new Uint8Array([byte]));
      await Bun.sleep(10);
    }
    await writes;
    expect(slow.closedByNode()).toBe(false);
    slow.end();
  }, 90_000);

  // Found here: one vote request with transfer=true and term 2^53-1 from a server no
  // configuration names made every voter adopt that term, and no election could ever
  // succeed again (the term is persisted, so restarts did not help). The core now drops
  // vote requests from non-members before looking at their term. A forged *member* id
  // is only kept out by tls.mutual: the Raft port trusts whoever reaches it.
  it("a transfer vote from a server no configuration names, with the largest term, is ignored", async () => {
    const target = follower();
    const conn = await connect(cluster.node(target).raftPort);
    conn.write(encodeFrame({ type: "vote", from: "intruder", to: target, term: Number.MAX_SAFE_INTEGER, preVote: false, lastLogIndex: 0, lastLogTerm: 0, transfer: true }));
    conn.end();
    await expectHealthy("intruder-transfer");
  }, 90_000);
});

describe("TcpTransport: a frame left unfinished", () => {
  it("is closed after stalledFrameSeconds with one line, while a quiet connection between frames is left alone", async () => {
    const lines: string[] = [];
    const logger: TransportLogger = { debug() {}, info() {}, warn: (message, fields) => lines.push(`${message} ${JSON.stringify(fields)}`) };
    const transport = new TcpTransport({ host: "127.0.0.1", port: 0, logger, stalledFrameSeconds: 1 });
    await transport.start(() => {});
    const port = Number(transport.localAddress.split(":").at(-1));
    try {
      const stalled = await connect(port);
      stalled.write(new Uint8Array([0x00, 0x00, 0x10, 0x00, 0x01])); // a frame begun
      const quiet = await connect(port);
      quiet.write(encodeFrame({ type: "hello", address: "127.0.0.1:1" })); // a whole frame, then silence
      await withDeadline(stalled.closed, "the stalled connection to be closed");
      expect(stalled.closedByNode()).toBe(true);
      expect(lines.filter((l) => l.includes(`127.0.0.1:${stalled.port}`))).toEqual([expect.stringContaining("stalled inside a frame")]);
      // The quiet one outlives the stalled one's deadline by as much again.
      await Bun.sleep(1500); // the property is that nothing happens in this time
      expect(quiet.closedByNode()).toBe(false);
      quiet.end();
    } finally {
      await transport.close();
    }
  }, 30_000);
});
