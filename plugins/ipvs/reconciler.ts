// The per-node reconciler (YAML `ipvs.apply`): after each change to the
// replicated table, and every `resyncMs` in case someone edited the kernel by
// hand, it reads the kernel's table (`ipvsadm -Sn`), works out the fewest
// commands that make it match, and runs them (dry-run: logs them). It never
// stops the node: a missing ipvsadm, a kernel without IPVS or a refused
// command is recorded in the status (GET /v1/ipvs/status) and retried.

import type { Database, NodeService, NodeServiceContext } from "../../src/fsm/sdk.ts";
import type { IpvsRuntime } from "./commands.ts";
import { planCommands, type KernelTable } from "./diff.ts";
import { KernelError, ipvsadm, readKernelTable } from "./kernel.ts";
import { effectiveWeight, listServices, tableVersion } from "./store.ts";

export type ReconcileMode = "off" | "apply" | "dry-run";

export interface ReconcilerStatus {
  node: string;
  mode: ReconcileMode;
  /** The Raft index of the table this node's kernel was last made to match (dry-run: last planned against); null before the first success. */
  lastAppliedIndex: number | null;
  /** When the last run finished, ISO 8601. */
  lastRunAt: string | null;
  /** What the last run ran (dry-run: would have run), as ipvsadm command lines. */
  lastCommands: string[];
  /** Why the last run failed; null when it succeeded. */
  lastError: { code: string; message: string; at: string } | null;
}

/** A failed run is tried again this soon (or at the next change), not only at the next resync. */
const RETRY_MS = 2_000;
/** Failures worth retrying soon; a missing ipvsadm or IPVS waits for an operator, so for the next change or resync. */
const RETRIED = new Set(["COMMAND_FAILED", "UNREADABLE_TABLE", "RECONCILE_FAILED"]);
/** How often the table's version is looked at, for a change no event announced (a snapshot installed). */
const POLL_MS = 250;

/** Per node: the runtime is one object per plugin per node (see PluginRuntime). */
const running = new WeakMap<object, Reconciler>();

export function reconcilerStatus(runtime: IpvsRuntime, nodeId = "unknown"): ReconcilerStatus {
  return running.get(runtime)?.status() ?? { node: nodeId, mode: "off", lastAppliedIndex: null, lastRunAt: null, lastCommands: [], lastError: null };
}

/** The table as this node's kernel should hold it: a server whose health check fails gets weight 0. */
export function desiredTable(db: Database): KernelTable[] {
  return listServices(db).map((service) => ({ service, servers: service.servers.map((server) => ({ server, weight: effectiveWeight(server) })) }));
}

export function startReconciler(runtime: IpvsRuntime, node: NodeServiceContext): NodeService {
  const mode: ReconcileMode = runtime.config.apply === true ? "apply" : runtime.config.apply === "dry-run" ? "dry-run" : "off";
  const reconciler = new Reconciler(runtime, node, mode);
  running.set(runtime, reconciler);
  if (mode === "off") return { stop: () => void running.delete(runtime) };
  node.log.info(`IPVS reconciler ${mode === "apply" ? "making this node's kernel table match the replicated one" : "in dry-run: logging the ipvsadm commands it would run"}`, { ipvsadm: runtime.config.ipvsadm });
  const timer = setInterval(() => void reconciler.tick(), POLL_MS);
  const unsubscribe = runtime.subscribe(() => void reconciler.tick());
  void reconciler.tick();
  return {
    async stop() {
      clearInterval(timer);
      unsubscribe();
      await reconciler.idle();
      running.delete(runtime);
    },
  };
}

class Reconciler {
  private lastAppliedIndex: number | null = null;
  private lastRunAt: number | null = null;
  private lastCommands: string[] = [];
  private lastError: ReconcilerStatus["lastError"] = null;
  /** The table version the kernel was last made to match: a different one means there is work. */
  private matched: number | null = null;
  private inFlight: Promise<void> | null = null;

  constructor(
    private readonly runtime: IpvsRuntime,
    private readonly node: NodeServiceContext,
    private readonly mode: ReconcileMode,
  ) {}

  status(): ReconcilerStatus {
    return {
      node: this.node.nodeId,
      mode: this.mode,
      lastAppliedIndex: this.lastAppliedIndex,
      lastRunAt: this.lastRunAt === null ? null : new Date(this.lastRunAt).toISOString(),
      lastCommands: this.lastCommands,
      lastError: this.lastError,
    };
  }

  async idle(): Promise<void> {
    await this.inFlight;
  }

  tick(): Promise<void> {
    if (this.inFlight) return this.inFlight;
    const version = this.runtime.peek(tableVersion);
    const since = this.lastRunAt === null ? Infinity : Date.now() - this.lastRunAt;
    const due = version !== this.matched || since >= this.runtime.config.resyncMs || (this.lastError !== null && RETRIED.has(this.lastError.code) && since >= RETRY_MS);
    if (!due) return Promise.resolve();
    // Read in one synchronous peek: the table, its version and the index it was applied at belong together.
    const { table, at, index } = this.runtime.peek((db) => ({ table: desiredTable(db), at: tableVersion(db), index: this.runtime.appliedIndex() }));
    this.inFlight = this.run(table, at, index).finally(() => {
      this.inFlight = null;
    });
    return this.inFlight;
  }

  private async run(desired: KernelTable[], version: number, index: number): Promise<void> {
    const program = this.runtime.config.ipvsadm;
    const ran: string[] = [];
    try {
      let current: KernelTable[] = [];
      let readError: unknown = null;
      try {
        current = await readKernelTable(program);
      } catch (error) {
        // A dry run on a machine without IPVS still shows what a first run would do; it keeps the error in its status.
        if (this.mode === "apply" || !(error instanceof KernelError)) throw error;
        readError = error;
      }
      for (const args of planCommands(desired, current)) {
        const line = `ipvsadm ${args.join(" ")}`;
        ran.push(line);
        if (this.mode === "dry-run") {
          this.node.log.info(`dry-run: would run ${line}`, { index });
          continue;
        }
        await ipvsadm(program, args);
        this.node.log.info(`ran ${line}`, { index });
      }
      if (readError) this.fail(readError);
      else this.succeed();
      this.lastAppliedIndex = index;
      this.matched = version;
    } catch (error) {
      this.fail(error);
    } finally {
      this.lastRunAt = Date.now();
      this.lastCommands = ran;
    }
  }

  private succeed(): void {
    if (this.lastError) this.node.log.info("IPVS reconciler recovered", { after: this.lastError.message });
    this.lastError = null;
  }

  private fail(error: unknown): void {
    const code = error instanceof KernelError ? error.code : "RECONCILE_FAILED";
    const message = error instanceof Error ? error.message : String(error);
    // Logged when it changes, not at every retry.
    if (this.lastError?.message !== message) this.node.log.error(`IPVS reconciler: ${message}`, { code });
    this.lastError = { code, message, at: new Date().toISOString() };
  }
}
