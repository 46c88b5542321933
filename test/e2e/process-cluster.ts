// Real Pontoon node processes on loopback, started as CONTRACT.md says
// (`bun src/main.ts` with its environment variables), for end-to-end tests.
// Every process a test starts, the cluster stops.

import type { ClusterStatus } from "../../src/client/index.ts";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { freePort } from "../../src/transport/free-port.ts";

const ROOT = resolve(import.meta.dir, "../..");
const BUN = process.execPath;

export { freePort };

export interface ProcessNode {
  id: string;
  httpPort: number;
  raftPort: number;
  dataDir: string;
  env: Record<string, string>;
  proc: ReturnType<typeof Bun.spawn> | null;
  output: string[];
  url: string;
}

export class ProcessCluster {
  readonly nodes = new Map<string, ProcessNode>();
  readonly root = mkdtempSync(join(tmpdir(), "pontoon-e2e-"));
  /** Set (the CA's PEM) for nodes that serve HTTPS (tls: in their YAML): URLs become https and the probes trust this CA. */
  httpsCa: string | undefined;

  /** fetch for this cluster's nodes: plain, or trusting httpsCa. */
  fetch(url: string, init: RequestInit = {}): Promise<Response> {
    return fetch(url, this.httpsCa ? ({ ...init, tls: { ca: this.httpsCa } } as RequestInit) : init);
  }

  /** Declares a node (ports picked now) without starting it. */
  async define(id: string, env: Record<string, string> = {}): Promise<ProcessNode> {
    const [httpPort, raftPort] = [await freePort(), await freePort()];
    const dataDir = join(this.root, id);
    const node: ProcessNode = {
      id,
      httpPort,
      raftPort,
      dataDir,
      env: { RAFT_NODE_ID: id, SERVER_PORT: String(httpPort), RAFT_PORT: String(raftPort), RAFT_VOL_DIR: dataDir, ...env },
      proc: null,
      output: [],
      url: `${this.httpsCa ? "https" : "http"}://127.0.0.1:${httpPort}`,
    };
    this.nodes.set(id, node);
    return node;
  }

  /** Starts (or restarts, on the same data directory) a defined node and waits for its health route. */
  async start(id: string, extraEnv: Record<string, string> = {}, args: string[] = []): Promise<ProcessNode> {
    const node = this.nodes.get(id)!;
    Object.assign(node.env, extraEnv);
    const proc = Bun.spawn([BUN, "src/main.ts", ...args], {
      cwd: ROOT,
      env: { ...process.env, ...node.env },
      stdout: "pipe",
      stderr: "pipe",
    });
    node.proc = proc;
    void collect(proc.stdout as ReadableStream<Uint8Array>, node.output);
    void collect(proc.stderr as ReadableStream<Uint8Array>, node.output);
    await waitUntil(`${id} serving HTTP`, async () => {
      if (proc.exitCode !== null) throw new Error(`${id} exited with ${proc.exitCode}:\n${node.output.join("")}`);
      return (await this.fetch(`${node.url}/v1/health`).then((r) => r.ok).catch(() => false)) || undefined;
    });
    return node;
  }

  node(id: string): ProcessNode {
    return this.nodes.get(id)!;
  }

  /** Defines `ids`, starts them all with one shared cluster.peers file (after the YAML in `before`), and waits for a leader. */
  async startPeers(ids: string[], before = ""): Promise<void> {
    for (const id of ids) await this.define(id);
    const file = this.peersFile(ids, { before });
    // All at once: with one shared peers list they form one cluster in any order.
    await Promise.all(ids.map((id) => this.start(id, {}, ["--config", file])));
    await this.leader();
  }

  /**
   * Writes a YAML file declaring `ids` as cluster.peers (after `before`, other
   * settings) and returns its path, for `start(id, {}, ["--config", file])`.
   * `raftOf` gives a peer's Raft address when it is not its own port (a proxy).
   */
  peersFile(ids: string[], options: { name?: string; before?: string; raftOf?: (id: string) => string } = {}): string {
    const raftOf = options.raftOf ?? ((id: string) => `127.0.0.1:${this.node(id).raftPort}`);
    const peers = ids.map((id) => `    - { id: ${id}, raft: "${raftOf(id)}", http: "127.0.0.1:${this.node(id).httpPort}" }`);
    const file = join(this.root, options.name ?? "peers.yaml");
    writeFileSync(file, `${options.before ?? ""}cluster:\n  peers:\n${peers.join("\n")}\n`);
    return file;
  }

  /** SIGKILL: no shutdown, no flush beyond what was acknowledged. */
  async kill(id: string): Promise<void> {
    const node = this.nodes.get(id)!;
    node.proc?.kill("SIGKILL");
    await node.proc?.exited;
    node.proc = null;
  }

  /** SIGTERM and the exit code. */
  async stop(id: string): Promise<number> {
    const node = this.nodes.get(id)!;
    if (!node.proc) return 0;
    node.proc.kill("SIGTERM");
    const code = await node.proc.exited;
    node.proc = null;
    return code;
  }

  async status(id: string): Promise<ClusterStatus> {
    return (await (await this.fetch(`${this.node(id).url}/v1/cluster`)).json()) as ClusterStatus;
  }

  /** Waits until every running node agrees on one leader; returns its id. */
  async leader(among?: string[], timeoutMs = 15_000): Promise<string> {
    const ids = among ?? [...this.nodes.values()].filter((n) => n.proc).map((n) => n.id);
    return waitUntil(
      "one leader that every running node knows",
      async () => {
        const views = await Promise.all(ids.map((id) => this.status(id).catch(() => null)));
        const leaders = new Set(views.map((v) => v?.leader?.id ?? null));
        if (leaders.size !== 1) return undefined;
        const [leader] = leaders;
        if (!leader || !views.some((v) => v?.id === leader && v.state === "Leader")) return undefined;
        // Followers forward through the leader's recorded HTTP address.
        return views.every((v) => v?.leader?.http) ? leader : undefined;
      },
      timeoutMs,
    );
  }

  async shutdown(): Promise<void> {
    await Promise.all([...this.nodes.values()].map(async (n) => {
      if (n.proc) {
        n.proc.kill("SIGKILL");
        await n.proc.exited;
        n.proc = null;
      }
    }));
    rmSync(this.root, { recursive: true, force: true });
  }

  logs(id: string): string {
    return this.nodes.get(id)!.output.join("");
  }
}

/** What GET /v1/cluster answers, as the client SDK types it. */
export type { ClusterStatus };

async function collect(stream: ReadableStream<Uint8Array>, into: string[]): Promise<void> {
  const decoder = new TextDecoder();
  for await (const chunk of stream) into.push(decoder.decode(chunk));
}

export async function waitUntil<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (error) {
      if (error instanceof Error && /exited with/.test(error.message)) throw error;
      last = error;
    }
    await Bun.sleep(50);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${String(last)})` : ""}`);
}
