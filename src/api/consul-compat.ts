// Consul's KV HTTP API on a port of its own (compat.consul.port), mapped onto
// the kv plugin, so tools that already speak it (consul-template, envconsul,
// Spring Cloud Consul, the consul npm client) read and write Pontoon:
//   GET/PUT/DELETE /v1/kv/<key>  (raw, recurse, keys, separator, cas, flags, index+wait)
//   PUT /v1/txn                  (KV verbs)
//   GET /v1/status/leader, /v1/status/peers
//   GET /v1/catalog/services, /v1/catalog/service/<name>, /v1/health/service/<name>
//                                (from the naming plugin, when it runs: consul-catalog.ts)
// Values are base64 in JSON, as Consul's are. Reads default to the leader's
// view (Consul's "default" mode; ?consistent is linearizable, ?stale reads
// this node); a follower serves them once it has applied the leader's read
// index. Writes go through the Proposer like any other.

import { waitForChange } from "../../plugins/kv/blocking.ts";
import { keyProblem } from "../../plugins/kv/keys.ts";
import { getEntry, lastChangeIndex, listEntries, type StoredEntry } from "../../plugins/kv/store.ts";
import { blockingWaitMs, PluginError, requireKeyAccess, type Consistency, type PluginRuntime } from "../fsm/sdk.ts";
import type { AccessPolicy, Requirement } from "./access.ts";
import { catalogRoute } from "./consul-catalog.ts";
import { toApiError } from "./errors.ts";
import { requestContext } from "./request-context.ts";

export interface ConsulCompatDeps {
  kv: PluginRuntime<any, any, any>;
  /** The naming plugin, for the catalog and health endpoints; absent when the node does not run it. */
  naming?: PluginRuntime<any, any, any>;
  /** This node leads. */
  isLeader(): boolean;
  /** The leader's id and Raft address, when known. */
  leader(): { id: string; address: string } | null;
  /** Raft addresses of the voters. */
  peers(): string[];
  /** A follower's ReadIndex: the leader's commit index, confirmed by a quorum (GET /v1/cluster/read-index on the leader). */
  leaderReadIndex(): Promise<number>;
  /** Tokens and roles, as on the main port (read per request: reloads live). */
  access: () => AccessPolicy;
}

const text = (status: number, body: string, headers: Record<string, string> = {}) => new Response(body, { status, headers: { "content-type": "text/plain; charset=utf-8", ...headers } });
const json = (body: unknown, headers: Record<string, string> = {}, status = 200) => new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } });

function consulEntry(e: StoredEntry) {
  return { LockIndex: 0, Key: e.key, Flags: e.flags, Value: e.value.length === 0 ? null : Buffer.from(e.value).toString("base64"), CreateIndex: e.createIndex, ModifyIndex: e.modifyIndex };
}

/** Bun.serve's fetch for the compat port. */
export function consulCompat(deps: ConsulCompatDeps): (request: Request, server?: { timeout(request: Request, seconds: number): void }) => Promise<Response> {
  return async (request, server) => {
    const url = new URL(request.url);
    const access = deps.access();
    const principal = access.principalOf(consulToken(request, url));
    if (principal === "missing") return text(403, "ACL not found: this port requires a token; give it in X-Consul-Token");
    if (principal === "invalid") return text(403, "ACL not found: the token is not valid for this cluster");
    const denied = access.authorize(principal, consulRequirement(request.method, url.pathname), request, `${request.method} ${url.pathname}`);
    if (denied) return text(403, `Permission denied: ${denied.message}`);
    return requestContext.run({ route: "consul", principal }, () => answer(deps, request, url, server));
  };
}

/** The role each Consul route needs: reads read, KV writes write, on the plugin that serves it. */
function consulRequirement(method: string, path: string): Requirement {
  const reading = method === "GET" || method === "HEAD";
  if (path.startsWith("/v1/catalog/") || path.startsWith("/v1/health/")) return { role: reading ? "read" : "write", plugin: "naming" };
  if (path.startsWith("/v1/kv/") || path === "/v1/txn") return { role: reading ? "read" : "write", plugin: "kv" };
  return { role: reading ? "read" : "write" };
}

async function answer(deps: ConsulCompatDeps, request: Request, url: URL, server?: { timeout(request: Request, seconds: number): void }): Promise<Response> {
  try {
    if (url.pathname === "/v1/status/leader" && request.method === "GET") return json(deps.leader()?.address ?? "");
    if (url.pathname === "/v1/status/peers" && request.method === "GET") return json(deps.peers());
    if (url.pathname === "/v1/txn" && request.method === "PUT") return await txn(deps, request);
    if ((url.pathname.startsWith("/v1/catalog/") || url.pathname.startsWith("/v1/health/")) && request.method === "GET") {
      if (!deps.naming) return text(404, `${url.pathname}: this node does not run the naming plugin (add naming to plugins:)`);
      if (url.searchParams.has("index")) server?.timeout(request, 0);
      const answered = await catalogRoute({ naming: deps.naming, consistency: await readLevel(deps, url), knownLeader: deps.leader() !== null }, request, url);
      if (answered) return answered;
    }
    if (url.pathname.startsWith("/v1/kv/")) {
      const key = decodeURIComponent(url.pathname.slice("/v1/kv/".length));
      if (request.method === "GET") {
        if (url.searchParams.has("index")) server?.timeout(request, 0);
        return await read(deps, request, url, key);
      }
      if (request.method === "PUT") return await put(deps, request, url, key);
      if (request.method === "DELETE") return await remove(deps, url, key);
    }
    return text(404, `no such endpoint: ${request.method} ${url.pathname} (this port serves Consul's KV, catalog and health APIs)`);
  } catch (error) {
    const e = toApiError(error, request.method !== "GET");
    // Consul answers a missing leader with 500 "No cluster leader"; clients retry on it.
    return text(e.code === "NO_LEADER" ? 500 : e.status, e.code === "NO_LEADER" ? `No cluster leader: ${e.message}` : e.message);
  }
}

/** Consul's tokens: X-Consul-Token, ?token=, or Authorization: Bearer. */
function consulToken(request: Request, url: URL): string | null {
  return request.headers.get("x-consul-token") ?? url.searchParams.get("token") ?? /^Bearer\s+(.+)$/i.exec(request.headers.get("authorization") ?? "")?.[1]?.trim() ?? null;
}

/** The read level Consul's flags ask for; a follower first catches up with the leader's read index and then reads its own state. */
async function readLevel(deps: ConsulCompatDeps, url: URL): Promise<Consistency> {
  const q = url.searchParams;
  const consistency: Consistency = q.has("stale") ? "stale" : q.has("consistent") ? "linearizable" : "leader";
  if (consistency === "stale" || deps.isLeader()) return consistency;
  // A follower serves it itself once it has applied what the leader had
  // committed when asked (ReadIndex): as fresh as a read on the leader.
  await appliedThrough(deps.kv, await deps.leaderReadIndex());
  return "stale";
}

async function read(deps: ConsulCompatDeps, request: Request, url: URL, key: string): Promise<Response> {
  const q = url.searchParams;
  const consistency = await readLevel(deps, url);
  const tree = q.has("recurse") || q.has("keys");
  if (tree && key !== "" && keyProblem(key.replace(/\/$/, "")) !== null) throw new PluginError("INVALID_KEY", `invalid prefix ${JSON.stringify(key)}`, 400);
  if (!tree) checkKey(key);
  requireKeyAccess("read", key, tree);
  const changed = (db: Parameters<Parameters<typeof deps.kv.peek>[0]>[0]) => lastChangeIndex(db, key, !tree);
  const index = q.get("index");
  if (index !== null && /^\d+$/.test(index)) {
    const matches = tree ? (k: string) => k.startsWith(key) : (k: string) => k === key;
    await waitForChange(deps.kv, matches, Number(index), () => deps.kv.peek(changed), blockingWaitMs(q.get("wait")), request.signal);
  }
  const { value } = await deps.kv.read(consistency, (db) => ({ changed: changed(db), entries: tree ? listEntries(db, key) : [getEntry(db, key)].filter((e): e is StoredEntry => e !== null) }));
  // Consul's index is never 0: clients treat 0 as "no index".
  const headers = { "x-consul-index": String(Math.max(1, value.changed)), "x-consul-knownleader": String(deps.leader() !== null), "x-consul-lastcontact": "0" };
  if (value.entries.length === 0) return text(404, "", headers);
  if (q.has("keys")) {
    const separator = q.get("separator") ?? "";
    const keys = new Set<string>();
    for (const e of value.entries) {
      const rest = e.key.slice(key.length);
      const cut = separator ? rest.indexOf(separator) : -1;
      keys.add(cut >= 0 ? key + rest.slice(0, cut + separator.length) : e.key);
    }
    return json([...keys], headers);
  }
  if (q.has("raw") && !tree) return new Response(value.entries[0]!.value, { headers: { ...headers, "content-type": "application/octet-stream" } });
  return json(value.entries.map(consulEntry), headers);
}

function checkKey(key: string): void {
  const problem = keyProblem(key);
  if (problem) throw new PluginError("INVALID_KEY", `invalid key ${JSON.stringify(key)}: ${problem}`, 400);
}

async function put(deps: ConsulCompatDeps, request: Request, url: URL, key: string): Promise<Response> {
  checkKey(key);
  requireKeyAccess("write", key);
  const value = new Uint8Array(await request.arrayBuffer());
  const cas = wholeNumber(url, "cas");
  const flags = wholeNumber(url, "flags");
  try {
    await deps.kv.write("put", { key, value, ...(cas === undefined ? {} : { cas }), ...(flags === undefined ? {} : { flags }) });
    return json(true);
  } catch (error) {
    if (error instanceof PluginError && error.code === "CAS_FAILED") return json(false);
    throw error;
  }
}

async function remove(deps: ConsulCompatDeps, url: URL, key: string): Promise<Response> {
  if (url.searchParams.has("recurse")) {
    requireKeyAccess("write", key, true);
    await deps.kv.write("deletePrefix", { prefix: key });
    return json(true);
  }
  checkKey(key);
  requireKeyAccess("write", key);
  const cas = wholeNumber(url, "cas");
  try {
    await deps.kv.write("delete", cas === undefined ? { key } : { key, cas });
    return json(true);
  } catch (error) {
    if (error instanceof PluginError && error.code === "CAS_FAILED") return json(false);
    throw error;
  }
}

interface ConsulOp {
  KV?: { Verb?: string; Key?: string; Value?: string | null; Flags?: number; Index?: number };
}

/** Consul's KV transaction, as one kv txn: checks become compares, the rest its operations. */
async function txn(deps: ConsulCompatDeps, request: Request): Promise<Response> {
  let ops: ConsulOp[];
  try {
    ops = (await request.json()) as ConsulOp[];
  } catch {
    return text(400, "the transaction body is not JSON");
  }
  if (!Array.isArray(ops)) return text(400, "the transaction body must be a JSON array of operations");
  const compare: Record<string, unknown>[] = [];
  const success: Record<string, unknown>[] = [];
  const utf8 = new TextDecoder("utf-8", { fatal: true });
  for (const [i, op] of ops.entries()) {
    const kv = op.KV;
    if (!kv?.Verb || typeof kv.Key !== "string") return text(400, `operation ${i}: only KV operations with a Verb and a Key are supported`);
    const key = kv.Key;
    requireKeyAccess(kv.Verb === "get" || kv.Verb.startsWith("check-") ? "read" : "write", key);
    const index = kv.Index ?? 0;
    const value = (): string => {
      try {
        return utf8.decode(Buffer.from(kv.Value ?? "", "base64"));
      } catch {
        throw new PluginError("INVALID_REQUEST", `operation ${i}: a transaction's values must be UTF-8 text here`, 400);
      }
    };
    switch (kv.Verb) {
      case "set":
        success.push({ op: "put", key, value: value(), ...(kv.Flags ? { flags: kv.Flags } : {}) });
        break;
      case "cas":
        compare.push(index === 0 ? { key, exists: false } : { key, modifyIndex: index });
        success.push({ op: "put", key, value: value(), ...(kv.Flags ? { flags: kv.Flags } : {}) });
        break;
      case "get":
        compare.push({ key, exists: true });
        success.push({ op: "get", key });
        break;
      case "check-index":
        compare.push({ key, modifyIndex: index });
        break;
      case "check-not-exists":
        compare.push({ key, exists: false });
        break;
      case "delete":
        success.push({ op: "delete", key });
        break;
      case "delete-cas":
        compare.push({ key, modifyIndex: index });
        success.push({ op: "delete", key });
        break;
      default:
        return text(400, `operation ${i}: verb ${JSON.stringify(kv.Verb)} is not supported (set, cas, get, check-index, check-not-exists, delete, delete-cas are)`);
    }
  }
  const { value } = await deps.kv.write("txn", { compare, success, failure: [] });
  const result = value as { index: number; succeeded: boolean; results: ({ op: "put"; key: string; modifyIndex: number } | { op: "get"; key: string; entry: { key: string; value: string; createIndex: number; modifyIndex: number } | null } | { op: "delete" })[] };
  if (!result.succeeded) return json({ Results: null, Errors: [{ OpIndex: 0, What: "a check failed: nothing was applied" }] }, {}, 409);
  const results: { KV: Record<string, unknown> }[] = [];
  for (const r of result.results) {
    if (r.op === "put") results.push({ KV: { LockIndex: 0, Key: r.key, Flags: 0, Value: null, CreateIndex: r.modifyIndex, ModifyIndex: r.modifyIndex } });
    else if (r.op === "get" && r.entry) results.push({ KV: { LockIndex: 0, Key: r.entry.key, Flags: 0, Value: Buffer.from(r.entry.value).toString("base64"), CreateIndex: r.entry.createIndex, ModifyIndex: r.entry.modifyIndex } });
  }
  return json({ Results: results, Errors: null }, { "x-consul-index": String(result.index) });
}

/** Waits until this node has applied `index` (a few ms behind the leader, usually). */
async function appliedThrough(kv: PluginRuntime<any, any, any>, index: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (kv.appliedIndex() < index) {
    if (Date.now() > deadline) throw new PluginError("TIMEOUT", `this node has not applied index ${index} within 10 s`, 503);
    await Bun.sleep(2);
  }
}

function wholeNumber(url: URL, name: string): number | undefined {
  const raw = url.searchParams.get(name);
  if (raw === null) return undefined;
  if (!/^\d+$/.test(raw)) throw new PluginError("INVALID_REQUEST", `${name} must be a whole number, got ${JSON.stringify(raw)}`, 400);
  return Number(raw);
}
