// A watcher that stops reading must not cost the node unbounded memory or
// hold up writes: its stream ends with an `overflow` event once 8 MiB are
// queued for it, and it resumes from the last index it got.

import { afterAll, describe, expect, it } from "bun:test";
import { connect, type Socket } from "node:net";
import { ProcessCluster, waitUntil } from "./process-cluster.ts";

const VALUE = "x".repeat(512 * 1024);
const PUTS = 48; // 24 MiB of events: more than the queue bound and the loopback socket buffers together

describe("a watcher that stops reading", () => {
  const cluster = new ProcessCluster();
  afterAll(() => cluster.shutdown());

  it("is cut off with an overflow event while writes go on", async () => {
    const node = await cluster.define("s1");
    await cluster.start("s1");
    await cluster.leader();

    const socket: Socket = connect(node.httpPort, "127.0.0.1");
    await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
    const received: Buffer[] = [];
    socket.on("data", (chunk: Buffer) => received.push(chunk));
    const ended = new Promise<void>((resolve) => socket.once("close", () => resolve()));
    socket.write(`GET /v1/watch?prefix=big/ HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n`);
    await waitUntil("the watch is open", () => (Buffer.concat(received).toString().includes(": watching") ? true : undefined));
    socket.pause();

    for (let i = 0; i < PUTS; i++) {
      const response = await fetch(`${node.url}/v1/kv/big/${i}`, { method: "PUT", body: VALUE });
      expect(response.status).toBe(200);
    }

    socket.resume();
    const text = await Promise.race([
      (async () => {
        await waitUntil("the overflow event", () => (Buffer.concat(received).toString("latin1").includes("event: overflow") ? true : undefined), 30_000);
        return Buffer.concat(received).toString("latin1");
      })(),
      ended.then(() => Buffer.concat(received).toString("latin1")),
    ]);
    socket.destroy();
    expect(text).toContain("event: overflow");
    const puts = text.split("event: put").length - 1;
    expect(puts).toBeGreaterThan(0);
    expect(puts).toBeLessThan(PUTS);
    // The node is fine and every write is there.
    const list = (await (await fetch(`${node.url}/v1/kv?prefix=big/`)).json()) as { items: unknown[] };
    expect(list.items.length).toBe(PUTS);
  }, 90_000);
});
