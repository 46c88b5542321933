// npm run cluster: the three nodes of config/cluster/ in one terminal, each
// output line prefixed with its node ("[node2] ..."). Ctrl-C or SIGTERM stops
// them together: SIGTERM to each, then wait for their clean shutdown (a second
// Ctrl-C, or a node still running after STOP_TIMEOUT_MS, gets SIGKILL). If a
// node dies on its own, the others are stopped too and the script exits
// non-zero, so a broken node is never left looking like a running cluster.
//
//   npm run cluster                  # node1, node2, node3
//   npm run cluster -- node1 node2   # only these (to start node3 by hand later)

import { existsSync } from "node:fs";
import { resolve } from "node:path";

const ROOT = resolve(import.meta.dir, "..");
export const NODE_IDS = ["node1", "node2", "node3"] as const;
/** How long stopped nodes get to shut down cleanly before SIGKILL. */
export const STOP_TIMEOUT_MS = 15_000;

/** The command that runs one node of config/cluster/, from the project root. */
export function nodeCommand(id: string): string[] {
  return [process.execPath, "src/main.ts", "--config", `config/cluster/${id}.yaml`];
}

export interface ClusterNode {
  id: string;
  command: string[];
}

export interface ClusterOptions {
  nodes: ClusterNode[];
  cwd: string;
  stopTimeoutMs: number;
  /** Where prefixed lines go (default: this process's stdout and stderr). */
  out?: (text: string) => void;
  err?: (text: string) => void;
}

interface Running {
  id: string;
  proc: ReturnType<typeof Bun.spawn>;
  drained: Promise<void>;
}

/** Runs the nodes until a signal stops them or one of them dies; resolves with the exit code for this process. */
export async function runCluster(options: ClusterOptions): Promise<number> {
  const out = options.out ?? ((text: string) => void process.stdout.write(text));
  const err = options.err ?? ((text: string) => void process.stderr.write(text));
  const say = (line: string) => err(`[cluster] ${line}\n`);

  let stopping = false;
  let failed = false;
  let resolveStopRequest!: () => void;
  const stopRequested = new Promise<void>((resolve) => (resolveStopRequest = resolve));

  const running: Running[] = options.nodes.map(({ id, command }) => {
    const proc = Bun.spawn(command, { cwd: options.cwd, stdout: "pipe", stderr: "pipe", stdin: "ignore", env: process.env });
    const drained = Promise.all([
      prefixLines(`[${id}] `, proc.stdout as ReadableStream<Uint8Array>, out),
      prefixLines(`[${id}] `, proc.stderr as ReadableStream<Uint8Array>, err),
    ]).then(() => undefined);
    void proc.exited.then(() => {
      if (stopping) return;
      failed = true;
      say(`${id} exited ${describeExit(proc)}; stopping the others`);
      resolveStopRequest();
    });
    return { id, proc, drained };
  });

  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) {
      say(`${signal} again: killing the nodes still running`);
      for (const node of running) if (node.proc.exitCode === null && node.proc.signalCode === null) node.proc.kill("SIGKILL");
      return;
    }
    say(`${signal}: stopping ${running.map((n) => n.id).join(", ")}`);
    resolveStopRequest();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  say(`started ${running.map((n) => `${n.id} (pid ${n.proc.pid})`).join(", ")}; Ctrl-C stops them all`);

  await stopRequested;
  stopping = true;
  const alive = running.filter((n) => n.proc.exitCode === null && n.proc.signalCode === null);
  for (const node of alive) node.proc.kill("SIGTERM");
  const killTimer = setTimeout(() => {
    for (const node of alive) {
      if (node.proc.exitCode !== null || node.proc.signalCode !== null) continue;
      say(`${node.id} still running ${options.stopTimeoutMs} ms after SIGTERM; sending SIGKILL`);
      node.proc.kill("SIGKILL");
    }
  }, options.stopTimeoutMs);
  await Promise.all(running.map((n) => n.proc.exited));
  clearTimeout(killTimer);
  await Promise.all(running.map((n) => n.drained));
  process.off("SIGINT", onSignal);
  process.off("SIGTERM", onSignal);

  // A node stopped on purpose should still shut down cleanly (exit 0); say so when one did not.
  let unclean = false;
  for (const node of alive) {
    if (node.proc.exitCode === 0) continue;
    unclean = true;
    say(`${node.id} did not shut down cleanly: exited ${describeExit(node.proc)}`);
  }
  if (!failed && !unclean) say("all nodes stopped");
  if (failed) {
    const first = running.find((n) => !alive.includes(n));
    const code = first?.proc.exitCode;
    return typeof code === "number" && code !== 0 ? code : 1;
  }
  return unclean ? 1 : 0;
}

function describeExit(proc: ReturnType<typeof Bun.spawn>): string {
  return proc.signalCode ? `on signal ${proc.signalCode}` : `with code ${proc.exitCode}`;
}

/** Copies a child's output line by line with `prefix` in front; a last line without "\n" is still written. */
async function prefixLines(prefix: string, stream: ReadableStream<Uint8Array>, write: (text: string) => void): Promise<void> {
  const decoder = new TextDecoder();
  let pending = "";
  for await (const chunk of stream) {
    pending += decoder.decode(chunk, { stream: true });
    const lines = pending.split("\n");
    pending = lines.pop()!;
    if (lines.length > 0) write(lines.map((line) => `${prefix}${line}\n`).join(""));
  }
  pending += decoder.decode();
  if (pending !== "") write(`${prefix}${pending}\n`);
}

if (import.meta.main) {
  const ids = process.argv.length > 2 ? process.argv.slice(2) : [...NODE_IDS];
  for (const id of ids) {
    if (!existsSync(resolve(ROOT, "config/cluster", `${id}.yaml`))) {
      process.stderr.write(`[cluster] no config/cluster/${id}.yaml; the nodes are ${NODE_IDS.join(", ")}\n`);
      process.exit(2);
    }
  }
  const code = await runCluster({ nodes: ids.map((id) => ({ id, command: nodeCommand(id) })), cwd: ROOT, stopTimeoutMs: STOP_TIMEOUT_MS });
  process.exit(code);
}
