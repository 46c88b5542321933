// `npm start` until the HTTP server exists: three real Raft nodes in one
// process, talking TCP on 127.0.0.1, with SQLite files in a temporary
// directory. It elects a leader, commits entries, kills the leader, elects
// another, and shows that every acknowledged entry survived.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FSM } from "./raft/fsm.ts";
import { RaftNode } from "./raft/node.ts";
import { FileSnapshotStore } from "./storage/file-snapshot-store.ts";
import { openSqliteStorage } from "./storage/sqlite-storage.ts";
import { TcpTransport } from "./transport/tcp-transport.ts";
import { freePort } from "./transport/free-port.ts";

const say = (line: string) => console.log(`[demo] ${line}`);
const decoder = new TextDecoder();

/** The demo's state machine: a list of the commands applied, in order. */
class ListFSM implements FSM {
  readonly items: string[] = [];
  apply(entry: { data: Uint8Array }): number {
    this.items.push(decoder.decode(entry.data));
    return this.items.length;
  }
  snapshot(): Uint8Array {
    return new TextEncoder().encode(JSON.stringify(this.items));
  }
  restore(data: Uint8Array): void {
    this.items.splice(0, this.items.length, ...(JSON.parse(decoder.decode(data)) as string[]));
  }
}

interface DemoNode {
  id: string;
  node: RaftNode;
  fsm: ListFSM;
}

async function startNode(id: string, dir: string, port: number): Promise<DemoNode> {
  const fsm = new ListFSM();
  const transport = new TcpTransport({ host: "127.0.0.1", port });
  const node = await RaftNode.open({
    id,
    storage: openSqliteStorage(join(dir, `${id}.db`)),
    snapshots: new FileSnapshotStore(join(dir, `${id}-snapshots`)),
    transport,
    fsm,
    tickMs: 50,
  });
  node.onStateChange((state) => say(`${id} is now ${state}`));
  return { id, node, fsm };
}

async function waitFor<T>(what: string, probe: () => T | undefined, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(20);
  }
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "pontoon-demo-"));
  say(`data in ${dir}`);
  const ports = await Promise.all([freePort(), freePort(), freePort()]);
  const nodes = await Promise.all(["n1", "n2", "n3"].map((id, i) => startNode(id, dir, ports[i]!)));
  const configuration = {
    servers: nodes.map((n, i) => ({ id: n.id, address: `127.0.0.1:${ports[i]}`, suffrage: "voter" as const })),
  };
  try {
    await Promise.all(nodes.map((n) => n.node.bootstrapCluster(configuration)));
    say("bootstrapped n1, n2, n3 as one cluster; waiting for an election");
    let leader = await waitFor("a leader", () => nodes.find((n) => n.node.state() === "Leader"));
    say(`${leader.id} leads (term ${leader.node.stats().term})`);

    const acknowledged: string[] = [];
    for (let i = 1; i <= 5; i++) {
      const command = `set greeting=hello-${i}`;
      const { index } = await leader.node.apply(new TextEncoder().encode(command), { timeoutMs: 5_000 });
      acknowledged.push(command);
      say(`committed "${command}" at index ${index}`);
    }

    say(`stopping the leader ${leader.id}`);
    await leader.node.shutdown();
    const survivors = nodes.filter((n) => n !== leader);
    leader = await waitFor("a new leader", () => survivors.find((n) => n.node.state() === "Leader"));
    say(`${leader.id} leads now (term ${leader.node.stats().term})`);
    const { index } = await leader.node.apply(new TextEncoder().encode("set greeting=after-failover"), { timeoutMs: 5_000 });
    acknowledged.push("set greeting=after-failover");
    say(`committed after fail-over at index ${index}`);

    await waitFor("replication", () => (survivors.every((n) => n.fsm.items.length === acknowledged.length) ? true : undefined));
    for (const n of survivors) {
      const intact = JSON.stringify(n.fsm.items) === JSON.stringify(acknowledged);
      say(`${n.id} applied ${n.fsm.items.length} commands: ${intact ? "identical to what was acknowledged" : "MISMATCH"}`);
      if (!intact) process.exitCode = 1;
    }
    say("done: no acknowledged entry was lost");
  } finally {
    await Promise.all(nodes.map((n) => (n.node.state() === "Shutdown" ? undefined : n.node.shutdown())));
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
