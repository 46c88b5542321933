// npm run bench:naming — the naming plugin's heartbeat workload: 10,000
// instances with a TTL, each renewing every 10 s, against a 3-node cluster of
// real processes on loopback. Heartbeats are sent by a separate process,
// spread over the three nodes (followers forward them to the leader). It
// reports the heartbeats/s handled, the CPU of each node (the leader's is the
// one that matters: it keeps the heartbeats), the Raft entries per second the
// load caused (only health changes are replicated), and whether any instance
// was wrongly expired. Results go into the "## Naming heartbeats" section of
// BENCHMARKS.md.
//
//   bun bench/naming.ts [--instances 10000] [--period-ms 10000] [--seconds 30] [--no-write]

import { readFileSync } from "node:fs";
import { loadavg } from "node:os";
import { resolve } from "node:path";
import { ProcessCluster } from "../test/e2e/process-cluster.ts";
import { machine, writeSection } from "./benchmarks-file.ts";

const args = process.argv.slice(2);
const option = (name: string, fallback: string) => (args.includes(`--${name}`) ? args[args.indexOf(`--${name}`) + 1]! : fallback);
const instances = Number(option("instances", "10000"));
const periodMs = Number(option("period-ms", "10000"));
const seconds = Number(option("seconds", "30"));
const writeResults = !args.includes("--no-write");
const TTL = "30s";
const CLOCK_TICKS = 100;

/** user + system CPU seconds of a process so far (Linux). */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

function rssMiB(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, "utf8").split("\n").find((l) => l.startsWith("VmRSS:"));
  return Math.round(Number(line?.match(/(\d+)/)?.[1] ?? 0) / 1024);
}

interface Window {
  seconds: number;
  cpu: Record<string, number>;
  entriesPerSecond: number;
}

async function measure(cluster: ProcessCluster, ids: string[], leader: string, during: () => Promise<void>): Promise<Window> {
  const pids = Object.fromEntries(ids.map((id) => [id, cluster.node(id).proc!.pid]));
  const cpuBefore = Object.fromEntries(ids.map((id) => [id, cpuSeconds(pids[id]!)]));
  const commitBefore = (await cluster.status(leader)).commitIndex;
  const started = performance.now();
  await during();
  const elapsed = (performance.now() - started) / 1000;
  const commitAfter = (await cluster.status(leader)).commitIndex;
  const cpu = Object.fromEntries(ids.map((id) => [id, (100 * (cpuSeconds(pids[id]!) - cpuBefore[id]!)) / elapsed]));
  return { seconds: elapsed, cpu, entriesPerSecond: (commitAfter - commitBefore) / elapsed };
}

async function registerAll(urls: string[]): Promise<number> {
  const started = performance.now();
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < instances; i = next++) {
      // A registration is idempotent: one refused or of unknown outcome during an election is sent again.
      for (let attempt = 1; ; attempt++) {
        const response = await fetch(`${urls[(i + attempt) % urls.length]}/v1/naming/services/bench/instances/i${i}`, {
          method: "PUT",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ address: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, port: 8080, tags: [i % 10 === 0 ? "v2" : "v1"], ttl: TTL, deregisterAfter: "1h" }),
        });
        if (response.ok) break;
        const text = await response.text();
        if (response.status !== 503 && response.status !== 504) throw new Error(`registering i${i}: ${response.status} ${text}`);
        if (attempt >= 20) throw new Error(`registering i${i}: still ${response.status} after ${attempt} attempts: ${text}`);
        await Bun.sleep(100 * attempt);
      }
    }
  };
  await Promise.all(Array.from({ length: 64 }, worker));
  return instances / ((performance.now() - started) / 1000);
}

async function passing(url: string): Promise<{ instances: number; passing: number }> {
  const body = (await (await fetch(`${url}/v1/naming/services`)).json()) as { services: { name: string; instances: number; passing: number }[] };
  return body.services.find((s) => s.name === "bench") ?? { instances: 0, passing: 0 };
}

const fmt = (n: number, digits = 0) => n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });

async function main(): Promise<void> {
  const loadAtStart = loadavg()[0]!.toFixed(1);
  const cluster = new ProcessCluster();
  try {
    const ids = ["n1", "n2", "n3"];
    for (const id of ids) await cluster.define(id);
    const file = cluster.peersFile(ids, { before: "plugins: [kv, naming]\n" });
    for (const id of ids) await cluster.start(id, {}, ["--config", file]);
    const urls = ids.map((id) => cluster.node(id).url);
    await cluster.leader();
    const registered = await registerAll(urls);
    console.log(`registered ${fmt(instances)} instances at ${fmt(registered)}/s`);
    const leader = await cluster.leader();

    let load!: { sent: number; ok: number; failed: number; perSecond: number; p50: number; p99: number; errors: Record<string, number> };
    const busy = await measure(cluster, ids, leader, async () => {
      const proc = Bun.spawn([process.execPath, resolve(import.meta.dir, "naming-heartbeats.ts"), "--urls", urls.join(","), "--instances", String(instances), "--period-ms", String(periodMs), "--seconds", String(seconds)], {
        stdout: "pipe",
        stderr: "inherit",
      });
      const out = await new Response(proc.stdout).text();
      if ((await proc.exited) !== 0) throw new Error("the heartbeat generator failed");
      load = JSON.parse(out.trim().split("\n").at(-1)!);
    });
    const after = await passing(urls[0]!);
    // Measured after the load, well within the TTL of the last heartbeats, so nothing expires during it.
    const idle = await measure(cluster, ids, leader, () => Bun.sleep(10_000));
    console.log(`idle (TTL sweeps only): leader CPU ${fmt(idle.cpu[leader]!, 1)}%, ${fmt(idle.entriesPerSecond, 2)} entries/s`);
    const stillLeader = (await cluster.leader()) === leader;
    const rss = ids.map((id) => rssMiB(cluster.node(id).proc!.pid));
    const role = (id: string) => (id === leader ? "leader" : "follower");
    console.log(`heartbeats: ${JSON.stringify(load)}`);
    console.log(`under load: CPU ${ids.map((id) => `${id} (${role(id)}) ${fmt(busy.cpu[id]!, 1)}%`).join(", ")}; ${fmt(busy.entriesPerSecond, 2)} entries/s; ${after.passing}/${after.instances} passing`);

    const section = [
      `## Naming heartbeats: ${fmt(instances)} instances renewing every ${periodMs / 1000} s on a 3-node cluster (\`npm run bench:naming\`)`,
      "",
      `Measured ${new Date().toISOString().slice(0, 10)} on ${machine()}; three node processes on loopback, the heartbeat sender a fourth process on the same cores; load average ${loadAtStart} when the run began (other work shared the machine).`,
      `${fmt(instances)} instances of one service, TTL ${TTL}; each sends \`PUT /v1/naming/heartbeat/<service>/<id>\` once per ${periodMs / 1000} s at its own offset, to the three nodes in turn (two thirds through a follower, which forwards it to the leader over HTTP), for ${seconds} s.`,
      "A heartbeat only updates the leader's memory; health changes alone are replicated. Registration went at 64 concurrent clients.",
      "",
      "| | idle (10 s after) | under heartbeats |",
      "|---|---:|---:|",
      `| heartbeats/s handled | 0 | ${fmt(load.perSecond)} (${fmt(load.ok)} ok, ${fmt(load.failed)} failed) |`,
      `| heartbeat latency p50 / p99 ms | | ${fmt(load.p50, 1)} / ${fmt(load.p99, 1)} |`,
      `| leader CPU (% of one core) | ${fmt(idle.cpu[leader]!, 1)} | ${fmt(busy.cpu[leader]!, 1)} |`,
      `| followers' CPU | ${ids.filter((id) => id !== leader).map((id) => fmt(idle.cpu[id]!, 1)).join(", ")} | ${ids.filter((id) => id !== leader).map((id) => fmt(busy.cpu[id]!, 1)).join(", ")} |`,
      `| Raft entries/s | ${fmt(idle.entriesPerSecond, 2)} | ${fmt(busy.entriesPerSecond, 2)} |`,
      "",
      `After the run ${fmt(after.passing)} of ${fmt(after.instances)} instances were passing${stillLeader ? "" : " (the leader changed during the run)"}; node RSS ${rss.join(", ")} MiB. Registration: ${fmt(registered)} instances/s.`,
      `Replicating each heartbeat instead would be ${fmt(load.perSecond)} entries/s, each fsynced on every node.`,
      "",
    ].join("\n");
    console.log(`\n${section}`);
    if (writeResults) writeSection(resolve(import.meta.dir, "../BENCHMARKS.md"), "## Naming heartbeats", section);
    if (load.failed > 0 || after.passing !== instances) process.exitCode = 1;
  } finally {
    await cluster.shutdown();
  }
}

await main();
