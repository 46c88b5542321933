// One Raft log, many plugins. The host is the node's FSM: it routes every
// committed command to its plugin's apply, all of a batch in one SQLite
// transaction that also records the applied index (so a restart resumes
// there instead of replaying the log), snapshots fsm.db for every plugin at
// once, and restores it.

import type { Database } from "bun:sqlite";
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import type { CommittedCommand, FSM } from "../raft/fsm.ts";
import type { Logger } from "../raft/logger.ts";
import { silentLogger } from "../raft/logger.ts";
import { fileWriteError } from "../storage/errors.ts";
import { isEnvironmentalSqliteError, translateSqliteError } from "../storage/sqlite-file.ts";
import { syncDirectory } from "../storage/sync-directory.ts";
import { decodeCommand } from "./command-codec.ts";
import { migrate, openFsmDatabase, readMeta, writeMeta } from "./fsm-db.ts";
import { HOST_PLUGIN, applyHostCommand, hostCommands, type HashReport, type HostCommand } from "./host-commands.ts";
import { PluginMismatchError } from "./errors.ts";
import { PluginError, type AnyPluginDefinition, type ApplyContext, type PluginEvent } from "./sdk.ts";
import { loadImage } from "./backup.ts";
import { SnapshotImageError, decodeSnapshotImage, encodeSnapshotImage } from "./snapshot-image.ts";

/** What apply returned for one command: the value, or the error the proposer gets. */
export type CommandOutcome =
  | { ok: true; value: unknown }
  | { ok: false; error: { code: string; message: string; status: number; details?: Record<string, unknown> } };

export interface HostedPlugin {
  definition: AnyPluginDefinition;
  /** The plugin's YAML section, validated and with defaults. */
  config: unknown;
}

/** A corruption check's entry, as applied here (see src/server/corruption-check.ts). */
export type HostCheck =
  | { kind: "checkHash"; index: number; voters: number; /** fsm.db as of this entry, serialized. */ image: Uint8Array }
  | { kind: "hashReport"; report: HashReport };

export interface AppliedBatch {
  /** Index of the last command in the batch. */
  index: number;
  /** Whether a host command changed the member records (the proposer caches them). */
  membersChanged: boolean;
}

export class PluginHost implements FSM {
  private db: Database;
  private readonly plugins = new Map<string, HostedPlugin>();
  private readonly listeners = new Set<(batch: AppliedBatch) => void>();
  private readonly restoreListeners = new Set<() => void>();
  private readonly checkListeners = new Set<(check: HostCheck) => void>();
  private readonly eventListeners = new Map<string, Set<(events: PluginEvent[]) => void>>();
  private applied: number;

  constructor(
    private readonly file: string,
    plugins: HostedPlugin[],
    private readonly logger: Logger = silentLogger,
  ) {
    for (const p of plugins) {
      if (this.plugins.has(p.definition.name)) throw new PluginError("BAD_PLUGIN", `plugin "${p.definition.name}" is listed twice`);
      this.plugins.set(p.definition.name, p);
    }
    this.db = this.openAndMigrate();
    this.applied = Number(readMeta(this.db, "applied_index") ?? 0);
  }

  /** The plugin names this node runs, sorted: what must match the leader's. */
  get pluginNames(): string[] {
    return [...this.plugins.keys()].sort();
  }

  plugin(name: string): HostedPlugin | undefined {
    return this.plugins.get(name);
  }

  /** For queries: read between batches (apply is synchronous, so a query never sees half a batch). */
  get database(): Database {
    return this.db;
  }

  appliedIndex(): number {
    return this.applied;
  }

  /** Called after each batch is committed to fsm.db (watches, metrics). */
  onApplied(listener: (batch: AppliedBatch) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Hears the events a plugin's apply emitted, per committed batch. */
  onEvents(plugin: string, listener: (events: PluginEvent[]) => void): () => void {
    let set = this.eventListeners.get(plugin);
    if (!set) this.eventListeners.set(plugin, (set = new Set()));
    set.add(listener);
    return () => set.delete(listener);
  }

  /** Called after the whole state was replaced by a snapshot (caches of it are stale). */
  onRestored(listener: () => void): () => void {
    this.restoreListeners.add(listener);
    return () => this.restoreListeners.delete(listener);
  }

  /** Hears the corruption check's entries once their batch is committed. */
  onCheck(listener: (check: HostCheck) => void): () => void {
    this.checkListeners.add(listener);
    return () => this.checkListeners.delete(listener);
  }

  apply(entry: CommittedCommand): unknown {
    return this.applyBatch([entry])[0];
  }

  applyBatch(entries: CommittedCommand[]): CommandOutcome[] {
    try {
      return this.applyInTransaction(entries);
    } catch (error) {
      // A full or failing disk: name the file and the remedy (SQLite says only "disk I/O error").
      throw translateSqliteError(this.file, error);
    }
  }

  private applyInTransaction(entries: CommittedCommand[]): CommandOutcome[] {
    const outcomes: CommandOutcome[] = [];
    const batch: AppliedBatch = { index: entries[entries.length - 1]!.index, membersChanged: false };
    const events = new Map<string, PluginEvent[]>();
    const checks: HostCheck[] = [];
    this.db
      .transaction(() => {
        for (const entry of entries) {
          const command = decodeCommand(entry.data);
          const context = { db: this.db, index: entry.index, term: entry.term, timestamp: command.timestamp };
          if (command.plugin === HOST_PLUGIN) {
            if (!Object.hasOwn(hostCommands, command.command)) {
              throw new PluginMismatchError(`entry ${entry.index} is host command "${command.command}", which this version does not know`, this.pluginNames);
            }
            if (command.command === "restore") {
              outcomes.push({ ok: true, value: this.loadBackup(context, (command.args as { image: Uint8Array }).image, events) });
              continue;
            }
            if (command.command === "checkHash" || command.command === "hashReport") {
              // The state as of this entry is copied now (later entries of the batch change it) and hashed off the apply path.
              if (this.checkListeners.size > 0) {
                checks.push(
                  command.command === "checkHash"
                    ? { kind: "checkHash", index: entry.index, voters: (command.args as { voters: number }).voters, image: this.db.serialize() }
                    : { kind: "hashReport", report: command.args as HashReport },
                );
              }
              outcomes.push({ ok: true, value: null });
              continue;
            }
            outcomes.push({ ok: true, value: applyHostCommand(context, command.command as HostCommand, command.args) });
            batch.membersChanged = true;
            continue;
          }
          outcomes.push(this.applyPluginCommand(entry.index, command.plugin, command.command, command.args, context, events));
        }
        writeMeta(this.db, "applied_index", String(batch.index));
      })
      .immediate();
    this.applied = batch.index;
    for (const [plugin, list] of events) {
      for (const listener of this.eventListeners.get(plugin) ?? []) {
        try {
          listener(list);
        } catch (error) {
          this.logger.warn("an event listener threw", { plugin, error: String(error) });
        }
      }
    }
    for (const listener of this.listeners) {
      try {
        listener(batch);
      } catch (error) {
        this.logger.warn("an apply listener threw", { error: String(error) });
      }
    }
    for (const check of checks) {
      for (const listener of this.checkListeners) {
        try {
          listener(check);
        } catch (error) {
          this.logger.warn("a check listener threw", { error: String(error) });
        }
      }
    }
    return outcomes;
  }

  private applyPluginCommand(
    index: number,
    pluginName: string,
    commandName: string,
    args: unknown,
    base: Omit<ApplyContext, "config" | "emit">,
    events: Map<string, PluginEvent[]>,
  ): CommandOutcome {
    const plugin = this.plugins.get(pluginName);
    // Skipping a command this node cannot run would make it diverge: stop instead.
    if (!plugin) throw new PluginMismatchError(`entry ${index} is a command of plugin "${pluginName}", which this node does not run`, this.pluginNames);
    const apply = plugin.definition.apply as Record<string, (ctx: ApplyContext, args: unknown) => unknown>;
    // Own properties only: "constructor" or "toString" in a log entry is not a command.
    const handler = Object.hasOwn(apply, commandName) ? apply[commandName] : undefined;
    if (!handler) throw new PluginMismatchError(`entry ${index} is command "${commandName}" of plugin "${pluginName}", which this node's version of the plugin does not have`, this.pluginNames);
    this.db.query("SAVEPOINT pontoon_command").run();
    const emitted: PluginEvent[] = [];
    try {
      const value = handler({ ...base, config: plugin.config, emit: (event) => emitted.push({ index, event }) }, args);
      this.db.query("RELEASE pontoon_command").run();
      if (emitted.length > 0) {
        const list = events.get(pluginName);
        if (list) list.push(...emitted);
        else events.set(pluginName, emitted);
      }
      return { ok: true, value };
    } catch (error) {
      // A full disk, an I/O error or damage is this node's failure, not the
      // command's outcome: recorded as one, this node would diverge from the
      // others. SQLite may already have rolled the whole transaction back.
      if (isEnvironmentalSqliteError(error) || !this.db.inTransaction) throw error;
      // The command's own writes go; the batch and the log move on.
      this.db.query("ROLLBACK TO pontoon_command").run();
      this.db.query("RELEASE pontoon_command").run();
      if (error instanceof PluginError) {
        return { ok: false, error: { code: error.code, message: error.message, status: error.status, ...(error.details ? { details: error.details } : {}) } };
      }
      this.logger.error("a plugin's apply threw an unexpected error", { plugin: pluginName, command: commandName, index, error: String(error) });
      return { ok: false, error: { code: "PLUGIN_FAILED", message: `plugin ${pluginName} failed to apply ${commandName}: ${String(error)}`, status: 500 } };
    }
  }

  /** A backup's rows into every plugin table, then each plugin's `restored` hook; in the batch's transaction. */
  private loadBackup(base: Omit<ApplyContext, "config" | "emit">, image: Uint8Array, events: Map<string, PluginEvent[]>): { rows: number } {
    const rows = loadImage(this.db, image);
    for (const plugin of this.plugins.values()) {
      const emitted: PluginEvent[] = [];
      plugin.definition.restored?.({ ...base, config: plugin.config, emit: (event) => emitted.push({ index: base.index, event }) });
      if (emitted.length > 0) events.set(plugin.definition.name, [...(events.get(plugin.definition.name) ?? []), ...emitted]);
    }
    this.logger.info("loaded a backup into the state machine", { index: base.index, rows });
    return { rows };
  }

  snapshot(): Uint8Array {
    return encodeSnapshotImage({ plugins: this.pluginNames, appliedIndex: this.applied }, this.db.serialize());
  }

  /** Replaces fsm.db with the snapshot's image: written beside it, fsynced, then renamed over it. */
  restore(data: Uint8Array): void {
    const { header, database } = decodeSnapshotImage(data);
    const names = [...header.plugins].sort();
    if (names.join(",") !== this.pluginNames.join(",")) {
      throw new PluginMismatchError(`the snapshot holds plugins [${names.join(", ")}]`, this.pluginNames);
    }
    const temp = `${this.file}.restoring`;
    const fd = openSync(temp, "w");
    try {
      writeFileSync(fd, database);
      fsyncSync(fd);
    } catch (error) {
      rmSync(temp, { force: true });
      throw fileWriteError(temp, error);
    } finally {
      closeSync(fd);
    }
    // Check the new state before it replaces the current one: a damaged image
    // must leave this node as it was, not with a broken or empty store.
    this.checkRestoring(temp, header.appliedIndex);
    this.db.close();
    // A WAL left beside the new file would be replayed into it.
    removeSidecars(this.file);
    renameSync(temp, this.file);
    syncDirectory(dirname(this.file));
    this.db = this.openAndMigrate({ checked: true });
    this.applied = Number(readMeta(this.db, "applied_index") ?? 0);
    this.logger.info("state machine restored from a snapshot", { appliedIndex: this.applied, plugins: names });
    for (const listener of this.restoreListeners) listener();
  }

  close(): void {
    this.db.close();
  }

  /** Opens the image written beside fsm.db: a readable store of ours, at the index its header claims. */
  private checkRestoring(temp: string, claimedIndex: number): void {
    let db: Database | undefined;
    try {
      db = openFsmDatabase(temp);
      const applied = Number(readMeta(db, "applied_index") ?? 0);
      if (applied !== claimedIndex) throw new Error(`its header says applied index ${claimedIndex}, its database holds ${applied}`);
    } catch (error) {
      rmSync(temp, { force: true });
      throw new SnapshotImageError(`its database is unusable (${error instanceof Error ? error.message : String(error)}); the current state was kept`);
    } finally {
      db?.close();
      removeSidecars(temp);
    }
  }

  private openAndMigrate(options: { checked?: boolean } = {}): Database {
    const db = openFsmDatabase(this.file, options);
    try {
      migrate(db, [...this.plugins.values()].map((p) => p.definition), this.file);
      return db;
    } catch (error) {
      db.close();
      throw error;
    }
  }
}

/** SQLite's WAL and shared-memory files beside a database. */
function removeSidecars(file: string): void {
  for (const suffix of ["-wal", "-shm"]) rmSync(file + suffix, { force: true });
}
