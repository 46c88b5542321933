// The HTTP load generator of `npm run bench`. It runs as its own process so
// that its CPU is not counted against the server it measures (on a 2-core
// machine it still shares the cores, and both systems pay that equally).
//
//   bun bench/load-generator.ts --system pontoon|etcd --op put|get \
//     --urls http://a,http://b --clients 16 --seconds 10 [--value-bytes 256] [--keys 1000] [--timeout-ms 10000]
//
// Closed loop: each client sends its next request only once the previous one
// is answered, so ops/s is what the clients achieved, not an offered rate.
// Client i talks to urls[i % urls.length], as clients spread over members by
// a load balancer would. Every request has a deadline (--timeout-ms), so one
// hung request cannot stall its client; timeouts count as errors. Only
// requests that finish within the measured window count. Prints a line when
// the window starts and one when it ends, then one JSON line: LoadResult.

import { percentile } from "./benchmarks-file.ts";

export interface LoadResult {
  system: string;
  op: string;
  clients: number;
  seconds: number;
  ok: number;
  /** Failed requests, timeouts included. */
  errors: number;
  timeouts: number;
  firstError: string | null;
  perSecond: number;
  p50: number;
  p99: number;
  max: number;
}

type Request = (url: string, key: string, signal: AbortSignal) => Promise<Response>;

/** Printed when the measured window starts and ends, before the result line. */
export const WINDOW_START = "window start";
export const WINDOW_END = "window end";

function flag(name: string, fallback?: string): string {
  const i = process.argv.indexOf(`--${name}`);
  const value = i >= 0 ? process.argv[i + 1] : fallback;
  if (value === undefined) throw new Error(`missing --${name}`);
  return value;
}

const base64 = (s: string | Uint8Array) => Buffer.from(s).toString("base64");

/** One request per system and op, each the linearizable kind (the default of both). */
function requestFor(system: string, op: string, value: Uint8Array): Request {
  if (system === "pontoon" && op === "put") return (url, key, signal) => fetch(`${url}/v1/kv/${key}`, { method: "PUT", body: value, signal });
  if (system === "pontoon" && op === "get") return (url, key, signal) => fetch(`${url}/v1/kv/${key}`, { signal });
  // etcd's gRPC gateway: the same operations as JSON, keys and values base64.
  const encoded = base64(value);
  if (system === "etcd" && op === "put") {
    return (url, key, signal) => fetch(`${url}/v3/kv/put`, { method: "POST", body: JSON.stringify({ key: base64(key), value: encoded }), signal });
  }
  if (system === "etcd" && op === "get") {
    return (url, key, signal) => fetch(`${url}/v3/kv/range`, { method: "POST", body: JSON.stringify({ key: base64(key) }), signal });
  }
  throw new Error(`unknown --system ${system} / --op ${op}`);
}

async function main(): Promise<void> {
  const system = flag("system");
  const op = flag("op");
  const urls = flag("urls").split(",");
  const clients = Number(flag("clients"));
  const seconds = Number(flag("seconds", "10"));
  const keys = Number(flag("keys", "1000"));
  const value = new Uint8Array(Number(flag("value-bytes", "256"))).fill(120);
  const timeoutMs = Number(flag("timeout-ms", "10000"));
  const request = requestFor(system, op, value);

  const latencies: number[] = [];
  let errors = 0;
  let timeouts = 0;
  let firstError: string | null = null;
  const warmupEnd = performance.now() + 1000;
  const end = warmupEnd + seconds * 1000;
  // Lines the parent may read as they come, to measure the servers' CPU over the same window.
  setTimeout(() => console.log(WINDOW_START), warmupEnd - performance.now());
  setTimeout(() => console.log(WINDOW_END), end - performance.now());
  const worker = async (w: number) => {
    const url = urls[w % urls.length]!;
    for (let i = w; performance.now() < end; i += clients) {
      const t0 = performance.now();
      let failure: string | null = null;
      let timedOut = false;
      try {
        // The signal also bounds reading the body.
        const response = await request(url, `bench/${i % keys}`, AbortSignal.timeout(timeoutMs));
        const body = await response.text();
        if (!response.ok) failure = `${response.status} ${body.slice(0, 200)}`;
      } catch (error) {
        timedOut = error instanceof Error && error.name === "TimeoutError";
        failure = timedOut ? `timed out after ${timeoutMs} ms` : String(error);
      }
      const t1 = performance.now();
      if (t1 < warmupEnd) continue;
      if (failure) {
        // Failures are counted even when they end after the window: a request hung until then is one.
        errors++;
        if (timedOut) timeouts++;
        firstError ??= failure;
      } else if (t1 <= end) {
        // Throughput and latency count only the answers received within the measured window.
        latencies.push(t1 - t0);
      }
    }
  };
  await Promise.all(Array.from({ length: clients }, (_, w) => worker(w)));
  latencies.sort((a, b) => a - b);
  const result: LoadResult = {
    system,
    op,
    clients,
    seconds,
    ok: latencies.length,
    errors,
    timeouts,
    firstError,
    perSecond: Math.round(latencies.length / seconds),
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    max: latencies.at(-1) ?? 0,
  };
  console.log(JSON.stringify(result));
}

if (import.meta.main) await main();
