// npm run bench — the HTTP API as users meet it: a 3-node Pontoon cluster of
// real processes (SQLite files, Raft over TCP loopback), driven by a separate
// load-generator process with 1, 16 and 64 closed-loop clients (each waits
// for its answer before sending the next request) spread over the three
// members, 256-byte values, puts then linearizable gets. When Debian's etcd
// is installed (`apt-get install -y etcd-server`), the same load runs against
// a 3-node etcd cluster through its v3 JSON gateway, for comparison.
//
// Both clusters run side by side and each row runs on Pontoon and then at
// once on etcd, so a slow spell of a shared machine falls on both. The
// top-load puts, the row the target is about, run --rounds times (default 3)
// and report the median round. Each row also gives the servers' CPU per
// operation (from /proc, the load generator excluded): a figure a noisy
// neighbour moves far less than ops/s.
// Results go into the "## HTTP:" section of BENCHMARKS.md.
//
//   bun bench/http.ts [--seconds 10] [--clients 1,16,64] [--rounds 3] [--no-etcd] [--no-write]

import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { ProcessCluster, freePort, waitUntil } from "../test/e2e/process-cluster.ts";
import { machine, writeSection } from "./benchmarks-file.ts";
import { WINDOW_END, WINDOW_START, type LoadResult } from "./load-generator.ts";

const args = process.argv.slice(2);
const option = (name: string) => (args.includes(`--${name}`) ? args[args.indexOf(`--${name}`) + 1] : undefined);
const seconds = Number(option("seconds") ?? 10);
const clientCounts = (option("clients") ?? "1,16,64").split(",").map(Number);
const rounds = Math.max(1, Number(option("rounds") ?? 3));
const writeResults = !args.includes("--no-write");
const withEtcd = !args.includes("--no-etcd");
const ops = ["put", "get"] as const;

/** A running cluster the load generator can be pointed at. */
interface Target {
  system: "pontoon" | "etcd";
  urls: string[];
  /** The server processes, whose CPU each row measures. */
  pids: number[];
}

/** One row's result, with the servers' CPU per operation over the measured window (null where /proc is missing). */
interface Row extends LoadResult {
  cpuUsPerOp: number | null;
}

interface SystemResults {
  system: string;
  version: string;
  /** Per op and client count, every round run (one, or --rounds for the top-load puts). */
  rows: Map<string, Row[]>;
}

const rowKey = (op: string, clients: number) => `${op}/${clients}`;

/** CPU time (user + system, all threads) a process has used, in microseconds; null without /proc. */
function cpuMicros(pid: number): number | null {
  const file = `/proc/${pid}/stat`;
  if (!existsSync(file)) return null;
  // Fields after the command name (which may hold spaces), from field 3: utime is 14, stime 15, in clock ticks (100 per second on Linux).
  const fields = readFileSync(file, "utf8").split(") ")[1]!.split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
}

function totalCpu(pids: number[]): number | null {
  let sum = 0;
  for (const pid of pids) {
    const micros = cpuMicros(pid);
    if (micros === null) return null;
    sum += micros;
  }
  return sum;
}

async function load(target: Target, op: string, clients: number, urls = target.urls): Promise<Row> {
  const proc = Bun.spawn(
    [process.execPath, resolve(import.meta.dir, "load-generator.ts"), "--system", target.system, "--op", op, "--urls", urls.join(","), "--clients", String(clients), "--seconds", String(seconds)],
    { stdout: "pipe", stderr: "inherit" },
  );
  // The servers' CPU between the generator's window marks: warm-up and start-up left out.
  let cpuAtStart: number | null = null;
  let cpuAtEnd: number | null = null;
  let last = "";
  const decoder = new TextDecoder();
  let pending = "";
  for await (const chunk of proc.stdout) {
    pending += decoder.decode(chunk, { stream: true });
    const lines = pending.split("\n");
    pending = lines.pop()!;
    for (const line of lines) {
      if (line === WINDOW_START) cpuAtStart = totalCpu(target.pids);
      else if (line === WINDOW_END) cpuAtEnd = totalCpu(target.pids);
      else if (line.trim()) last = line;
    }
  }
  if (pending.trim()) last = pending;
  if ((await proc.exited) !== 0) throw new Error(`load generator failed for ${target.system} ${op} ${clients}`);
  const result = JSON.parse(last) as LoadResult;
  const cpuUsPerOp = cpuAtStart !== null && cpuAtEnd !== null && result.ok > 0 ? (cpuAtEnd - cpuAtStart) / result.ok : null;
  const timeouts = result.timeouts ? `${result.timeouts} timeouts; ` : "";
  const errors = result.errors ? `, ${result.errors} errors (${timeouts}first: ${result.firstError})` : "";
  const cpu = cpuUsPerOp === null ? "" : `, servers' CPU ${Math.round(cpuUsPerOp)} µs/op`;
  console.log(`${target.system} ${op} ${clients} clients: ${result.perSecond}/s p50 ${result.p50.toFixed(2)} ms p99 ${result.p99.toFixed(2)} ms${cpu}${errors}`);
  return { ...result, cpuUsPerOp };
}

async function startPontoon(cluster: ProcessCluster): Promise<Target> {
  const ids = ["n1", "n2", "n3"];
  await cluster.startPeers(ids);
  return { system: "pontoon", urls: ids.map((id) => cluster.node(id).url), pids: ids.map((id) => cluster.node(id).proc!.pid) };
}

interface EtcdCluster {
  target: Target;
  version: string;
  stop(): Promise<void>;
}

async function startEtcd(): Promise<EtcdCluster | null> {
  const etcd = Bun.which("etcd");
  if (!etcd) {
    console.log("etcd is not installed (apt-get install -y etcd-server): no comparison");
    return null;
  }
  const version = (await new Response(Bun.spawn([etcd, "--version"]).stdout).text()).split("\n")[0]!.replace("etcd Version: ", "");
  const root = mkdtempSync(join(tmpdir(), "pontoon-bench-etcd-"));
  const members = [];
  for (const name of ["e1", "e2", "e3"]) members.push({ name, client: await freePort(), peer: await freePort() });
  const initialCluster = members.map((m) => `${m.name}=http://127.0.0.1:${m.peer}`).join(",");
  const procs = members.map((m) =>
    Bun.spawn(
      [
        etcd,
        "--name", m.name,
        "--data-dir", join(root, m.name),
        "--listen-client-urls", `http://127.0.0.1:${m.client}`,
        "--advertise-client-urls", `http://127.0.0.1:${m.client}`,
        "--listen-peer-urls", `http://127.0.0.1:${m.peer}`,
        "--initial-advertise-peer-urls", `http://127.0.0.1:${m.peer}`,
        "--initial-cluster", initialCluster,
        "--initial-cluster-state", "new",
        "--initial-cluster-token", "pontoon-bench",
      ],
      { stdout: Bun.file(join(root, `${m.name}.log`)), stderr: Bun.file(join(root, `${m.name}.err.log`)) },
    ),
  );
  const stop = async () => {
    for (const p of procs) p.kill("SIGKILL");
    await Promise.all(procs.map((p) => p.exited));
    rmSync(root, { recursive: true, force: true });
  };
  try {
    const urls = members.map((m) => `http://127.0.0.1:${m.client}`);
    for (const url of urls) {
      await waitUntil(`etcd at ${url} healthy`, async () => {
        const health = (await fetch(`${url}/health`, { signal: AbortSignal.timeout(2_000) }).then((r) => r.json()).catch(() => null)) as { health?: string } | null;
        return health?.health === "true" || undefined;
      }, 30_000);
    }
    return { target: { system: "etcd", urls, pids: procs.map((p) => p.pid) }, version, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** The round with the median ops/s (the lower middle of an even count). */
function median(runs: Row[]): Row {
  const sorted = [...runs].sort((a, b) => a.perSecond - b.perSecond);
  return sorted[Math.floor((sorted.length - 1) / 2)]!;
}

function find(r: SystemResults | null, op: string, clients: number): Row | undefined {
  const runs = r?.rows.get(rowKey(op, clients));
  return runs && runs.length > 0 ? median(runs) : undefined;
}

const number = (n: number) => n.toLocaleString("en-US");

function cells(r: Row | undefined): string {
  if (!r) return "| – | – | – | – ";
  const errors = r.errors ? ` (${r.errors} errors)` : "";
  const cpu = r.cpuUsPerOp === null ? "–" : number(Math.round(r.cpuUsPerOp));
  return `| ${number(r.perSecond)}${errors} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} | ${cpu} `;
}

function section(pontoon: SystemResults, etcd: SystemResults | null): string {
  const top = Math.max(...clientCounts);
  const lines = [
    "## HTTP: 3 node processes, kv API over loopback (`npm run bench`)",
    "",
    `Measured ${new Date().toISOString().slice(0, 10)} on ${machine()}; ${seconds} s per row after 1 s warm-up;`,
    "256-byte values over 1,000 keys; clients spread evenly over the three members (followers forward to the leader);",
    "one separate load-generator process with keep-alive connections, on the same 2 cores as the servers.",
    "Clients are closed-loop (each sends its next request only once the previous one is answered): ops/s is the rate they achieved, not an offered (open-loop) rate.",
    "Puts return once committed and applied; gets are linearizable (Pontoon's default; etcd's default, through its v3 JSON gateway).",
    etcd ? `etcd: ${etcd.version} from Debian, default settings, running beside Pontoon; each row ran on Pontoon and then at once on etcd.` : "etcd was not installed for this run: no comparison.",
    `CPU µs/op: the three servers' CPU time (user and system, all threads, from /proc) over the measured window, per operation answered; the load generator is not counted. The ${top}-client puts ran ${rounds} time${rounds === 1 ? "" : "s"} on each system, and the table shows the median round.`,
    "",
  ];
  for (const op of ops) {
    lines.push(`${op === "put" ? "Puts" : "Linearizable gets"}:`, "");
    lines.push("| clients | Pontoon ops/s | p50 ms | p99 ms | CPU µs/op | etcd ops/s | p50 ms | p99 ms | CPU µs/op |", "|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (const clients of clientCounts) lines.push(`| ${clients} ${cells(find(pontoon, op, clients))}${cells(find(etcd, op, clients))}|`);
    lines.push("");
  }
  const puts = find(pontoon, "put", top);
  const gets = find(pontoon, "get", top);
  const etcdPuts = find(etcd, "put", top);
  const direct = find(pontoon, "put-leader", top);
  const ourRounds = pontoon.rows.get(rowKey("put", top)) ?? [];
  const theirRounds = etcd?.rows.get(rowKey("put", top)) ?? [];
  if (ourRounds.length > 1 && theirRounds.length === ourRounds.length) {
    const pairs = ourRounds.map((r, i) => `${number(r.perSecond)} vs ${number(theirRounds[i]!.perSecond)} (${Math.round((100 * r.perSecond) / theirRounds[i]!.perSecond)}%)`);
    lines.push(`${top}-client puts round by round, Pontoon vs etcd: ${pairs.join("; ")}.`, "");
  }
  if (direct) {
    lines.push(`Pontoon puts with all ${top} clients on the leader (no forwarding): ${number(direct.perSecond)}/s, p50 ${direct.p50.toFixed(2)} ms, p99 ${direct.p99.toFixed(2)} ms.`, "");
  }
  lines.push("Targets (issue 3), at " + top + " clients:");
  if (puts && etcdPuts) {
    lines.push(`- puts/s at least etcd's (median rounds): ${number(puts.perSecond)} vs ${number(etcdPuts.perSecond)} (${puts.perSecond >= etcdPuts.perSecond ? "met" : "NOT met"})`);
  }
  if (puts && gets) {
    lines.push(`- linearizable gets/s at least 2× puts/s: ${number(gets.perSecond)} vs 2 × ${number(puts.perSecond)} (${gets.perSecond >= 2 * puts.perSecond ? "met" : "NOT met"})`);
  }
  return lines.join("\n");
}

function record(results: SystemResults, row: Row, op = row.op): void {
  const key = rowKey(op, row.clients);
  results.rows.set(key, [...(results.rows.get(key) ?? []), row]);
}

const cluster = new ProcessCluster();
let etcdCluster: EtcdCluster | null = null;
try {
  const ours = await startPontoon(cluster);
  etcdCluster = withEtcd ? await startEtcd() : null;
  const pontoon: SystemResults = { system: "Pontoon", version: "this commit", rows: new Map() };
  const etcd: SystemResults | null = etcdCluster ? { system: "etcd", version: etcdCluster.version, rows: new Map() } : null;
  const top = Math.max(...clientCounts);
  // Puts first: they also create the keys the gets read.
  for (const op of ops) {
    for (const clients of clientCounts) {
      for (let round = 0; round < (op === "put" && clients === top ? rounds : 1); round++) {
        record(pontoon, await load(ours, op, clients));
        if (etcdCluster && etcd) record(etcd, await load(etcdCluster.target, op, clients));
      }
    }
  }
  // The same top load sent to the leader alone: what forwarding costs. Leadership
  // may have moved during the rows above, so look the leader up now.
  const leader = await cluster.leader();
  record(pontoon, await load(ours, "put", top, [cluster.node(leader).url]), "put-leader");
  const text = section(pontoon, etcd);
  console.log("\n" + text);
  if (writeResults) writeSection(resolve(import.meta.dir, "../BENCHMARKS.md"), "## HTTP:", text);
} finally {
  await etcdCluster?.stop();
  await cluster.shutdown();
}
