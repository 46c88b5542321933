// scripts/cluster.ts (npm run cluster): three nodes with prefixed output,
// stopped together on Ctrl-C/SIGTERM, and all stopped when one dies. Run over
// fake nodes (fixtures/fake-node.ts) through the same runCluster the script uses.

import { describe, expect, it } from "bun:test";
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { NODE_IDS, nodeCommand } from "../../scripts/cluster.ts";
import { loadConfig } from "../../src/config/load.ts";

/** The project root, where scripts/cluster.ts runs the nodes. */
const ROOT = resolve(import.meta.dir, "../..");
const FAKE_CLUSTER = join(import.meta.dir, "fixtures/fake-cluster.ts");

/** Starts the fake cluster; `until(text)` resolves once stdout+stderr contain it. */
function startCluster(behaviours: string[], env: Record<string, string> = {}) {
  const proc = Bun.spawn([process.execPath, FAKE_CLUSTER, ...behaviours], { stdout: "pipe", stderr: "pipe", env: { ...process.env, ...env } });
  const output = { stdout: "", stderr: "" };
  const watchers: { text: string | RegExp; resolve: () => void }[] = [];
  const seen = (text: string | RegExp): boolean => {
    const all = output.stdout + output.stderr;
    return typeof text === "string" ? all.includes(text) : text.test(all);
  };
  const pump = async (name: "stdout" | "stderr", stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) {
      output[name] += decoder.decode(chunk, { stream: true });
      for (const w of watchers.splice(0)) (seen(w.text) ? w.resolve() : watchers.push(w));
    }
  };
  const drained = Promise.all([pump("stdout", proc.stdout), pump("stderr", proc.stderr)]);
  const until = (text: string | RegExp): Promise<void> =>
    seen(text) ? Promise.resolve() : new Promise((resolve) => watchers.push({ text, resolve }));
  const pids = (): number[] => [...output.stdout.matchAll(/ready pid=(\d+)/g)].map((m) => Number(m[1]));
  const finished = async () => {
    const code = await proc.exited;
    await drained;
    return code;
  };
  return { proc, output, until, pids, finished };
}

const allReady = async (cluster: ReturnType<typeof startCluster>, count = 3) => {
  for (let n = 1; n <= count; n++) {
    await cluster.until(`[node${n}] ready pid=`);
    await cluster.until(`[node${n}] note from node${n}\n`);
  }
};

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe("npm run cluster", () => {
  it("runs bun src/main.ts with config/cluster/nodeN.yaml for node1-3", () => {
    expect([...NODE_IDS]).toEqual(["node1", "node2", "node3"]);
    const ports = new Set<number>();
    const dataDirs = new Set<string>();
    for (const id of NODE_IDS) {
      const [bun, script, ...argv] = nodeCommand(id);
      expect([bun, script]).toEqual([process.execPath, "src/main.ts"]);
      expect(existsSync(resolve(ROOT, script!))).toBe(true);
      // What src/main.ts does with the rest of the command line, run from the project root as the script runs it:
      // it must start this very node, on ports and a data directory of its own.
      const { config, file } = loadConfig({ argv, env: {}, cwd: ROOT });
      expect(file).toBe(resolve(ROOT, `config/cluster/${id}.yaml`));
      expect(config.node.id).toBe(id);
      ports.add(config.http.port).add(config.raft.port);
      dataDirs.add(config.node.dataDir);
    }
    expect(ports.size).toBe(2 * NODE_IDS.length);
    expect(dataDirs.size).toBe(NODE_IDS.length);
  });

  it("prefixes each node's lines with its id and stops them all on SIGTERM, waiting for their clean exit", async () => {
    const cluster = startCluster(["serve", "serve", "serve"]);
    await allReady(cluster);
    const pids = cluster.pids();
    expect(pids).toHaveLength(3);
    cluster.proc.kill("SIGTERM");
    expect(await cluster.finished()).toBe(0);
    for (const n of [1, 2, 3]) {
      expect(cluster.output.stdout).toContain(`[node${n}] stopping on SIGTERM\n`);
      // The last line had no "\n" of its own; it is still written whole, prefixed.
      expect(cluster.output.stdout).toContain(`[node${n}] bye\n`);
      expect(cluster.output.stderr).toContain(`[node${n}] note from node${n}\n`);
    }
    expect(cluster.output.stderr).toContain("[cluster] SIGTERM: stopping node1, node2, node3\n");
    expect(cluster.output.stderr).toContain("[cluster] all nodes stopped\n");
    for (const pid of pids) expect(isRunning(pid)).toBe(false);
  });

  it("stops them all on Ctrl-C (SIGINT) too", async () => {
    const cluster = startCluster(["serve", "serve", "serve"]);
    await allReady(cluster);
    cluster.proc.kill("SIGINT");
    expect(await cluster.finished()).toBe(0);
    expect(cluster.output.stderr).toContain("[cluster] SIGINT: stopping node1, node2, node3\n");
    expect(cluster.output.stdout.match(/stopping on SIGTERM/g)).toHaveLength(3);
  });

  it("stops the others and exits with the dead node's code when one dies on its own", async () => {
    const cluster = startCluster(["serve", "crash", "serve"]);
    await allReady(cluster);
    const [pid1, pid2, pid3] = [1, 2, 3].map((n) => pidOf(cluster, n));
    process.kill(pid2!, "SIGUSR1");
    expect(await cluster.finished()).toBe(3);
    expect(cluster.output.stderr).toContain("[cluster] node2 exited with code 3; stopping the others\n");
    expect(cluster.output.stdout).toContain("[node1] stopping on SIGTERM\n");
    expect(cluster.output.stdout).toContain("[node3] stopping on SIGTERM\n");
    expect(cluster.output.stderr).not.toContain("all nodes stopped");
    for (const pid of [pid1!, pid2!, pid3!]) expect(isRunning(pid)).toBe(false);
  });

  it("kills a node that does not stop within the timeout, and says so", async () => {
    const cluster = startCluster(["serve", "serve", "stubborn"], { STOP_TIMEOUT_MS: "300" });
    await allReady(cluster);
    const stubborn = pidOf(cluster, 3);
    cluster.proc.kill("SIGTERM");
    expect(await cluster.finished()).toBe(1);
    expect(cluster.output.stdout).toContain("[node3] ignoring SIGTERM\n");
    expect(cluster.output.stderr).toContain("[cluster] node3 still running 300 ms after SIGTERM; sending SIGKILL\n");
    expect(cluster.output.stderr).toContain("[cluster] node3 did not shut down cleanly: exited on signal SIGKILL\n");
    expect(isRunning(stubborn)).toBe(false);
  });
});

function pidOf(cluster: ReturnType<typeof startCluster>, n: number): number {
  const match = new RegExp(`\\[node${n}\\] ready pid=(\\d+)`).exec(cluster.output.stdout);
  if (!match) throw new Error(`node${n} has not said it is ready`);
  return Number(match[1]);
}
