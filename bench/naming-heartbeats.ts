// The heartbeat load of `npm run bench:naming`, in its own process so its CPU
// is not the nodes': each of N instances sends PUT /v1/naming/heartbeat/...
// once every period, at its own offset in the period (a steady stream, as
// real instances started at random times give), spread over the nodes.
// Prints one JSON line: sent, ok, failed, heartbeats/s, latency p50/p99.
//
//   bun bench/naming-heartbeats.ts --urls http://a,http://b --instances 10000 --period-ms 10000 --seconds 30

import { percentile } from "./benchmarks-file.ts";

const args = process.argv.slice(2);
const option = (name: string, fallback: string) => (args.includes(`--${name}`) ? args[args.indexOf(`--${name}`) + 1]! : fallback);
const urls = option("urls", "http://127.0.0.1:2221").split(",");
const instances = Number(option("instances", "10000"));
const periodMs = Number(option("period-ms", "10000"));
const seconds = Number(option("seconds", "30"));
const service = option("service", "bench");
/** More than this in flight means the cluster is not keeping up: the beat is counted as failed rather than queued without bound. */
const MAX_IN_FLIGHT = 512;

let ok = 0;
let failed = 0;
let inFlight = 0;
const latencies: number[] = [];
const errors = new Map<string, number>();

async function beat(i: number): Promise<void> {
  if (inFlight >= MAX_IN_FLIGHT) {
    failed++;
    errors.set("client backlog", (errors.get("client backlog") ?? 0) + 1);
    return;
  }
  inFlight++;
  const started = performance.now();
  try {
    const response = await fetch(`${urls[i % urls.length]}/v1/naming/heartbeat/${service}/i${i}`, { method: "PUT" });
    await response.arrayBuffer();
    if (response.ok) {
      ok++;
      latencies.push(performance.now() - started);
    } else {
      failed++;
      errors.set(String(response.status), (errors.get(String(response.status)) ?? 0) + 1);
    }
  } catch (error) {
    failed++;
    errors.set(String(error).slice(0, 80), (errors.get(String(error).slice(0, 80)) ?? 0) + 1);
  } finally {
    inFlight--;
  }
}

const start = performance.now();
const end = start + seconds * 1000;
let next = 0; // heartbeats scheduled so far; beat k is instance k % instances at start + k * periodMs / instances
const gap = periodMs / instances;
while (performance.now() < end) {
  const due = Math.floor((performance.now() - start) / gap);
  for (; next <= due; next++) void beat(next % instances);
  await Bun.sleep(5);
}
while (inFlight > 0) await Bun.sleep(10);
const elapsed = (performance.now() - start) / 1000;
latencies.sort((a, b) => a - b);
console.log(JSON.stringify({ sent: next, ok, failed, perSecond: Math.round(ok / elapsed), p50: percentile(latencies, 50), p99: percentile(latencies, 99), errors: Object.fromEntries(errors) }));
