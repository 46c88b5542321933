// npm run bench (second part) — what thousands of idle watchers cost: a
// 3-node cluster of real processes, puts at 16 closed-loop clients without
// watchers, then with 5,000 SSE watchers open (each on its own prefix, spread
// over the nodes, held by a separate process), the nodes' memory before and
// after, and how long a change takes to reach its watcher under that load.
// Results go into the "## Watchers:" section of BENCHMARKS.md.
//
//   bun bench/watchers.ts [--watchers 5000] [--seconds 8] [--no-write]

import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { ProcessCluster } from "../test/e2e/process-cluster.ts";
import { machine, percentile, writeSection } from "./benchmarks-file.ts";
import type { LoadResult } from "./load-generator.ts";

const args = process.argv.slice(2);
const option = (name: string) => (args.includes(`--${name}`) ? args[args.indexOf(`--${name}`) + 1] : undefined);
const watchers = Number(option("watchers") ?? 5_000);
const seconds = Number(option("seconds") ?? 8);
const writeResults = !args.includes("--no-write");
const PROBES = 200;

/** Resident memory of a process in MiB (Linux). */
function rssMiB(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, "utf8").split("\n").find((l) => l.startsWith("VmRSS:"));
  return Math.round(Number(line?.match(/(\d+)/)?.[1] ?? 0) / 1024);
}

async function puts(urls: string[]): Promise<LoadResult> {
  const proc = Bun.spawn([process.execPath, resolve(import.meta.dir, "load-generator.ts"), "--system", "pontoon", "--op", "put", "--urls", urls.join(","), "--clients", "16", "--seconds", String(seconds)], { stdout: "pipe", stderr: "inherit" });
  const out = await new Response(proc.stdout).text();
  if ((await proc.exited) !== 0) throw new Error("the load generator failed");
  return JSON.parse(out.trim().split("\n").at(-1)!) as LoadResult;
}

async function main(): Promise<void> {
  const cluster = new ProcessCluster();
  let clients: ReturnType<typeof Bun.spawn> | undefined;
  try {
    const ids = ["n1", "n2", "n3"];
    // Every watcher comes from this machine's one address: lift the per-client cap.
    await cluster.startPeers(ids, "limits:\n  watchersPerClient: 0\n");
    const urls = ids.map((id) => cluster.node(id).url);
    const memory = () => ids.map((id) => rssMiB(cluster.node(id).proc!.pid));

    const memoryBefore = memory();
    const without = await puts(urls);
    console.log(`puts without watchers: ${without.perSecond}/s p99 ${without.p99.toFixed(1)} ms; node RSS ${memoryBefore.join(", ")} MiB`);

    const opening = performance.now();
    clients = Bun.spawn([process.execPath, resolve(import.meta.dir, "watch-clients.ts"), "--urls", urls.join(","), "--count", String(watchers)], {
      stdout: "pipe",
      stderr: "inherit",
      env: { ...process.env, BUN_CONFIG_MAX_HTTP_REQUESTS: String(watchers + 1_000) },
    });
    const latencies: number[] = [];
    let ready!: () => void;
    const isReady = new Promise<void>((r) => (ready = r));
    void (async () => {
      const decoder = new TextDecoder();
      let buffer = "";
      for await (const chunk of clients!.stdout as ReadableStream<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        for (let nl = buffer.indexOf("\n"); nl >= 0; nl = buffer.indexOf("\n")) {
          const line = buffer.slice(0, nl);
          buffer = buffer.slice(nl + 1);
          if (line === "ready") ready();
          else latencies.push((JSON.parse(line) as { latencyMs: number }).latencyMs);
        }
      }
    })();
    await Promise.race([isReady, clients.exited.then((code) => Promise.reject(new Error(`the watchers exited with ${code}`)))]);
    const openSeconds = (performance.now() - opening) / 1000;
    const memoryWith = memory();
    const withWatchers = await puts(urls);
    console.log(`puts with ${watchers} watchers: ${withWatchers.perSecond}/s p99 ${withWatchers.p99.toFixed(1)} ms; node RSS ${memoryWith.join(", ")} MiB (opened in ${openSeconds.toFixed(1)} s)`);

    // Probes: a write to a random watcher's prefix, carrying its timestamp; the watcher reports the delay.
    const writer = urls[0]!;
    for (let p = 0; p < PROBES; p++) {
      const i = Math.floor(Math.random() * watchers);
      const response = await fetch(`${writer}/v1/kv/w/${i}/probe`, { method: "PUT", body: String(performance.timeOrigin + performance.now()) });
      if (!response.ok) throw new Error(`probe write failed: ${response.status}`);
    }
    const deadline = Date.now() + 10_000;
    while (latencies.length < PROBES && Date.now() < deadline) await Bun.sleep(20);
    latencies.sort((a, b) => a - b);
    console.log(`probes delivered: ${latencies.length}/${PROBES}, p50 ${percentile(latencies, 50).toFixed(1)} ms, p99 ${percentile(latencies, 99).toFixed(1)} ms`);

    const section = [
      `## Watchers: ${watchers.toLocaleString("en-US")} open SSE watches on a 3-node cluster (\`npm run bench\`)`,
      "",
      `Measured ${new Date().toISOString().slice(0, 10)} on ${machine()}; puts at 16 closed-loop clients spread over the three nodes, ${seconds} s each;`,
      `${watchers.toLocaleString("en-US")} watchers, each on its own prefix (w/<i>/), spread over the nodes and held open by a separate process on the same 2 cores.`,
      "Delivery is from a probe write's timestamp (taken by the writer just before its PUT) to its arrival at the watcher, through a follower for two thirds of them.",
      "",
      "| | no watchers | with watchers |",
      "|---|---:|---:|",
      `| puts/s | ${without.perSecond.toLocaleString("en-US")} | ${withWatchers.perSecond.toLocaleString("en-US")} |`,
      `| put p99 ms | ${without.p99.toFixed(1)} | ${withWatchers.p99.toFixed(1)} |`,
      `| node RSS MiB (n1, n2, n3) | ${memoryBefore.join(", ")} | ${memoryWith.join(", ")} |`,
      "",
      `Opening the ${watchers.toLocaleString("en-US")} watches took ${openSeconds.toFixed(1)} s. ${latencies.length} of ${PROBES} probe writes reached their watcher: p50 ${percentile(latencies, 50).toFixed(1)} ms, p99 ${percentile(latencies, 99).toFixed(1)} ms.`,
      "",
    ].join("\n");
    console.log(`\n${section}`);
    if (writeResults) writeSection(resolve(import.meta.dir, "../BENCHMARKS.md"), "## Watchers:", section);
    if (latencies.length < PROBES) process.exitCode = 1;
  } finally {
    clients?.kill();
    await cluster.shutdown();
  }
}

await main();
