// Tokens with roles and scopes, their live reload, per-client rate and watch
// limits, and the join secret, on real node processes configured by YAML.

import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { sha256Hex } from "../../src/api/access.ts";
import { freePort, ProcessCluster, waitUntil } from "./process-cluster.ts";

const CLUSTER_TOKEN = "cluster-token-0123456789";
const READER = "reader-secret-aaaaaaaaaa";
const APP_WRITER = "app-writer-secret-bbbbbbb";
const OPERATOR = "operator-secret-cccccccccc";
const NO_PLUGINS = "no-plugins-secret-dddddddd";
const LATE = "late-token-secret-eeeeeeeee";
const SLOW = "slow-token-secret-fffffffff";
const JOIN_SECRET = "join-secret-0123456789abcdef";

let consulPort = 0;
const tokensYaml = (extra = "") => `compat:
  consul:
    port: ${consulPort}
auth:
  token: ${CLUSTER_TOKEN}
  joinSecret: ${JOIN_SECRET}
  tokens:
    - { name: reader, sha256: ${sha256Hex(READER)}, role: read }
    - { name: app-writer, sha256: ${sha256Hex(APP_WRITER)}, role: write, prefixes: ["app/"] }
    - { name: operator, sha256: ${sha256Hex(OPERATOR)}, role: admin }
    - { name: no-plugins, sha256: ${sha256Hex(NO_PLUGINS)}, role: write, plugins: [] }
    - { name: slow, sha256: ${sha256Hex(SLOW)}, role: read, requestsPerSecond: 1 }
${extra}limits:
  burst: 2
  watchersPerClient: 2
`;

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const errorOf = async (response: Response) => ((await response.json()) as { error: { code: string; message: string } }).error;

describe("tokens, roles, scopes and limits on a real node", () => {
  const cluster = new ProcessCluster();
  let url = "";
  let configFile = "";

  beforeAll(async () => {
    const node = await cluster.define("n1");
    configFile = join(cluster.root, "n1.yaml");
    consulPort = await freePort();
    writeFileSync(configFile, tokensYaml());
    await cluster.start("n1", {}, ["--config", configFile]);
    url = node.url;
    await waitUntil("n1 leads", async () => {
      const status = (await (await fetch(`${url}/v1/cluster`, { headers: bearer(CLUSTER_TOKEN) })).json()) as { state: string };
      return status.state === "Leader" || undefined;
    });
    expect((await fetch(`${url}/v1/kv/app/config`, { method: "PUT", body: "v1", headers: bearer(CLUSTER_TOKEN) })).status).toBe(200);
    expect((await fetch(`${url}/v1/kv/ops/secret`, { method: "PUT", body: "s1", headers: bearer(CLUSTER_TOKEN) })).status).toBe(200);
  }, 60_000);
  afterAll(() => cluster.shutdown());

  it("asks for a token, and keeps the health route open", async () => {
    const response = await fetch(`${url}/v1/kv/app/config`);
    expect(response.status).toBe(401);
    expect((await errorOf(response)).code).toBe("UNAUTHORIZED");
    expect((await fetch(`${url}/v1/health`)).status).toBe(200);
    expect((await fetch(`${url}/v1/kv/app/config`, { headers: bearer("not-a-token") })).status).toBe(401);
  });

  it("lets a read token read and says a write needs role write", async () => {
    expect((await fetch(`${url}/v1/kv/ops/secret`, { headers: bearer(READER) })).status).toBe(200);
    const refused = await fetch(`${url}/v1/kv/app/config`, { method: "PUT", body: "x", headers: bearer(READER) });
    expect(refused.status).toBe(403);
    const error = await errorOf(refused);
    expect(error.code).toBe("FORBIDDEN");
    expect(error.message).toContain('token "reader" has role read');
    expect(error.message).toContain("needs role write on plugin kv");
    expect(await (await fetch(`${url}/v1/kv/app/config?raw`, { headers: bearer(CLUSTER_TOKEN) })).text()).toBe("v1");
  });

  it("keeps a prefix-scoped token to its keys, in writes, reads, lists, watches and transactions", async () => {
    expect((await fetch(`${url}/v1/kv/app/config`, { method: "PUT", body: "v2", headers: bearer(APP_WRITER) })).status).toBe(200);
    const outside = await fetch(`${url}/v1/kv/ops/secret`, { method: "PUT", body: "stolen", headers: bearer(APP_WRITER) });
    expect(outside.status).toBe(403);
    expect((await errorOf(outside)).message).toContain('may write only keys under "app/"; not key "ops/secret"');
    expect((await fetch(`${url}/v1/kv/ops/secret`, { headers: bearer(APP_WRITER) })).status).toBe(403);
    expect((await fetch(`${url}/v1/kv?prefix=`, { headers: bearer(APP_WRITER) })).status).toBe(403);
    expect((await fetch(`${url}/v1/kv?prefix=app/`, { headers: bearer(APP_WRITER) })).status).toBe(200);
    expect((await fetch(`${url}/v1/watch?prefix=ops/`, { headers: bearer(APP_WRITER) })).status).toBe(403);
    const txn = await fetch(`${url}/v1/txn`, {
      method: "POST",
      headers: { ...bearer(APP_WRITER), "content-type": "application/json" },
      body: JSON.stringify({ compare: [], success: [{ op: "put", key: "app/a", value: "1" }, { op: "delete", key: "ops/secret" }], failure: [] }),
    });
    expect(txn.status).toBe(403);
    expect(await (await fetch(`${url}/v1/kv/ops/secret?raw`, { headers: bearer(CLUSTER_TOKEN) })).text()).toBe("s1");
    expect((await fetch(`${url}/v1/kv/app/a`, { headers: bearer(CLUSTER_TOKEN) })).status).toBe(404);
  });

  it("keeps membership and snapshots to admin, and plugins to a token's plugin scope", async () => {
    const snapshot = await fetch(`${url}/v1/cluster/snapshot`, { method: "POST", headers: bearer(APP_WRITER) });
    expect(snapshot.status).toBe(403);
    expect((await errorOf(snapshot)).message).toContain("needs role admin");
    expect((await fetch(`${url}/v1/cluster/backup`, { headers: bearer(READER) })).status).toBe(403);
    expect((await fetch(`${url}/v1/cluster/snapshot`, { method: "POST", headers: bearer(OPERATOR) })).status).toBe(200);
    expect((await fetch(`${url}/v1/cluster`, { headers: bearer(READER) })).status).toBe(200);
    const scoped = await fetch(`${url}/v1/kv/app/config`, { headers: bearer(NO_PLUGINS) });
    expect(scoped.status).toBe(403);
    expect((await errorOf(scoped)).message).toContain("belongs to plugin kv");
    expect((await fetch(`${url}/v1/watch?prefix=app/`, { headers: bearer(NO_PLUGINS) })).status).toBe(403);
  });

  it("answers 429 with Retry-After once a token is over its rate", async () => {
    const statuses: number[] = [];
    let retryAfter: string | null = null;
    for (let i = 0; i < 10; i++) {
      const response = await fetch(`${url}/v1/kv/app/config`, { headers: bearer(SLOW) });
      statuses.push(response.status);
      if (response.status === 429) {
        retryAfter = response.headers.get("retry-after");
        expect((await errorOf(response)).code).toBe("RATE_LIMITED");
      } else {
        await response.arrayBuffer();
      }
    }
    expect(statuses.slice(0, 2)).toEqual([200, 200]);
    expect(statuses).toContain(429);
    expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
  });

  it("caps the watches one client holds open, and frees a place when one closes", async () => {
    const open = async (signal: AbortSignal) => fetch(`${url}/v1/watch?prefix=app/`, { headers: bearer(READER), signal });
    const first = new AbortController();
    const second = new AbortController();
    const a = await open(first.signal);
    const b = await open(second.signal);
    expect([a.status, b.status]).toEqual([200, 200]);
    const third = await fetch(`${url}/v1/watch?prefix=app/`, { headers: bearer(READER) });
    expect(third.status).toBe(429);
    expect((await errorOf(third)).code).toBe("TOO_MANY_WATCHERS");
    first.abort();
    await waitUntil("a place frees up", async () => {
      const controller = new AbortController();
      const again = await open(controller.signal);
      controller.abort();
      return again.status === 200 || undefined;
    });
    second.abort();
  }, 30_000);

  it("holds Consul's port to the same tokens, roles and prefixes (X-Consul-Token)", async () => {
    const consul = `http://127.0.0.1:${consulPort}`;
    const as = (token: string) => ({ "x-consul-token": token });
    expect((await fetch(`${consul}/v1/kv/app/config`)).status).toBe(403);
    expect((await fetch(`${consul}/v1/kv/app/config?raw`, { headers: as(READER) })).status).toBe(200);
    const readerWrite = await fetch(`${consul}/v1/kv/app/config`, { method: "PUT", body: "x", headers: as(READER) });
    expect(readerWrite.status).toBe(403);
    expect(await readerWrite.text()).toContain("needs role write");
    expect((await fetch(`${consul}/v1/kv/app/from-consul`, { method: "PUT", body: "y", headers: as(APP_WRITER) })).status).toBe(200);
    const outside = await fetch(`${consul}/v1/kv/ops/secret`, { method: "PUT", body: "stolen", headers: as(APP_WRITER) });
    expect(outside.status).toBe(403);
    expect(await outside.text()).toContain('may write only keys under "app/"');
    expect((await fetch(`${consul}/v1/kv/?recurse`, { headers: as(APP_WRITER) })).status).toBe(403);
    expect((await fetch(`${consul}/v1/kv/ops/?recurse`, { method: "DELETE", headers: as(APP_WRITER) })).status).toBe(403);
    expect(await (await fetch(`${url}/v1/kv/ops/secret?raw`, { headers: bearer(CLUSTER_TOKEN) })).text()).toBe("s1");
  });

  it("takes a token added to the YAML without a restart", async () => {
    expect((await fetch(`${url}/v1/kv/app/config`, { headers: bearer(LATE) })).status).toBe(401);
    writeFileSync(configFile, tokensYaml(`    - { name: late, sha256: ${sha256Hex(LATE)}, role: read }\n`));
    await waitUntil("the new token works", async () => (await fetch(`${url}/v1/kv/app/config`, { headers: bearer(LATE) })).status === 200 || undefined);
    expect(cluster.logs("n1")).toContain("auth.tokens");
  }, 30_000);
});

describe("the join secret", () => {
  const cluster = new ProcessCluster();
  afterAll(() => cluster.shutdown());

  it("refuses a node without the cluster's join secret, and admits it with the secret", async () => {
    const first = await cluster.define("j1");
    const file = join(cluster.root, "j1.yaml");
    writeFileSync(file, `auth:\n  token: ${CLUSTER_TOKEN}\n  joinSecret: ${JOIN_SECRET}\n`);
    await cluster.start("j1", {}, ["--config", file]);
    const members = async () => ((await (await fetch(`${first.url}/v1/cluster`, { headers: bearer(CLUSTER_TOKEN) })).json()) as { members: { id: string }[] }).members.map((m) => m.id);
    await waitUntil("j1 leads", async () => ((await members()).includes("j1") ? true : undefined));

    await cluster.define("j2", { PONTOON_TOKEN: CLUSTER_TOKEN, RAFT_LEADER: `127.0.0.1:${first.httpPort}`, PONTOON_JOIN_SECRET: "wrong-secret-000000000000" });
    await cluster.start("j2");
    await waitUntil("j2 says its join was refused", () => (cluster.logs("j2").includes("JOIN_SECRET_REQUIRED") ? true : undefined));
    expect(await members()).toEqual(["j1"]);
    await cluster.stop("j2");

    await cluster.start("j2", { PONTOON_JOIN_SECRET: JOIN_SECRET });
    await waitUntil("j2 is a member", async () => ((await members()).includes("j2") ? true : undefined));
  }, 90_000);
});

describe("limits without auth, on a cluster", () => {
  const cluster = new ProcessCluster();
  afterAll(() => cluster.shutdown());

  it("counts a blocking query where the client sent it, not again on the leader it was forwarded to", async () => {
    await cluster.startPeers(["w1", "w2", "w3"], "limits:\n  watchersPerClient: 2\n");
    const leader = await cluster.leader();
    const [a, b] = ["w1", "w2", "w3"].filter((id) => id !== leader).map((id) => cluster.node(id));
    expect((await fetch(`${a!.url}/v1/kv/blocked`, { method: "PUT", body: "v" })).status).toBe(200);
    const index = Number((await fetch(`${a!.url}/v1/kv/blocked`)).headers.get("x-pontoon-index"));
    expect(index).toBeGreaterThan(0);
    // Two through one follower and one through the other: each follower is within its limit of two;
    // the leader sees three forwarded from this machine's one address. Nothing changes, so each
    // waits out its 3 s and answers 200; a refusal would come at once, while the others still wait.
    const block = (url: string) => fetch(`${url}/v1/kv/blocked?index=${index}&wait=3s`).then((r) => r.status);
    expect(await Promise.all([block(a!.url), block(a!.url), block(b!.url)])).toEqual([200, 200, 200]);
  }, 60_000);
});
