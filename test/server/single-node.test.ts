// A one-node Pontoon in this process: real SQLite files, real TCP, real HTTP.

import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { startOneNode, type OneNode } from "./one-node.ts";

let one: OneNode;
let base: string;

beforeAll(async () => {
  one = await startOneNode();
  base = one.base;
});

afterAll(async () => {
  await one.stop();
});

describe("kv on one node", () => {
  it("puts, gets, lists and deletes", async () => {
    const put = await fetch(`${base}/v1/kv/app/db/url`, { method: "PUT", body: "postgres://x" });
    expect(put.status).toBe(200);
    const { index } = (await put.json()) as { index: number };
    const got = await (await fetch(`${base}/v1/kv/app/db/url`)).json();
    expect(got).toEqual({ key: "app/db/url", value: "postgres://x", createIndex: index, modifyIndex: index });
    const raw = await fetch(`${base}/v1/kv/app/db/url?raw`);
    expect(await raw.text()).toBe("postgres://x");
    await fetch(`${base}/v1/kv/app/name`, { method: "PUT", body: "shop" });
    await fetch(`${base}/v1/kv/other`, { method: "PUT", body: "o" });
    const list = (await (await fetch(`${base}/v1/kv?prefix=app/`)).json()) as { items: { key: string }[] };
    expect(list.items.map((i) => i.key)).toEqual(["app/db/url", "app/name"]);
    const del = (await (await fetch(`${base}/v1/kv/app/name`, { method: "DELETE" })).json()) as { deleted: boolean };
    expect(del.deleted).toBe(true);
    expect((await fetch(`${base}/v1/kv/app/name`)).status).toBe(404);
  });

  it("check-and-set", async () => {
    const created = await fetch(`${base}/v1/kv/cas/k?cas=0`, { method: "PUT", body: "v1" });
    expect(created.status).toBe(200);
    const again = await fetch(`${base}/v1/kv/cas/k?cas=0`, { method: "PUT", body: "v2" });
    expect(again.status).toBe(409);
    const body = (await again.json()) as { error: { code: string }; current: { value: string; modifyIndex: number } };
    expect(body.error.code).toBe("CAS_FAILED");
    expect(body.current.value).toBe("v1");
    const ok = await fetch(`${base}/v1/kv/cas/k?cas=${body.current.modifyIndex}`, { method: "PUT", body: "v2" });
    expect(ok.status).toBe(200);
  });

  it("rejects bad input with a typed error naming the field, and stores nothing", async () => {
    const cases: [string, string, string | Uint8Array | undefined, number, string][] = [
      ["PUT", "/v1/kv/a//b", "x", 400, "INVALID_KEY"],
      ["PUT", "/v1/kv/a/", "x", 400, "INVALID_KEY"],
      ["PUT", `/v1/kv/${"k".repeat(600)}`, "x", 400, "INVALID_KEY"],
      ["PUT", "/v1/kv/big", new Uint8Array(1024 * 1024 + 1), 413, "VALUE_TOO_LARGE"],
      ["PUT", "/v1/kv/bigger", new Uint8Array(3 * 1024 * 1024), 413, "BODY_TOO_LARGE"],
      ["PUT", "/v1/kv/%ZZ", "x", 400, "INVALID_KEY"],
      ["POST", "/v1/kvx", "x", 404, "ROUTE_NOT_FOUND"],
      ["POST", "/v1/kv/app/db/url/rollback", JSON.stringify({ toIndex: "old" }), 400, "INVALID_REQUEST"],
      ["POST", "/v1/kv/app/db/url/rollback", JSON.stringify({ toIndex: 99999 }), 404, "VERSION_NOT_FOUND"],
      ["GET", "/v1/kv/a?index=1&wait=soon", undefined, 400, "INVALID_WAIT"],
      ["GET", "/v1/watch?after=-1", undefined, 400, "INVALID_REQUEST"],
      ["GET", "/v1/kv/a?consistency=eventual", undefined, 400, "INVALID_REQUEST"],
      ["PUT", "/v1/kv/a?cas=-1", "x", 400, "INVALID_REQUEST"],
      ["PUT", "/v1/kv/a?cas=1.5", "x", 400, "INVALID_REQUEST"],
      ["PUT", "/v1/kv/a?cas=99999999999999999999", "x", 400, "INVALID_REQUEST"],
      ["DELETE", "/v1/kv/app/db/url?cas=x", undefined, 400, "INVALID_REQUEST"],
      ["POST", "/v1/cluster/join", "{not json", 400, "MALFORMED_BODY"],
      ["POST", "/v1/cluster/join", JSON.stringify({ id: 5 }), 400, "INVALID_REQUEST"],
      ["GET", "/v1/nope", undefined, 404, "ROUTE_NOT_FOUND"],
    ];
    const before = await (await fetch(`${base}/v1/kv`)).json();
    for (const [method, path, body, status, code] of cases) {
      const r = await fetch(base + path, { method, body, headers: method === "POST" ? { "content-type": "application/json" } : {} });
      const text = await r.text();
      const json = JSON.parse(text || "null") as { error: { code: string; message: string } } | null;
      if (!json) throw new Error(`${method} ${path.slice(0, 40)}: ${r.status} with no error body`);
      expect(`${method} ${path.slice(0, 40)} ${r.status} ${json.error.code}`).toBe(`${method} ${path.slice(0, 40)} ${status} ${code}`);
      expect(json.error.message.length).toBeGreaterThan(10);
    }
    const after = (await (await fetch(`${base}/v1/kv`)).json()) as { items: unknown[] };
    expect(after.items).toEqual((before as { items: unknown[] }).items);
  });

  it("reports the cluster, metrics and the OpenAPI document", async () => {
    const cluster = (await (await fetch(`${base}/v1/cluster`)).json()) as Record<string, unknown>;
    expect(cluster.state).toBe("Leader");
    expect((cluster.leader as { id: string }).id).toBe("n1");
    expect(cluster.members).toEqual([{ id: "n1", raft: expect.any(String), http: expect.any(String), voter: true }]);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toContain('pontoon_raft_state{state="Leader"} 1');
    expect(metrics).toContain("pontoon_apply_duration_seconds_count");
    const doc = (await (await fetch(`${base}/openapi`)).json()) as { paths: Record<string, unknown> };
    expect(Object.keys(doc.paths)).toContain("/v1/kv/{key}");
    expect((await (await fetch(`${base}/v1/health`)).json()) as unknown).toEqual({ ok: true });
  });
  it("counts every answer in /metrics by route and status, the ones refused before routing included", async () => {
    const before = await requestCounts();
    const chunked = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < 3; i++) controller.enqueue(new Uint8Array(1024 * 1024));
        controller.close();
      },
    });
    const answers = [
      await fetch(`${base}/v1/kv/metrics/missing`),
      await fetch(`${base}/v1/kv/metrics/k?cas=0`, { method: "PUT", body: "v" }),
      await fetch(`${base}/v1/kv/metrics/k?cas=0`, { method: "PUT", body: "v" }),
      await fetch(`${base}/v1/kv/metrics/big`, { method: "PUT", body: new Uint8Array(3 * 1024 * 1024) }),
      await fetch(`${base}/v1/kv/metrics/chunked`, { method: "PUT", body: chunked }),
      await fetch(`${base}/v1/kv/metrics/k`, { headers: { "x-pontoon-timeout-ms": "soon" } }),
      await fetch(`${base}/v1/nope`),
    ];
    const statuses = await Promise.all(answers.map(async (r) => [r.status, ((await r.json()) as { error?: { code: string } }).error?.code ?? "ok"]));
    expect(statuses).toEqual([
      [404, "KEY_NOT_FOUND"],
      [200, "ok"],
      [409, "CAS_FAILED"],
      [413, "BODY_TOO_LARGE"],
      [413, "BODY_TOO_LARGE"],
      [400, "INVALID_REQUEST"],
      [404, "ROUTE_NOT_FOUND"],
    ]);
    expect((await fetch(`${base}/v1/kv/metrics/chunked`)).status).toBe(404);
    const after = await requestCounts();
    const delta = [...after].filter(([labels, n]) => n !== (before.get(labels) ?? 0)).map(([labels, n]) => `${labels} +${n - (before.get(labels) ?? 0)}`);
    expect(delta.sort()).toEqual(
      [
        'method="GET",route="/v1/kv/*",status="404" +2',
        'method="PUT",route="/v1/kv/*",status="200" +1',
        'method="PUT",route="/v1/kv/*",status="409" +1',
        'method="PUT",route="(refused)",status="413" +2',
        'method="GET",route="(refused)",status="400" +1',
        'method="GET",route="unmatched",status="404" +1',
        'method="GET",route="/metrics",status="200" +1',
      ].sort(),
    );
  });
});

/** pontoon_http_requests_total by its labels. */
async function requestCounts(): Promise<Map<string, number>> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const counts = new Map<string, number>();
  for (const match of text.matchAll(/^pontoon_http_requests_total\{(.*)\} (\d+)$/gm)) counts.set(match[1]!, Number(match[2]));
  return counts;
}
