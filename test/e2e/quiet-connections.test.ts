// Watches and blocking queries are quiet by design: a watch sends nothing
// between changes but a heartbeat every 15 s, and a blocking query nothing
// until its wait ends. Bun closes a connection idle for 10 s unless told
// otherwise; a node process must keep both open. (Over loopback inside one
// process Bun's fetch does not show this: the node runs as its own process.)

import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { ProcessCluster } from "./process-cluster.ts";

let cluster: ProcessCluster;
let base: string;

beforeAll(async () => {
  cluster = new ProcessCluster();
  await cluster.define("n1");
  await cluster.start("n1");
  await cluster.leader(["n1"]);
  base = cluster.node("n1").url;
});
afterAll(async () => {
  await cluster.shutdown();
});

describe("quiet connections", () => {
  it("a blocking query and a watch stay open past Bun's 10 s idle timeout", async () => {
    const put = async (value: string) => ((await (await fetch(`${base}/v1/kv/idle/k`, { method: "PUT", body: value })).json()) as { index: number }).index;
    await put("v1");
    const index = Number((await fetch(`${base}/v1/kv/idle/k`)).headers.get("x-pontoon-index"));
    const watch = await fetch(`${base}/v1/watch?prefix=idle/`, { signal: AbortSignal.timeout(25_000) });
    const started = Date.now();
    const blocking = await fetch(`${base}/v1/kv/idle/k?index=${index}&wait=14s`);
    expect(blocking.status).toBe(200);
    expect(Number(blocking.headers.get("x-pontoon-index"))).toBe(index);
    expect(Date.now() - started).toBeGreaterThanOrEqual(13_500);
    // The watch sent nothing all that time (its first heartbeat comes at 15 s) and still delivers.
    const written = await put("v2");
    const reader = watch.body!.getReader();
    let text = "";
    while (!text.includes(`id: ${written}\n`)) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`the watch ended before index ${written}; it had sent: ${text}`);
      text += new TextDecoder().decode(value);
    }
    await reader.cancel();
  }, 40_000);
});
