// History, rollback, blocking queries and the SSE watch stream of the kv plugin.

import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { startOneNode, type OneNode } from "./one-node.ts";

let one: OneNode;
beforeAll(async () => {
  one = await startOneNode({ history: 3 });
});
afterAll(async () => {
  await one.stop();
});

const put = async (key: string, value: string) => ((await (await fetch(`${one.base}/v1/kv/${key}`, { method: "PUT", body: value })).json()) as { index: number }).index;
const del = async (key: string) => ((await (await fetch(`${one.base}/v1/kv/${key}`, { method: "DELETE" })).json()) as { index: number }).index;

/**
 * Reads SSE events from a watch until `count` arrived. `during` runs once the
 * response headers are in: the route subscribed before it answered, so
 * nothing `during` writes can be missed.
 */
async function watchEvents(query: string, count: number, during?: () => Promise<void>): Promise<{ id: number; event: string; data: { key: string; value: string | null; index: number } }[]> {
  const controller = new AbortController();
  // The deadline aborts a read that would otherwise wait for the next heartbeat (15 s).
  const response = await fetch(`${one.base}/v1/watch?${query}`, { signal: AbortSignal.any([controller.signal, AbortSignal.timeout(5_000)]) });
  expect(response.status).toBe(200);
  expect(response.headers.get("content-type")).toContain("text/event-stream");
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  const events: { id: number; event: string; data: { key: string; value: string | null; index: number } }[] = [];
  let buffer = "";
  const pending = during?.();
  while (events.length < count) {
    const { value, done } = await reader.read().catch((error: unknown) => {
      throw new Error(`the watch gave ${events.length} of ${count} events before ${String(error)}`);
    });
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let end: number;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const fields = Object.fromEntries(block.split("\n").filter((l) => !l.startsWith(":")).map((l) => [l.slice(0, l.indexOf(":")), l.slice(l.indexOf(":") + 2)]));
      if (fields.event) events.push({ id: Number(fields.id), event: fields.event, data: JSON.parse(fields.data!) });
    }
  }
  await pending;
  controller.abort();
  return events;
}

describe("History and rollback", () => {
  it("keeps the last kv.history versions of a key, and rolls back to one as a new version", async () => {
    const i1 = await put("h/k", "one");
    await put("h/k", "two");
    await put("h/k", "three");
    const i4 = await put("h/k", "four");
    const history = (await (await fetch(`${one.base}/v1/kv/h/k?history`)).json()) as { versions: { index: number; value: string }[] };
    expect(history.versions.map((v) => v.value)).toEqual(["four", "three", "two"]);
    expect(history.versions[0]!.index).toBe(i4);
    const gone = await fetch(`${one.base}/v1/kv/h/k/rollback`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ toIndex: i1 }) });
    expect(gone.status).toBe(404);
    const back = await fetch(`${one.base}/v1/kv/h/k/rollback`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ toIndex: history.versions[2]!.index }) });
    expect(back.status).toBe(200);
    const now = (await (await fetch(`${one.base}/v1/kv/h/k`)).json()) as { value: string; modifyIndex: number };
    expect(now.value).toBe("two");
    expect(now.modifyIndex).toBeGreaterThan(i4);
  });
});

describe("Blocking queries", () => {
  it("a read with ?index=N waits for a change after N, and answers at the wait with the same index otherwise", async () => {
    await put("b/k", "v1");
    const first = await fetch(`${one.base}/v1/kv/b/k`);
    const index = Number(first.headers.get("x-pontoon-index"));
    expect(index).toBeGreaterThan(0);

    const timedOut = await fetch(`${one.base}/v1/kv/b/k?index=${index}&wait=300ms`);
    expect(Number(timedOut.headers.get("x-pontoon-index"))).toBe(index);

    const started = Date.now();
    const waiting = fetch(`${one.base}/v1/kv/b/k?index=${index}&wait=10s`);
    // Give the query time to start waiting, so the write wakes it (the answer is the same if it
    // arrives first: it then sees the change at once; blocking.test.ts covers both paths exactly).
    await Bun.sleep(100);
    await put("b/other", "not this key");
    const written = await put("b/k", "v2");
    const answer = await waiting;
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(Number(answer.headers.get("x-pontoon-index"))).toBe(written);
    expect(((await answer.json()) as { value: string }).value).toBe("v2");
  });

  it("a list with ?index=N wakes on a change under its prefix, a delete included", async () => {
    await put("bl/a", "1");
    const list = await fetch(`${one.base}/v1/kv?prefix=bl/`);
    const index = Number(list.headers.get("x-pontoon-index"));
    const waiting = fetch(`${one.base}/v1/kv?prefix=bl/&index=${index}&wait=10s`);
    await Bun.sleep(50); // as above: so the delete wakes a waiting query
    const deleted = await del("bl/a");
    const answer = await waiting;
    expect(Number(answer.headers.get("x-pontoon-index"))).toBe(deleted);
    expect(((await answer.json()) as { items: unknown[] }).items).toEqual([]);
  });
});

describe("The watch stream", () => {
  it("streams every change under the prefix in log order, deletes included", async () => {
    const events = await watchEvents("prefix=w/", 3, async () => {
      await put("w/a", "1");
      await put("x/not-watched", "1");
      await put("w/b", "2");
      await del("w/a");
    });
    expect(events.map((e) => `${e.event} ${e.data.key} ${e.data.value}`)).toEqual(["put w/a 1", "put w/b 2", "delete w/a null"]);
    expect(events.map((e) => e.id)).toEqual([...events.map((e) => e.id)].sort((a, b) => a - b));
  });

  it("resumes from an index, replaying what was retained, then goes live", async () => {
    const from = await put("r/a", "1");
    await put("r/b", "2");
    const events = await watchEvents(`prefix=r/&after=${from}`, 2, async () => {
      await put("r/c", "3");
    });
    expect(events.map((e) => e.data.key)).toEqual(["r/b", "r/c"]);
  });

  it("answers 410 with the oldest retained index when asked to resume from before it", async () => {
    const first = await put("old/k", "1");
    for (let i = 0; i < 5; i++) await put("old/k", String(i));
    const r = await fetch(`${one.base}/v1/watch?prefix=old/&after=${first - 1}`);
    expect(r.status).toBe(410);
    const body = (await r.json()) as { error: { code: string }; oldestIndex: number };
    expect(body.error.code).toBe("WATCH_EXPIRED");
    expect(body.oldestIndex).toBeGreaterThan(first);
  });
});

describe("Transactions", () => {
  const txn = async (body: unknown) => {
    const r = await fetch(`${one.base}/v1/txn`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    return { status: r.status, body: (await r.json()) as { succeeded: boolean; index: number; results: { op: string; key: string; entry?: { value: string } | null }[]; error?: { code: string } } };
  };

  it("applies the success branch atomically when every compare holds, the failure branch otherwise", async () => {
    const at = await put("t/balance", "10");
    const ok = await txn({
      compare: [{ key: "t/balance", value: "10", modifyIndex: at }, { key: "t/lock", exists: false }],
      success: [{ op: "put", key: "t/balance", value: "7" }, { op: "put", key: "t/log", value: "-3" }, { op: "get", key: "t/balance" }],
      failure: [{ op: "get", key: "t/balance" }],
    });
    expect(ok.status).toBe(200);
    expect(ok.body.succeeded).toBe(true);
    expect(ok.body.results.map((r) => r.op)).toEqual(["put", "put", "get"]);
    expect(ok.body.results[2]!.entry!.value).toBe("7");

    const stale = await txn({ compare: [{ key: "t/balance", modifyIndex: at }], success: [{ op: "delete", key: "t/balance" }], failure: [{ op: "get", key: "t/balance" }] });
    expect(stale.body.succeeded).toBe(false);
    expect(stale.body.results[0]!.entry!.value).toBe("7");
    expect((await (await fetch(`${one.base}/v1/kv/t/log`)).json()) as unknown).toMatchObject({ value: "-3", modifyIndex: ok.body.index });
  });

  it("refuses an invalid key in any operation, and writes nothing", async () => {
    const bad = await txn({ compare: [], success: [{ op: "put", key: "t/fine", value: "1" }, { op: "put", key: "t//bad", value: "2" }], failure: [] });
    expect(bad.status).toBe(400);
    expect(bad.body.error!.code).toBe("INVALID_KEY");
    expect((await fetch(`${one.base}/v1/kv/t/fine`)).status).toBe(404);
  });
});

describe("Key TTLs", () => {
  it("a key written with ?ttl is deleted by the leader's sweep once it runs out, and watchers see the delete", async () => {
    const events: { event: string; data: { key: string } }[] = [];
    const watching = watchEvents("prefix=ttl/", 2, async () => {
      const put = await fetch(`${one.base}/v1/kv/ttl/session?ttl=500ms`, { method: "PUT", body: "alive" });
      expect(put.status).toBe(200);
      expect((await fetch(`${one.base}/v1/kv/ttl/session`)).status).toBe(200);
    });
    events.push(...(await watching));
    expect(events.map((e) => `${e.event} ${e.data.key}`)).toEqual(["put ttl/session", "delete ttl/session"]);
    expect((await fetch(`${one.base}/v1/kv/ttl/session`)).status).toBe(404);
  });

  it("refuses a ttl that is not a duration, naming the field", async () => {
    const r = await fetch(`${one.base}/v1/kv/ttl/bad?ttl=soon`, { method: "PUT", body: "x" });
    expect(r.status).toBe(400);
    expect(((await r.json()) as { error: { code: string; field: string } }).error).toMatchObject({ code: "INVALID_TTL", field: "ttl" });
  });
});
