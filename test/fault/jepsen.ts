// A Jepsen-style run against real node processes: a 3-node cluster whose
// inbound Raft traffic passes through proxies the run controls, concurrent
// clients doing reads, writes, deletes and create-if-absent on a few keys
// against random nodes with short deadlines, and a nemesis that kills and
// restarts nodes (SIGKILL), pauses them (SIGSTOP/SIGCONT), cuts their
// inbound links (partition: a one-way cut), splits the cluster both ways
// (split: one node cut off from the others, or the link between two nodes cut
// while the third still reaches both), slows a node's inbound links (delay:
// 50-300 ms), or moves their wall clocks (libfaketime: jumps of up to two
// minutes either way, and strobing; Raft's timers run on the monotonic clock,
// which is left alone). Half the faults pick the current leader. Afterwards
// every fault is healed and the run checks:
//   - each key's history is linearizable (test/fault/linearizability.ts),
//     which also catches a lost acknowledged write;
//   - every node holds the same keys and values (no divergence).
//
//   npm run jepsen -- [--time 300] [--nemesis kill|pause|partition|split|delay|clock|mixed] [--clients 6] [--keys 3] [--out history.json]

import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ProcessCluster, waitUntil } from "../e2e/process-cluster.ts";
import { TcpProxy } from "../e2e/tcp-proxy.ts";
import { checkLinearizable, type HistoryOp, type Value } from "./linearizability.ts";

export type Nemesis = "kill" | "pause" | "partition" | "split" | "delay" | "clock" | "mixed";
export const NEMESES: readonly Nemesis[] = ["kill", "pause", "partition", "split", "delay", "clock", "mixed"];

/** Where Debian's faketime package puts the library (amd64, arm64). */
const FAKETIME_LIBRARIES = ["/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1", "/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1", "/usr/lib/faketime/libfaketime.so.1"];

/** libfaketime's path, or null when it is not installed (`apt-get install faketime`). */
export function faketimeLibrary(): string | null {
  return FAKETIME_LIBRARIES.find((path) => existsSync(path)) ?? null;
}

export interface JepsenOptions {
  seconds: number;
  nemesis: Nemesis;
  clients: number;
  keys: number;
  /** Search budget per key for the checker; past it the key is reported inconclusive. */
  maxSteps?: number;
  log?: (line: string) => void;
}

export interface JepsenResult {
  operations: number;
  acknowledged: number;
  unknown: number;
  faults: string[];
  /** Keys whose history is not linearizable, with why. */
  violations: string[];
  /** Nodes that disagree on the final state, with what they hold. */
  divergence: string[];
  history: Record<string, HistoryOp[]>;
  dropped: { key: string; value: string; why: string; call: number; at: number }[];
}

const ids = ["n1", "n2", "n3"];
const now = () => performance.now();

export async function runJepsen(o: JepsenOptions): Promise<JepsenResult> {
  const log = o.log ?? (() => {});
  const cluster = new ProcessCluster();
  const proxies = new Map<string, TcpProxy>();
  const paused = new Set<string>();
  const faketime = faketimeLibrary();
  if (o.nemesis === "clock" && !faketime) throw new Error("the clock nemesis needs libfaketime: apt-get install faketime");
  // Each node reads its wall clock's offset from its own file, re-read every second.
  const clockFile = (id: string) => join(cluster.root, `${id}.faketime`);
  const clockEnv = (id: string): Record<string, string> =>
    faketime ? { LD_PRELOAD: faketime, FAKETIME_TIMESTAMP_FILE: clockFile(id), FAKETIME_CACHE_DURATION: "1", FAKETIME_DONT_FAKE_MONOTONIC: "1" } : {};
  const setClock = (id: string, offset: string) => writeFileSync(clockFile(id), `${offset}\n`);
  try {
    for (const id of ids) {
      if (faketime) setClock(id, "+0");
      const node = await cluster.define(id, clockEnv(id));
      const proxy = new TcpProxy({ host: "127.0.0.1", port: node.raftPort });
      proxy.start();
      proxies.set(id, proxy);
    }
    const raftOf = (id: string) => `127.0.0.1:${proxies.get(id)!.port}`;
    const file = cluster.peersFile(ids, { raftOf });
    for (const id of ids) await cluster.start(id, { RAFT_ADVERTISE: raftOf(id) }, ["--config", file]);
    await cluster.leader();

    const keys = Array.from({ length: o.keys }, (_, i) => `jepsen/k${i}`);
    const history: Record<string, HistoryOp[]> = Object.fromEntries(keys.map((k) => [k, []]));
    /** Writes left out of the history as never having happened, and why: for explaining a violation. */
    const dropped: { key: string; value: string; why: string; call: number; at: number }[] = [];
    const faults: string[] = [];
    const deadline = now() + o.seconds * 1000;
    let counter = 0;

    const client = async (c: number): Promise<void> => {
      while (now() < deadline) {
        const id = ids[Math.floor(Math.random() * ids.length)]!;
        const key = keys[Math.floor(Math.random() * keys.length)]!;
        const roll = Math.random();
        const value = `c${c}-${++counter}`;
        const url = `${cluster.node(id).url}/v1/kv/${key}`;
        const call = now();
        const record = (op: HistoryOp["op"], ret: number | null) => history[key]!.push({ call, ret, op, label: `client ${c} via ${id}` });
        if (roll < 0.4) {
          try {
            const response = await fetch(url, { headers: { "x-pontoon-timeout-ms": "1000" }, signal: AbortSignal.timeout(2_000) });
            const body = (await response.json()) as { value?: string; error?: { code: string } };
            // A failed read changed nothing: it is left out.
            if (response.status === 200) record({ kind: "read", output: body.value! }, now());
            else if (body.error?.code === "KEY_NOT_FOUND") record({ kind: "read", output: null }, now());
          } catch {
            // no answer: as a failed read
          }
          continue;
        }
        const kind = roll < 0.75 ? "write" : roll < 0.85 ? "delete" : "cas";
        const op = (ok: boolean): HistoryOp["op"] => (kind === "write" ? { kind: "write", value } : kind === "delete" ? { kind: "write", value: null } : { kind: "cas", expected: null, value, ok });
        try {
          const response = await fetch(kind === "cas" ? `${url}?cas=0` : url, {
            method: kind === "delete" ? "DELETE" : "PUT",
            body: kind === "delete" ? undefined : value,
            headers: { "x-pontoon-timeout-ms": "1000" },
            signal: AbortSignal.timeout(2_000),
            // A fresh connection per write: Bun's fetch retries a request whose kept-alive connection
            // died on a new one, and reports that retry's "refused" though the first attempt may have
            // been applied. On its own connection, "refused" means the write never left.
            keepalive: false,
          });
          const body = (await response.json()) as { error?: { code: string } };
          if (response.ok || body.error?.code === "CAS_FAILED") record(op(response.ok), now());
          else if (body.error?.code === "OUTCOME_UNKNOWN") record(op(false), null);
          // Anything else (NO_LEADER, SHUTTING_DOWN, ...) was refused before it was proposed.
          else dropped.push({ key, value, why: `${response.status} ${body.error?.code}`, call, at: now() });
        } catch (error) {
          // Refused (the node is down): never sent, so it did not happen. Otherwise (a timeout, a
          // reset) the write may or may not have happened.
          if (/refused/i.test(`${(error as { code?: string }).code ?? ""} ${String(error)}`)) dropped.push({ key, value, why: String(error), call, at: now() });
          else record(op(false), null);
        }
      }
    };

    const nemesis = async (): Promise<void> => {
      while (now() < deadline - 2_000) {
        await Bun.sleep(1_000 + Math.random() * 1_500);
        const kinds = faketime ? (["kill", "pause", "partition", "split", "delay", "clock"] as const) : (["kill", "pause", "partition", "split", "delay"] as const);
        const kind = o.nemesis === "mixed" ? kinds[Math.floor(Math.random() * kinds.length)]! : o.nemesis;
        // Half the faults go to the leader, where they matter most.
        const leader = Math.random() < 0.5 ? await cluster.leader(undefined, 2_000).catch(() => null) : null;
        const id = leader ?? ids[Math.floor(Math.random() * ids.length)]!;
        const hold = 800 + Math.random() * 1_500;
        faults.push(`${kind} ${id} for ${Math.round(hold)} ms`);
        log(`nemesis: ${faults.at(-1)}`);
        if (kind === "kill") {
          await cluster.kill(id);
          await Bun.sleep(hold);
          await cluster.start(id);
        } else if (kind === "pause") {
          cluster.node(id).proc!.kill("SIGSTOP");
          paused.add(id);
          await Bun.sleep(hold);
          cluster.node(id).proc!.kill("SIGCONT");
          paused.delete(id);
        } else if (kind === "clock") {
          // A jump, or a strobe between two offsets.
          const jump = () => `${Math.random() < 0.5 ? "-" : "+"}${Math.round(5 + Math.random() * 115)}s`;
          const offsets = Math.random() < 0.5 ? [jump()] : [jump(), jump(), jump(), jump()];
          faults[faults.length - 1] += ` (${offsets.join(", ")})`;
          log(`  wall clock of ${id}: ${offsets.join(", then ")}`);
          for (const offset of offsets) {
            setClock(id, offset);
            await Bun.sleep(hold / offsets.length);
          }
          setClock(id, "+0");
        } else if (kind === "split") {
          // Cut both ways between `id` and one other node, or between `id` and both.
          const others = ids.filter((other) => other !== id);
          const cutFrom = Math.random() < 0.5 ? others : [others[Math.floor(Math.random() * others.length)]!];
          faults[faults.length - 1] += ` (from ${cutFrom.join(", ")}${cutFrom.length === 1 ? `; ${others.find((o) => !cutFrom.includes(o))} reaches both` : ""})`;
          log(`  split: ${id} | ${cutFrom.join(", ")}`);
          proxies.get(id)!.block(cutFrom.map(raftOf));
          for (const other of cutFrom) proxies.get(other)!.block([raftOf(id)]);
          await Bun.sleep(hold);
          for (const proxy of proxies.values()) proxy.heal();
        } else if (kind === "delay") {
          const ms = Math.round(50 + Math.random() * 250);
          faults[faults.length - 1] += ` (${ms} ms)`;
          proxies.get(id)!.delay(ms);
          await Bun.sleep(hold);
          proxies.get(id)!.heal();
        } else {
          proxies.get(id)!.partition();
          await Bun.sleep(hold);
          proxies.get(id)!.heal();
        }
      }
    };

    await Promise.all([nemesis(), ...Array.from({ length: o.clients }, (_, c) => client(c))]);

    // Heal, then one final linearizable read of every key: part of the history, so a lost write shows.
    await cluster.leader(undefined, 30_000);
    for (const key of keys) {
      const call = now();
      const response = await fetch(`${cluster.node(ids[0]!).url}/v1/kv/${key}`, { signal: AbortSignal.timeout(10_000) });
      const output: Value = response.status === 200 ? ((await response.json()) as { value: string }).value : null;
      history[key]!.push({ call, ret: now(), op: { kind: "read", output }, label: "final read" });
    }
    const divergence = await checkConvergence(cluster, keys);
    const final = await cluster.status(await cluster.leader(undefined, 30_000));
    log(`after healing: ${final.id} leads in term ${final.term} (every term past the first few is an election a fault caused)`);

    const violations: string[] = [];
    for (const key of keys) {
      const started = now();
      try {
        const result = checkLinearizable(history[key]!, null, o.maxSteps ?? 20_000_000);
        if (!result.linearizable) violations.push(`${key}: ${result.explanation}`);
        log(`${key}: ${history[key]!.length} operations checked in ${Math.round(now() - started)} ms (${result.steps} steps)`);
      } catch (error) {
        // Too many operations of unknown outcome to search them all: say so, do not pass silently.
        violations.push(`${key}: inconclusive: ${(error as Error).message}`);
      }
    }
    const all = Object.values(history).flat();
    return {
      operations: all.length,
      acknowledged: all.filter((h) => h.ret !== null && h.op.kind !== "read").length,
      unknown: all.filter((h) => h.ret === null).length,
      faults,
      violations,
      divergence,
      history,
      dropped,
    };
  } finally {
    for (const id of paused) cluster.node(id).proc?.kill("SIGCONT");
    if (faketime) for (const id of ids) setClock(id, "+0");
    for (const proxy of proxies.values()) proxy.stop();
    await cluster.shutdown();
  }
}

/** Every node, once it has applied the leader's commit index, holds the same keys and values. */
async function checkConvergence(cluster: ProcessCluster, keys: string[]): Promise<string[]> {
  const leader = await cluster.leader(undefined, 30_000);
  const commit = (await cluster.status(leader)).commitIndex;
  const states: string[] = [];
  for (const id of ids) {
    await waitUntil(`${id} to apply index ${commit}`, async () => ((await cluster.status(id)).appliedIndex >= commit ? true : undefined), 30_000);
    const values: string[] = [];
    for (const key of keys) {
      const response = await fetch(`${cluster.node(id).url}/v1/kv/${key}?consistency=stale`);
      values.push(`${key}=${response.status === 200 ? ((await response.json()) as { value: string }).value : "(absent)"}`);
    }
    states.push(`${id}: ${values.join(" ")}`);
  }
  const distinct = new Set(states.map((s) => s.slice(s.indexOf(":"))));
  return distinct.size === 1 ? [] : states;
}

if (import.meta.main) {
  const args = process.argv.slice(2);
  const option = (name: string) => (args.includes(`--${name}`) ? args[args.indexOf(`--${name}`) + 1] : undefined);
  const nemesis = (option("nemesis") ?? "mixed") as Nemesis;
  if (!NEMESES.includes(nemesis)) {
    console.error(`--nemesis must be ${NEMESES.join(", ")}, got ${nemesis}`);
    process.exit(2);
  }
  const result = await runJepsen({ seconds: Number(option("time") ?? 60), nemesis, clients: Number(option("clients") ?? 6), keys: Number(option("keys") ?? 3), log: console.log });
  const out = option("out");
  if (out) writeFileSync(out, JSON.stringify({ history: result.history, dropped: result.dropped }, null, 1));
  console.log(`${result.operations} operations (${result.acknowledged} acknowledged writes, ${result.unknown} with unknown outcome), ${result.faults.length} faults (${nemesis})`);
  console.log(result.violations.length === 0 ? "linearizable: every key" : `NOT linearizable:\n${result.violations.join("\n")}`);
  console.log(result.divergence.length === 0 ? "converged: every node holds the same state" : `DIVERGED:\n${result.divergence.join("\n")}`);
  process.exit(result.violations.length === 0 && result.divergence.length === 0 ? 0 : 1);
}
