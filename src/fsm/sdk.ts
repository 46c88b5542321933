// The plugin SDK: everything a replicated data type needs, and nothing of
// Raft's internals. A plugin is one `definePlugin({...})`: its name, the
// TypeBox schema of each command, the SQL that creates its tables, a
// deterministic `apply` per command, and its HTTP routes.
//
//   export default definePlugin({
//     name: "counter",
//     migrations: ["CREATE TABLE counter_values (name TEXT PRIMARY KEY, n INTEGER NOT NULL)"],
//     commands: { add: Type.Object({ name: Type.String(), by: Type.Integer() }) },
//     apply: {
//       add: (ctx, { name, by }) => ctx.db.query("INSERT ... RETURNING n").get(name, by),
//     },
//     routes: (plugin) => new Elysia().post("/:name", ({ params }) => plugin.write("add", { name: params.name, by: 1 })),
//   });
//
// Rules the host relies on (and the conformance suite checks):
//  - apply is deterministic: a function of the tables, the arguments and the
//    context (index, term, the leader's timestamp); never Date.now(),
//    Math.random() or I/O. Every node runs it and must reach the same state.
//  - a plugin's tables are named `<plugin>_...`; it touches no other tables.
//  - a command that cannot be carried out throws a PluginError: its writes
//    are rolled back and the caller gets the error; the log moves on.

import type { Database } from "bun:sqlite";
import type { Static, TSchema } from "@sinclair/typebox";
import type { AnyElysia } from "elysia";
import { parseDuration } from "../config/duration.ts";
import { requestContext } from "../api/request-context.ts";

export type { Database };

/** What a plugin's apply sees besides its arguments. */
export interface ApplyContext<Config = unknown> {
  /** fsm.db, inside the transaction of the batch being applied. */
  readonly db: Database;
  /** Raft index of the entry: also a natural version number (etcd's modRevision, Consul's ModifyIndex). */
  readonly index: number;
  readonly term: number;
  /** The leader's clock when the command was proposed (ms since the epoch): identical on every node. */
  readonly timestamp: number;
  readonly config: Config;
  /**
   * Announces a change to the plugin's subscribers (watches, blocking
   * queries). Delivered once the batch is committed to fsm.db, and dropped
   * if this command fails; never replayed, so a plugin that offers resumable
   * watches keeps its own change table.
   */
  emit(event: unknown): void;
}

/** A change a plugin announced from apply, with the index of the entry that made it. */
export interface PluginEvent {
  index: number;
  event: unknown;
}

export type Consistency = "linearizable" | "leader" | "stale";
export const CONSISTENCY_LEVELS: readonly Consistency[] = ["linearizable", "leader", "stale"];

/** A command that cannot be carried out, as the caller should see it. Thrown from apply or from routes. */
export class PluginError extends Error {
  constructor(
    /** SNAKE_CASE, stable: clients switch on it. */
    readonly code: string,
    message: string,
    /** HTTP status for the API (400, 404, 409, 413, ...). */
    readonly status = 400,
    /** Extra fields merged into the error response body (e.g. `current` for a failed cas). */
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = "PluginError";
  }
}

/** What each command's apply returns (inferred from the plugin's apply functions). */
type Results<Commands> = { [K in keyof Commands]: unknown };

type Handlers<Commands extends Record<string, TSchema>, Config, R extends Results<Commands>> = {
  [K in keyof Commands]: (ctx: ApplyContext<Config>, args: Static<Commands[K]>) => R[K];
};

export interface WriteOptions {
  /** How long to wait for the command to be committed and applied (default: the node's). */
  timeoutMs?: number;
}

/**
 * What a plugin's routes are given: its config, read access to its tables,
 * and the way to write. One node hands the same object to routes, leaderTask
 * and nodeService, so memory a plugin keeps per node can be keyed by it.
 */
export interface PluginRuntime<Commands extends Record<string, TSchema>, Config, R extends Results<Commands> = Results<Commands>> {
  readonly name: string;
  readonly config: Config;
  /**
   * Validates the arguments against the command's schema (a bad one throws a
   * 400 PluginError naming the field), replicates the command, and resolves
   * once it is applied here with its Raft index and what apply returned.
   */
  write<K extends keyof Commands & string>(command: K, args: Static<Commands[K]>, options?: WriteOptions): Promise<{ index: number; value: R[K] }>;
  /**
   * Runs a query once a read at `consistency` is safe on this node
   * (linearizable: the leader confirmed by a quorum and caught up; leader:
   * under the leader's lease; stale: at once, from whatever is applied here).
   * `index` is the index the state was read at.
   */
  read<T>(consistency: Consistency, query: (db: Database) => T): Promise<{ index: number; value: T }>;
  /** Runs a query at once on whatever this node has applied (stale), synchronously: no batch can land mid-query. */
  peek<T>(query: (db: Database) => T): T;
  /** Hears every committed batch's events of this plugin, in log order; returns the unsubscribe function. */
  subscribe(listener: (events: PluginEvent[]) => void): () => void;
  /** The last index applied on this node. */
  appliedIndex(): number;
}

export interface PluginDefinition<
  Commands extends Record<string, TSchema> = Record<string, TSchema>,
  ConfigSchema extends TSchema = TSchema,
  R extends Results<Commands> = Results<Commands>,
> {
  /** Lower-case name; routes live under /v1/<name>/ and tables are named <name>_*. */
  name: string;
  description?: string;
  /** Schema of the plugin's section in the YAML config (defaults filled in). */
  config?: ConfigSchema;
  /** SQL run once each, in order, inside a transaction; append, never edit, once released. */
  migrations: string[];
  commands: Commands;
  apply: Handlers<Commands, Static<ConfigSchema>, R>;
  /** An Elysia instance with the plugin's routes, mounted at /v1/<name>. */
  routes?: (plugin: PluginRuntime<Commands, Static<ConfigSchema>, R>) => AnyElysia;
  /**
   * Routes mounted at the root instead (e.g. /v1/watch), for the few a
   * contract places outside /v1/<name>. Paths listed in `localRoutes` are
   * answered by whichever node is asked, never forwarded to the leader.
   */
  rootRoutes?: (plugin: PluginRuntime<Commands, Static<ConfigSchema>, R>) => AnyElysia;
  localRoutes?: string[];
  /**
   * Path prefixes whose requests a follower forwards to the leader over HTTP,
   * writes included, for state only the leader keeps in memory (naming's
   * heartbeats): the route then runs on the leader. Other writes run where
   * they arrive and reach the leader as proposals.
   */
  leaderRoutes?: string[];
  /**
   * Work only the leader does, every `everyMs`: deciding from its clock what
   * to expire, say, and proposing it as commands, so every node applies the
   * same decision. It starts `graceMs` after this node became leader (default
   * two election timeouts), so a new leader does not act on state it has not
   * caught up with or on a clock it has only just started reading.
   */
  leaderTask?: { everyMs: number; graceMs?: number; run(plugin: PluginRuntime<Commands, Static<ConfigSchema>, R>): Promise<void> };
  /**
   * Work every node does for as long as it runs, outside apply: serving DNS
   * from the plugin's tables, say, or making the kernel match them. Started
   * once the node has joined or resumed its cluster, stopped before the node
   * closes its state. A service reads through `plugin` and may write; it
   * throws from `start` only when the node cannot run as configured (the
   * node then fails to start with that message).
   */
  nodeService?: (plugin: PluginRuntime<Commands, Static<ConfigSchema>, R>, node: NodeServiceContext) => Promise<NodeService> | NodeService;
  /**
   * Called in the same transaction right after a backup's rows replaced the
   * plugin's tables (pontoon snapshot restore), at `ctx.index`: the backup's
   * indexes belong to another log, so a plugin that keeps indexes renumbers
   * them here (kv makes every key's version the restore's index).
   */
  restored?: (ctx: ApplyContext<Static<ConfigSchema>>) => void;
  /**
   * A page of the plugin's own in the web console, under a tab named `title`.
   * `module` is a TypeScript file (relative to the plugin's module) whose
   * default export is a ConsolePage (src/ui/web/page-api.ts): bundled on its
   * own, so a page that does not build breaks only its tab.
   */
  consolePage?: { title: string; module: string };
}

/** What a node service knows of the node it runs on. */
export interface NodeServiceContext {
  /** This node's id. */
  readonly nodeId: string;
  /** Whether this node leads right now. */
  isLeader(): boolean;
  /** A logger whose lines name the plugin. */
  readonly log: { info(message: string, fields?: Record<string, unknown>): void; warn(message: string, fields?: Record<string, unknown>): void; error(message: string, fields?: Record<string, unknown>): void };
}

/** A running node service; `stop` releases what it holds (sockets, timers). */
export interface NodeService {
  stop(): Promise<void> | void;
}

export type AnyPluginDefinition = PluginDefinition<any, any, any>;

const PLUGIN_NAME = /^[a-z][a-z0-9_]{0,31}$/;

export function definePlugin<const Commands extends Record<string, TSchema>, ConfigSchema extends TSchema, R extends Results<Commands>>(
  definition: PluginDefinition<Commands, ConfigSchema, R>,
): PluginDefinition<Commands, ConfigSchema, R> {
  if (!PLUGIN_NAME.test(definition.name)) {
    throw new PluginError("BAD_PLUGIN", `plugin name "${definition.name}" must be lower-case letters, digits and _ (1-32, starting with a letter)`);
  }
  for (const command of Object.keys(definition.commands)) {
    if (typeof (definition.apply as Record<string, unknown>)[command] !== "function") {
      throw new PluginError("BAD_PLUGIN", `plugin "${definition.name}" declares command "${command}" but has no apply.${command}`);
    }
  }
  return definition;
}

/** Durations as the YAML takes them ("250ms", "30s", "5m", "1h", or ms): for `?wait=` and similar. Null when invalid. */
export { parseDuration };

/** A blocking query's wait when it names none, and the most it may ask for (Consul's). */
export const DEFAULT_WAIT_MS = 5 * 60_000;
export const MAX_WAIT_MS = 10 * 60_000;

/**
 * The wait of a blocking query (`?index=N&wait=30s`) in ms, capped at
 * MAX_WAIT_MS. The routes that block wait this long, and a follower that
 * forwards such a query gives the leader this long on top of the deadline.
 */
export function blockingWaitMs(raw: string | null | undefined): number {
  if (raw === null || raw === undefined) return DEFAULT_WAIT_MS;
  const ms = /^\d+$/.test(raw) ? Number(raw) : parseDuration(raw);
  if (ms === null || ms < 1) throw new PluginError("INVALID_WAIT", `wait must be a duration like "30s" or "5m" (at most 10m), got ${JSON.stringify(raw)}`, 400, { field: "wait" });
  return Math.min(ms, MAX_WAIT_MS);
}

/**
 * The wait of a blocking query: resolves once one of the plugin's events that
 * `accepts` arrives with an index above `after`, or `current()` (the index of
 * the last change the query covers, read from the tables) already shows one,
 * or `ms` pass, or the client goes away. It subscribes before it looks, so a
 * change cannot slip between the look and the wait.
 */
export function waitForEvent(
  plugin: Pick<PluginRuntime<any, any, any>, "subscribe">,
  accepts: (event: unknown) => boolean,
  after: number,
  current: () => number,
  ms: number,
  signal?: AbortSignal,
): Promise<void> {
  return new Promise((resolve) => {
    let finished = false;
    const done = (): void => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      unsubscribe();
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const unsubscribe = plugin.subscribe((events: PluginEvent[]) => {
      if (events.some((e) => e.index > after && accepts(e.event))) done();
    });
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done);
    if (current() > after) done();
  });
}

/**
 * Throws a 403 unless the token of the request being served may `access`
 * the key (or, with `asPrefix`, every key under the prefix): auth.tokens may
 * be scoped to key prefixes. A plugin that keeps keys calls this in its
 * routes; outside a request (internal calls) there is no one to refuse.
 */
export function requireKeyAccess(access: "read" | "write", keyOrPrefix: string, asPrefix = false): void {
  const who = requestContext.getStore()?.principal;
  if (!who?.prefixes) return;
  if (who.prefixes.some((p) => keyOrPrefix.startsWith(p))) return;
  const what = asPrefix ? `keys under ${JSON.stringify(keyOrPrefix)}` : `key ${JSON.stringify(keyOrPrefix)}`;
  throw new PluginError("FORBIDDEN", `token "${who.name}" may ${access} only keys under ${who.prefixes.map((p) => JSON.stringify(p)).join(", ")}; not ${what}`, 403, {
    missing: `prefix:${keyOrPrefix}`,
    field: asPrefix ? "prefix" : "key",
  });
}
