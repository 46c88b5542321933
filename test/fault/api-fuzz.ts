// Property runs of the HTTP API against one real node process: hostile
// requests from api-arbitraries.ts, each checked for a well-formed answer
// (2xx/3xx, or 4xx in the one error format), never a 5xx, a dropped
// connection or a dead node; and every rejected request must leave the data
// set (each key's value and modifyIndex) and the applied index as they were.
//
//   npm run fuzz:api -- --runs 20000 [--seed 42] [--token T (the node requires it)]
//
// api-properties.test.ts runs a short version in `npm test`.

import fc from "fast-check";
import { ProcessCluster, waitUntil, type ProcessNode } from "../e2e/process-cluster.ts";
import { describeRequest, requestArbitrary, routesOf, type FuzzRequest, type RouteSpec } from "./api-arbitraries.ts";
import { rawRequest, type RawOutcome } from "./raw-http.ts";

export const NODE_ID = "fuzz-target-1";
const REQUEST_TIMEOUT_MS = 10_000;
/** Codes decided while applying the entry: the command went through the log, so the applied index moves though nothing changed. */
const DECIDED_IN_APPLY = new Set(["CAS_FAILED", "VERSION_NOT_FOUND"]);
const SEEDED: Record<string, string> = { "config/app": '{"port": 80}', "fuzz/seed/1": "one", "fuzz/seed/2": "two", "x/y/z": "deep", "\u00e9t\u00e9/\u{1F600}": "unicode" };

export interface FuzzTarget {
  cluster: ProcessCluster;
  node: ProcessNode;
  routes: RouteSpec[];
  /** PONTOON_TOKEN, when the node requires one; the harness's own calls carry it. */
  token?: string;
  stop(): Promise<void>;
}

/** fetch with the target's token. */
function call(node: ProcessNode, token: string | undefined, path: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  if (token) headers.set("authorization", `Bearer ${token}`);
  return fetch(`${node.url}${path}`, { ...init, headers });
}

/** One node process (requiring `token`, if given) with a few keys stored, settled (nothing left to apply), and its routes from /openapi. */
export async function startTarget(options: { token?: string } = {}): Promise<FuzzTarget> {
  const cluster = new ProcessCluster();
  try {
    await cluster.define(NODE_ID);
    const node = await cluster.start(NODE_ID, options.token ? { PONTOON_TOKEN: options.token } : {});
    await waitUntil("the node to lead", async () => ((await (await call(node, options.token, "/v1/cluster")).json()) as { state?: string }).state === "Leader" || undefined);
    for (const [key, value] of Object.entries(SEEDED)) {
      const response = await call(node, options.token, `/v1/kv/${key.split("/").map(encodeURIComponent).join("/")}`, { method: "PUT", body: value });
      if (!response.ok) throw new Error(`seeding ${key}: ${response.status} ${await response.text()}`);
    }
    const routes = routesOf((await (await call(node, options.token, "/openapi")).json()) as Parameters<typeof routesOf>[0]);
    const target: FuzzTarget = { cluster, node, routes, token: options.token, stop: () => cluster.shutdown() };
    await settled(target);
    return target;
  } catch (error) {
    await cluster.shutdown();
    throw error;
  }
}

interface DataSet {
  /** key -> modifyIndex and value. */
  entries: Map<string, string>;
  applied: number;
}

async function dataSet({ node, token }: FuzzTarget): Promise<DataSet> {
  const list = (await (await call(node, token, "/v1/kv?prefix=")).json()) as { items: { key: string; value: string; modifyIndex: number }[] };
  const status = (await (await call(node, token, "/v1/cluster")).json()) as { appliedIndex: number };
  return { entries: new Map(list.items.map((e) => [e.key, `${e.modifyIndex}:${e.value}`])), applied: status.appliedIndex };
}

/** Waits until the applied index stops moving for `quietMs` (the startup's own entries are in). */
async function settled(node: FuzzTarget, quietMs = 250): Promise<void> {
  let last = -1;
  for (let i = 0; i < 200; i++) {
    const { applied } = await dataSet(node);
    if (applied === last) return;
    last = applied;
    await Bun.sleep(quietMs);
  }
  throw new Error("the node's applied index kept moving with no client writing");
}

/** What is wrong with an answer, or null. */
export function answerProblem(request: FuzzRequest, outcome: RawOutcome): string | null {
  if (outcome.kind === "dropped") return `the connection was closed without an answer (${outcome.received} bytes received${outcome.error ? `, ${outcome.error}` : ""})`;
  if (outcome.kind === "stream") return outcome.status === 200 ? null : `an event stream with status ${outcome.status}`;
  if (outcome.kind === "timeout") {
    // A blocking query (?index=N) may rightly wait; anything else must answer.
    return /[?&]index=/.test(request.target) && outcome.head === null ? null : `no complete answer within ${REQUEST_TIMEOUT_MS} ms`;
  }
  const { status, headers, body } = outcome.response;
  // Near Bun's head limit the count of bytes is approximate: either Bun refuses it bare, or it reaches us and is checked as usual.
  if (request.wireInvalid && status >= 400 && status < 500 && !(headers.get("content-type") ?? "").startsWith("application/json")) return null;
  if (status >= 500) return `a ${status}: ${new TextDecoder().decode(body).slice(0, 500)}`;
  if (status < 200) return `an interim status ${status} as the final answer`;
  if (status < 400 || request.method === "HEAD") return null;
  if (!(headers.get("content-type") ?? "").startsWith("application/json")) return `a ${status} with content-type ${headers.get("content-type")} (body ${JSON.stringify(new TextDecoder().decode(body).slice(0, 200))})`;
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder().decode(body));
  } catch {
    return `a ${status} whose body is not JSON: ${JSON.stringify(new TextDecoder().decode(body).slice(0, 200))}`;
  }
  const error = (parsed as { error?: { code?: unknown; message?: unknown } }).error;
  if (typeof error?.code !== "string" || !/^[A-Z][A-Z0-9_]*$/.test(error.code)) return `a ${status} without an error.code in SNAKE_CASE: ${JSON.stringify(parsed).slice(0, 300)}`;
  if (typeof error.message !== "string" || error.message.length === 0) return `a ${status} without an error.message: ${JSON.stringify(parsed).slice(0, 300)}`;
  return null;
}

function diff(before: DataSet, after: DataSet, appliedMayMove: boolean): string | null {
  const changes: string[] = [];
  for (const [key, v] of before.entries) if (after.entries.get(key) !== v) changes.push(`${JSON.stringify(key)}: ${v} -> ${after.entries.get(key) ?? "(gone)"}`);
  for (const [key, v] of after.entries) if (!before.entries.has(key)) changes.push(`${JSON.stringify(key)}: (absent) -> ${v}`);
  if (!appliedMayMove && after.applied !== before.applied) changes.push(`appliedIndex ${before.applied} -> ${after.applied}`);
  return changes.length ? changes.join("; ") : null;
}

export interface FuzzStats {
  requests: number;
  byStatus: Record<string, number>;
  rejected: number;
  timeouts: number;
  /** Rejected requests during which the node appended an entry of its own (confirmed by sending them again). */
  backgroundEntries: number;
}

/**
 * The property over `runs` requests with `seed`. Throws (with fast-check's
 * shrunk counterexample and the seed) on the first violation.
 */
export async function runApiProperty(target: FuzzTarget, options: { seed: number; runs: number; log?: (line: string) => void }): Promise<FuzzStats> {
  const { node } = target;
  const stats: FuzzStats = { requests: 0, byStatus: {}, rejected: 0, timeouts: 0, backgroundEntries: 0 };
  let baseline = await dataSet(target);
  // The requests just before a failure: the one that broke the node may not be the one that noticed.
  const recent: string[] = [];
  const property = fc.asyncProperty(requestArbitrary(target.routes, NODE_ID, target.token), async (request) => {
    stats.requests++;
    recent.push(`#${stats.requests} ${describeRequest(request)}`);
    if (recent.length > 8) recent.shift();
    const outcome = await rawRequest(node.httpPort, request, REQUEST_TIMEOUT_MS);
    const label = outcome.kind === "answered" ? String(outcome.response.status) : outcome.kind;
    stats.byStatus[label] = (stats.byStatus[label] ?? 0) + 1;
    if (node.proc?.exitCode !== null) throw new Error(`the node exited (${node.proc?.exitCode}) after:\n${describeRequest(request)}\n--- its output ---\n${target.cluster.logs(NODE_ID).slice(-3000)}`);
    const problem = answerProblem(request, outcome);
    if (problem) throw new Error(`${problem}\nfor:\n${describeRequest(request)}\n--- the requests before it ---\n${recent.join("\n")}`);
    if (outcome.kind === "timeout") stats.timeouts++;
    const status = outcome.kind === "answered" ? outcome.response.status : outcome.kind === "stream" ? outcome.status : 0;
    if (status >= 400) {
      stats.rejected++;
      const after = await dataSet(target);
      let code = "";
      try {
        if (outcome.kind === "answered") code = (JSON.parse(new TextDecoder().decode(outcome.response.body)) as { error: { code: string } }).error.code;
      } catch {
        // a bare refusal from Bun's parser: nothing reached the node's code
      }
      let changed = diff(baseline, after, DECIDED_IN_APPLY.has(code));
      baseline = after;
      if (changed?.startsWith("appliedIndex")) {
        // Nothing but the applied index moved: an entry of the node's own may have landed
        // meanwhile (the corruption check every 5 minutes, a hash report). Send the request
        // again once the node is quiet: it is the culprit only if it moves the index again.
        await settled(target, 700);
        const quiet = await dataSet(target);
        await rawRequest(node.httpPort, request, REQUEST_TIMEOUT_MS);
        baseline = await dataSet(target);
        changed = diff(quiet, baseline, DECIDED_IN_APPLY.has(code));
        if (!changed) stats.backgroundEntries++;
      }
      if (changed) throw new Error(`a rejected request (${status} ${code}) changed the data set: ${changed}\nfor:\n${describeRequest(request)}\n--- the requests before it ---\n${recent.join("\n")}`);
    } else {
      baseline = await forgetTtls(target, request, baseline);
    }
  });
  await fc.assert(property, {
    seed: options.seed,
    numRuns: options.runs,
  });
  return stats;
}

/**
 * A key written with ?ttl= would be deleted later by the leader's sweep,
 * moving the data set under a later request's feet: delete such keys now.
 */
async function forgetTtls(target: FuzzTarget, request: FuzzRequest, before: DataSet): Promise<DataSet> {
  // A corruption check started here proposes each node's hash report a little later.
  if (/check-hash/i.test(request.target)) await settled(target, 300);
  const after = await dataSet(target);
  if (!/[?&]ttl/i.test(request.target)) return after;
  const written = [...after.entries.keys()].filter((k) => before.entries.get(k) !== after.entries.get(k));
  if (written.length === 0) return after;
  const response = await call(target.node, target.token, "/v1/txn", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ compare: [], success: written.map((key) => ({ op: "delete", key })), failure: [] }),
  });
  if (!response.ok) throw new Error(`could not delete keys written with a ttl: ${response.status} ${await response.text()}`);
  // The leader's sweep (every 500 ms) may already have seen the key expire and proposed its
  // deletion: that entry moves the applied index, so wait until nothing more arrives.
  await settled(target, 700);
  return dataSet(target);
}

function argument(name: string): string | undefined {
  const at = process.argv.indexOf(`--${name}`);
  return at < 0 ? undefined : process.argv[at + 1];
}

if (import.meta.main) {
  const runs = Number(argument("runs") ?? 5000);
  const seed = Number(argument("seed") ?? Math.floor(Math.random() * 2 ** 31));
  console.log(`api fuzz: ${runs} runs, seed ${seed} (replay with --seed ${seed})`);
  const target = await startTarget({ token: argument("token") });
  const started = Date.now();
  try {
    const stats = await runApiProperty(target, { seed, runs });
    // Not a failure (a busy machine stalls a node too), but a request that blocks the event loop shows here first.
    const stalls = target.cluster.logs(NODE_ID).split("\n").filter((line) => line.includes("event loop stalled"));
    console.log(JSON.stringify({ seed, ...stats, eventLoopStalls: stalls.length, seconds: Math.round((Date.now() - started) / 1000) }));
    for (const line of stalls) console.log(line);
  } catch (error) {
    console.error(String(error instanceof Error ? error.message : error));
    if (error instanceof Error && error.cause) console.error(`\n${String(error.cause instanceof Error ? error.cause.message : error.cause)}`);
    process.exitCode = 1;
  } finally {
    await target.stop();
  }
}
