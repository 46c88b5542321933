// Starts one Pontoon node in this process (real SQLite, TCP and HTTP) for API tests.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import kv from "../../plugins/kv/index.ts";
import { AccessPolicy } from "../../src/api/access.ts";
import { silentLogger } from "../../src/raft/logger.ts";
import { PontoonNode } from "../../src/server/pontoon-node.ts";
import { freePort } from "../e2e/process-cluster.ts";

export interface OneNode {
  node: PontoonNode;
  base: string;
  stop(): Promise<void>;
}

export async function startOneNode(kvConfig: { maxValueBytes?: number; history?: number } = {}): Promise<OneNode> {
  const dir = mkdtempSync(join(tmpdir(), "pontoon-one-"));
  const [httpPort, raftPort] = [await freePort(), await freePort()];
  const node = await PontoonNode.start({
    id: "n1",
    dataDir: dir,
    http: { host: "127.0.0.1", port: httpPort, advertise: `127.0.0.1:${httpPort}`, maxBodyBytes: 2 * 1024 * 1024 },
    raft: { host: "127.0.0.1", port: raftPort, advertise: `127.0.0.1:${raftPort}`, tickMs: 20, electionTicks: 10, heartbeatTicks: 1 },
    cluster: { joinAsVoter: true, joinRetry: { initialMs: 100, maxMs: 1000 } },
    snapshot: { threshold: 8192, intervalMs: 30_000, retain: 2, trailingLogs: 1024 },
    plugins: [{ definition: kv, config: { maxValueBytes: 1024 * 1024, history: 10, ...kvConfig } }],
    access: () => new AccessPolicy({ tokens: [] }),
    limits: () => ({ requestsPerSecond: 0, burst: 100, watchersPerClient: 0 }),
    logger: silentLogger,
  });
  await untilLeader(node, 5_000);
  return {
    node,
    base: `http://127.0.0.1:${httpPort}`,
    async stop() {
      await node.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A one-node cluster elects itself; tests start once it has (and fail here, by name, if it does not). */
function untilLeader(node: PontoonNode, timeoutMs: number): Promise<void> {
  if (node.raft.state() === "Leader") return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`the node did not become leader within ${timeoutMs} ms`));
    }, timeoutMs);
    const off = node.raft.onStateChange((state) => {
      if (state !== "Leader") return;
      clearTimeout(timer);
      off();
      resolve();
    });
  });
}
