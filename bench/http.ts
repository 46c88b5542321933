// npm run bench — the HTTP API as users meet it: a 3-node Pontoon cluster of
// real processes (SQLite files, Raft over TCP loopback), driven by a separate
// load-generator process with 1, 16 and 64 closed-loop clients (each waits
// for its answer before sending the next request) spread over the three
// members, 256-byte values, puts then linearizable gets. When Debian's etcd
// is installed (`apt-get install -y etcd-server`), the same load runs against
// a 3-node etcd cluster through its v3 JSON gateway, for comparison.
// Results go into the "## HTTP:" section of BENCHMARKS.md.
//
//   bun bench/http.ts [--seconds 10] [--clients 1,16,64] [--no-etcd] [--no-write]

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { ProcessCluster, freePort, waitUntil } from "../test/e2e/process-cluster.ts";
import { machine, writeSection } from "./benchmarks-file.ts";
import type { LoadResult } from "./load-generator.ts";

const args = process.argv.slice(2);
const option = (name: string) => (args.includes(`--${name}`) ? args[args.indexOf(`--${name}`) + 1] : undefined);
const seconds = Number(option("seconds") ?? 10);
const clientCounts = (option("clients") ?? "1,16,64").split(",").map(Number);
const writeResults = !args.includes("--no-write");
const withEtcd = !args.includes("--no-etcd");
const ops = ["put", "get"] as const;

interface SystemResults {
  system: string;
  version: string;
  results: LoadResult[];
}

async function load(system: string, op: string, urls: string[], clients: number): Promise<LoadResult> {
  const proc = Bun.spawn(
    [process.execPath, resolve(import.meta.dir, "load-generator.ts"), "--system", system, "--op", op, "--urls", urls.join(","), "--clients", String(clients), "--seconds", String(seconds)],
    { stdout: "pipe", stderr: "inherit" },
  );
  const out = await new Response(proc.stdout).text();
  if ((await proc.exited) !== 0) throw new Error(`load generator failed for ${system} ${op} ${clients}`);
  const result = JSON.parse(out.trim().split("\n").at(-1)!) as LoadResult;
  const timeouts = result.timeouts ? `${result.timeouts} timeouts; ` : "";
  const errors = result.errors ? `, ${result.errors} errors (${timeouts}first: ${result.firstError})` : "";
  console.log(`${system} ${op} ${clients} clients: ${result.perSecond}/s p50 ${result.p50.toFixed(2)} ms p99 ${result.p99.toFixed(2)} ms${errors}`);
  return result;
}

async function runAll(system: string, urls: string[]): Promise<LoadResult[]> {
  const results: LoadResult[] = [];
  // Puts first: they also create the keys the gets read.
  for (const op of ops) for (const clients of clientCounts) results.push(await load(system, op, urls, clients));
  return results;
}

async function benchPontoon(): Promise<SystemResults> {
  const cluster = new ProcessCluster();
  try {
    const ids = ["n1", "n2", "n3"];
    await cluster.startPeers(ids);
    const results = await runAll("pontoon", ids.map((id) => cluster.node(id).url));
    // The same top load sent to the leader alone: what forwarding costs. Leadership
    // may have moved during the rows above, so look the leader up now.
    const leader = await cluster.leader();
    const direct = await load("pontoon", "put", [cluster.node(leader).url], Math.max(...clientCounts));
    results.push({ ...direct, op: "put-leader" });
    return { system: "Pontoon", version: "this commit", results };
  } finally {
    await cluster.shutdown();
  }
}

async function benchEtcd(): Promise<SystemResults | null> {
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
  try {
    const urls = members.map((m) => `http://127.0.0.1:${m.client}`);
    for (const url of urls) {
      await waitUntil(`etcd at ${url} healthy`, async () => {
        const health = (await fetch(`${url}/health`, { signal: AbortSignal.timeout(2_000) }).then((r) => r.json()).catch(() => null)) as { health?: string } | null;
        return health?.health === "true" || undefined;
      }, 30_000);
    }
    return { system: "etcd", version, results: await runAll("etcd", urls) };
  } finally {
    for (const p of procs) p.kill("SIGKILL");
    await Promise.all(procs.map((p) => p.exited));
    rmSync(root, { recursive: true, force: true });
  }
}

function find(r: SystemResults | null, op: string, clients: number): LoadResult | undefined {
  return r?.results.find((x) => x.op === op && x.clients === clients);
}

function cells(r: LoadResult | undefined): string {
  if (!r) return "| – | – | – ";
  const errors = r.errors ? ` (${r.errors} errors)` : "";
  return `| ${r.perSecond.toLocaleString("en-US")}${errors} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} `;
}

function section(pontoon: SystemResults, etcd: SystemResults | null): string {
  const lines = [
    "## HTTP: 3 node processes, kv API over loopback (`npm run bench`)",
    "",
    `Measured ${new Date().toISOString().slice(0, 10)} on ${machine()}; ${seconds} s per row after 1 s warm-up;`,
    "256-byte values over 1,000 keys; clients spread evenly over the three members (followers forward to the leader);",
    "one separate load-generator process with keep-alive connections, on the same 2 cores as the servers.",
    "Clients are closed-loop (each sends its next request only once the previous one is answered): ops/s is the rate they achieved, not an offered (open-loop) rate.",
    "Puts return once committed and applied; gets are linearizable (Pontoon's default; etcd's default, through its v3 JSON gateway).",
    etcd ? `etcd: ${etcd.version} from Debian, default settings.` : "etcd was not installed for this run: no comparison.",
    "",
  ];
  for (const op of ops) {
    lines.push(`${op === "put" ? "Puts" : "Linearizable gets"}:`, "");
    lines.push("| clients | Pontoon ops/s | p50 ms | p99 ms | etcd ops/s | p50 ms | p99 ms |", "|---:|---:|---:|---:|---:|---:|---:|");
    for (const clients of clientCounts) lines.push(`| ${clients} ${cells(find(pontoon, op, clients))}${cells(find(etcd, op, clients))}|`);
    lines.push("");
  }
  const top = Math.max(...clientCounts);
  const puts = find(pontoon, "put", top);
  const gets = find(pontoon, "get", top);
  const etcdPuts = find(etcd, "put", top);
  const direct = find(pontoon, "put-leader", top);
  if (direct) {
    lines.push(`Pontoon puts with all ${top} clients on the leader (no forwarding): ${direct.perSecond.toLocaleString("en-US")}/s, p50 ${direct.p50.toFixed(2)} ms, p99 ${direct.p99.toFixed(2)} ms.`, "");
  }
  lines.push("Targets (issue 3), at " + top + " clients:");
  if (puts && etcdPuts) {
    lines.push(`- puts/s at least etcd's: ${puts.perSecond.toLocaleString("en-US")} vs ${etcdPuts.perSecond.toLocaleString("en-US")} (${puts.perSecond >= etcdPuts.perSecond ? "met" : "NOT met"})`);
  }
  if (puts && gets) {
    lines.push(`- linearizable gets/s at least 2× puts/s: ${gets.perSecond.toLocaleString("en-US")} vs 2 × ${puts.perSecond.toLocaleString("en-US")} (${gets.perSecond >= 2 * puts.perSecond ? "met" : "NOT met"})`);
  }
  return lines.join("\n");
}

const pontoon = await benchPontoon();
const etcd = withEtcd ? await benchEtcd() : null;
const text = section(pontoon, etcd);
console.log("\n" + text);
if (writeResults) writeSection(resolve(import.meta.dir, "../BENCHMARKS.md"), "## HTTP:", text);
