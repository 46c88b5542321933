// The Pontoon client for applications (`import { connect } from "pontoon/client"`):
// keys and values, transactions, watches, and typed config with a cache
// file, over several endpoints with fail-over.
//
//   const pontoon = connect({ endpoints: ["127.0.0.1:2221", "127.0.0.1:2222"], cacheFile: ".pontoon-cache.json" });
//   await pontoon.put("app/db/url", "postgres://db/shop");
//   const db = await pontoon.config("app/db", { format: "json", schema: Type.Object({ url: Type.String() }) });
//   const watch = pontoon.watch("app/", (e) => console.log(e.type, e.key, e.value));

import type { Static, TSchema } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import { parse as parseYaml } from "yaml";
import { ConfigCache } from "./config-cache.ts";
import { Endpoints } from "./endpoints.ts";
import { PontoonError } from "./errors.ts";
import { startWatch, type Watch, type WatchEvent, type WatchOptions, type WatchReset } from "./watch.ts";

export { PontoonError } from "./errors.ts";
export type { Watch, WatchEvent, WatchOptions, WatchReset } from "./watch.ts";

export type Consistency = "linearizable" | "leader" | "stale";

export interface ClientOptions {
  /** Nodes' HTTP addresses ("127.0.0.1:2221" or "http://..."); any member will do. */
  endpoints: string[];
  /** Bearer token, when the cluster has one (PONTOON_TOKEN). */
  token?: string;
  /** The CA (PEM text) that signs the nodes' certificates, for a cluster with tls: (endpoints without a scheme become https). */
  ca?: string;
  /** Deadline of one attempt on one endpoint, ms (default 5000). */
  timeoutMs?: number;
  /** Rounds over all endpoints before a call gives up (default 3). */
  rounds?: number;
  /** Where config() keeps the last value it read of each key, for starting while the cluster is away. */
  cacheFile?: string;
  /** Told when a value comes from the cache file rather than the cluster. */
  onWarning?: (message: string) => void;
}

export interface Entry {
  key: string;
  value: string;
  createIndex: number;
  modifyIndex: number;
}

export interface ClusterStatus {
  id: string;
  state: string;
  term: number;
  leader: { id: string; raft: string; http: string | null } | null;
  commitIndex: number;
  appliedIndex: number;
  lastIndex: number;
  snapshotIndex: number;
  lastContactMs: number;
  members: { id: string; raft: string; http: string | null; voter: boolean }[];
  replication: { id: string; match: number; lag: number; state: string; lastContactMs: number }[];
}

export type TxnCompare = { key: string; exists?: boolean; value?: string; modifyIndex?: number; createIndex?: number };
export type TxnOp = { op: "put"; key: string; value: string } | { op: "delete"; key: string } | { op: "get"; key: string };
export type TxnResult =
  | { op: "put"; key: string; modifyIndex: number }
  | { op: "delete"; key: string; deleted: boolean }
  | { op: "get"; key: string; entry: Entry | null };

export interface ConfigOptions<S extends TSchema | undefined> {
  format?: "json" | "yaml" | "text";
  /** Checked against the parsed value; a mismatch is an error naming the field. */
  schema?: S;
  consistency?: Consistency;
}

export interface ConfigValue<T> {
  value: T;
  modifyIndex: number;
  /** "cluster", or "cache" when the cluster could not be reached and the cache file answered. */
  source: "cluster" | "cache";
}

type Parsed<S> = S extends TSchema ? Static<S> : unknown;

const path = (key: string) => `/v1/kv/${key.split("/").map(encodeURIComponent).join("/")}`;

export class PontoonClient {
  private readonly endpoints: Endpoints;
  private readonly cache: ConfigCache | undefined;

  constructor(private readonly options: ClientOptions) {
    this.endpoints = new Endpoints({ endpoints: options.endpoints, token: options.token, timeoutMs: options.timeoutMs ?? 5_000, rounds: options.rounds ?? 3, ...(options.ca ? { ca: options.ca } : {}) });
    this.cache = options.cacheFile ? new ConfigCache(options.cacheFile) : undefined;
  }

  /** The key's entry, or null when it does not exist. Linearizable unless told otherwise. */
  async get(key: string, options: { consistency?: Consistency } = {}): Promise<Entry | null> {
    const response = await this.endpoints.request("GET", `${path(key)}?consistency=${options.consistency ?? "linearizable"}`, { idempotent: true, accept: [404] });
    if (response.status === 404) {
      const body = (await response.json()) as { error?: { code?: string; message?: string } };
      if (body.error?.code === "KEY_NOT_FOUND") return null;
      throw new PontoonError(404, body.error?.code ?? "HTTP_404", body.error?.message ?? "not found");
    }
    return (await response.json()) as Entry;
  }

  /** The key's stored bytes exactly (`?raw`), or null when it does not exist. */
  async getBytes(key: string, options: { consistency?: Consistency } = {}): Promise<Uint8Array | null> {
    const response = await this.endpoints.request("GET", `${path(key)}?raw&consistency=${options.consistency ?? "linearizable"}`, { idempotent: true, accept: [404] });
    if (response.status === 404) {
      const body = (await response.json()) as { error?: { code?: string; message?: string } };
      if (body.error?.code === "KEY_NOT_FOUND") return null;
      throw new PontoonError(404, body.error?.code ?? "HTTP_404", body.error?.message ?? "not found");
    }
    return new Uint8Array(await response.arrayBuffer());
  }

  /**
   * Writes the key; with `cas`, only if its modifyIndex is that (0: only if
   * absent); with `ttl` ("30s"), the key is deleted that long after the write.
   * Returns the write's index.
   */
  async put(key: string, value: string | Uint8Array, options: { cas?: number; ttl?: string } = {}): Promise<number> {
    const params = [options.cas === undefined ? "" : `cas=${options.cas}`, options.ttl === undefined ? "" : `ttl=${encodeURIComponent(options.ttl)}`].filter(Boolean);
    const query = params.length > 0 ? `?${params.join("&")}` : "";
    const response = await this.endpoints.request("PUT", path(key) + query, { body: value, idempotent: false });
    return ((await response.json()) as { index: number }).index;
  }

  /** Deletes the key; false when it did not exist. */
  async delete(key: string, options: { cas?: number } = {}): Promise<{ index: number; deleted: boolean }> {
    const query = options.cas === undefined ? "" : `?cas=${options.cas}`;
    const response = await this.endpoints.request("DELETE", path(key) + query, { idempotent: false });
    return (await response.json()) as { index: number; deleted: boolean };
  }

  /** Every key under the prefix, in key order, with the index the list reflects. */
  async list(prefix = "", options: { consistency?: Consistency } = {}): Promise<{ index: number; items: Entry[] }> {
    const response = await this.endpoints.request("GET", `/v1/kv?prefix=${encodeURIComponent(prefix)}&consistency=${options.consistency ?? "linearizable"}`, { idempotent: true });
    return (await response.json()) as { index: number; items: Entry[] };
  }

  /** The key's retained versions, newest first (kv.history of them); a delete is a version with a null value. */
  async history(key: string): Promise<{ index: number; op: "put" | "delete"; value: string | null; createIndex: number }[]> {
    const response = await this.endpoints.request("GET", `${path(key)}?history`, { idempotent: true });
    return ((await response.json()) as { versions: { index: number; op: "put" | "delete"; value: string | null; createIndex: number }[] }).versions;
  }

  /** Writes the version at `toIndex` back as a new version. */
  async rollback(key: string, toIndex: number): Promise<{ index: number; deleted: boolean }> {
    const response = await this.endpoints.request("POST", `${path(key)}/rollback`, { body: JSON.stringify({ toIndex }), headers: { "content-type": "application/json" }, idempotent: false });
    return (await response.json()) as { index: number; deleted: boolean };
  }

  /** The first endpoint's view of the cluster: its role and term, the leader, indexes, members, replication. */
  async cluster(): Promise<ClusterStatus> {
    const response = await this.endpoints.request("GET", "/v1/cluster", { idempotent: true });
    return (await response.json()) as ClusterStatus;
  }

  /** Adds a voter (or, with voter: false, a non-voter) by its Raft and HTTP addresses; `joinSecret` when the cluster sets auth.joinSecret. */
  async join(member: { id: string; raft: string; http: string; voter?: boolean }, joinSecret?: string): Promise<{ index: number; joined: boolean }> {
    const headers: Record<string, string> = { "content-type": "application/json", ...(joinSecret ? { "x-pontoon-join-secret": joinSecret } : {}) };
    const response = await this.endpoints.request("POST", "/v1/cluster/join", { body: JSON.stringify(member), headers, idempotent: false });
    return (await response.json()) as { index: number; joined: boolean };
  }

  async removeMember(id: string): Promise<{ index: number; removed: string }> {
    const response = await this.endpoints.request("DELETE", `/v1/cluster/members/${encodeURIComponent(id)}`, { idempotent: false });
    return (await response.json()) as { index: number; removed: string };
  }

  /** Hands leadership to `id`, or to the most up-to-date voter; returns the new leader. */
  async transferLeadership(id?: string): Promise<{ leader: { id: string; raft: string; http: string | null } }> {
    const response = await this.endpoints.request("POST", "/v1/cluster/transfer-leadership", { body: JSON.stringify(id ? { id } : {}), headers: { "content-type": "application/json" }, idempotent: false });
    return (await response.json()) as { leader: { id: string; raft: string; http: string | null } };
  }

  /** A consistent backup of every plugin's state, taken on the leader (the bytes of a backup file). */
  async backup(): Promise<Uint8Array> {
    const response = await this.endpoints.request("GET", "/v1/cluster/backup", { idempotent: true });
    return new Uint8Array(await response.arrayBuffer());
  }

  /** Loads a backup into the cluster; a cluster that already holds data is refused unless `force`. */
  async restore(backup: Uint8Array, options: { force?: boolean } = {}): Promise<{ index: number; restoredFrom: { appliedIndex: number; createdAt: string; bytes: number } }> {
    const response = await this.endpoints.request("POST", `/v1/cluster/restore${options.force ? "?force" : ""}`, { body: backup, headers: { "content-type": "application/octet-stream" }, idempotent: false });
    return (await response.json()) as { index: number; restoredFrom: { appliedIndex: number; createdAt: string; bytes: number } };
  }

  /** If every compare holds, the success operations, else the failure ones: atomically, in one Raft entry. */
  async txn(txn: { compare?: TxnCompare[]; success?: TxnOp[]; failure?: TxnOp[] }): Promise<{ index: number; succeeded: boolean; results: TxnResult[] }> {
    const body = JSON.stringify({ compare: txn.compare ?? [], success: txn.success ?? [], failure: txn.failure ?? [] });
    // A transaction made only of gets writes nothing, so it may be retried like a read.
    const readOnly = [...(txn.success ?? []), ...(txn.failure ?? [])].every((op) => op.op === "get");
    const response = await this.endpoints.request("POST", "/v1/txn", { body, headers: { "content-type": "application/json" }, idempotent: readOnly });
    return (await response.json()) as { index: number; succeeded: boolean; results: TxnResult[] };
  }

  /**
   * Calls `handler` with every change under `prefix`, in order, from now (or
   * after `options.after`), across disconnects and endpoints, without losing
   * or repeating one. If a node no longer retains the changes since the last
   * one delivered, the handler gets a `reset` with the prefix as it is now.
   */
  watch(prefix: string, handler: (event: WatchEvent | WatchReset) => void | Promise<void>, options: WatchOptions = {}): Watch {
    return startWatch(this.endpoints, prefix, handler, options);
  }

  /**
   * A config value, parsed (`json`, `yaml` or `text`) and checked against the
   * app's TypeBox schema. Every good read is saved in the cache file; when no
   * endpoint can be reached (or none has a leader), the cached value is returned with
   * `source: "cache"` and a warning. A value that fails to parse or to match
   * the schema is an error, never replaced by the cached one.
   */
  async config<S extends TSchema | undefined = undefined>(key: string, options: ConfigOptions<S> = {}): Promise<ConfigValue<Parsed<S>>> {
    let entry: Entry | null;
    try {
      entry = await this.get(key, { consistency: options.consistency });
    } catch (error) {
      const cached = this.cache?.get(key);
      // Unreachable (status 0) or reachable without a leader (503): the cluster cannot answer now.
      if (!(error instanceof PontoonError) || (error.status !== 0 && error.status !== 503) || !cached) throw error;
      this.options.onWarning?.(`the cluster could not answer (${error.message}); using ${key} from ${this.cache!.file}, saved ${new Date(cached.savedAt).toISOString()}`);
      return { value: parseConfig(key, cached.value, options), modifyIndex: cached.modifyIndex, source: "cache" };
    }
    if (!entry) throw new PontoonError(404, "KEY_NOT_FOUND", `config key ${JSON.stringify(key)} does not exist`);
    const value = parseConfig(key, entry.value, options);
    this.cache?.put(key, { value: entry.value, modifyIndex: entry.modifyIndex, savedAt: Date.now() });
    return { value, modifyIndex: entry.modifyIndex, source: "cluster" };
  }
}

function parseConfig<S extends TSchema | undefined>(key: string, text: string, options: ConfigOptions<S>): Parsed<S> {
  let value: unknown = text;
  const format = options.format ?? "text";
  try {
    if (format === "json") value = JSON.parse(text);
    else if (format === "yaml") value = parseYaml(text, { prettyErrors: false });
  } catch (error) {
    throw new PontoonError(0, "INVALID_CONFIG", `${key} is not valid ${format.toUpperCase()}: ${(error as Error).message.split("\n")[0]}`);
  }
  if (options.schema && !Value.Check(options.schema, value)) {
    const first = Value.Errors(options.schema, value).First();
    const field = first?.path ? first.path.slice(1).replaceAll("/", ".") : "(the value)";
    throw new PontoonError(0, "INVALID_CONFIG", `${key}: ${field || "(the value)"}: ${first?.message ?? "does not match the schema"}`, { field });
  }
  return value as Parsed<S>;
}

export function connect(options: ClientOptions): PontoonClient {
  return new PontoonClient(options);
}
