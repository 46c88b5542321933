// Committed entries into the state machine, in order: runs of commands go to
// the FSM (in one applyBatch when it has one); configuration entries are
// logged as membership events; no-ops only move the applied index. Also
// tracks the meta a snapshot taken now would carry.

import { decodeConfiguration } from "./core/configuration.ts";
import { EntryType, type Configuration, type Entry, type Snapshot, type SnapshotMeta } from "./core/types.ts";
import { FatalNodeError } from "./errors.ts";
import type { CommittedCommand, FSM } from "./fsm.ts";
import type { Outcome } from "./futures.ts";
import type { Logger } from "./logger.ts";

export class Applier {
  /** Last index applied (commands, configurations and no-ops alike). */
  applied: number;
  private configuration: { configuration: Configuration; index: number };
  /**
   * Meta of a snapshot taken now: the last command applied. Later no-op and
   * configuration entries do not change the FSM, and staying on a command's
   * index keeps a persistent FSM's appliedIndex() comparable with snapshots.
   */
  snapshotPoint: SnapshotMeta;

  constructor(
    private readonly fsm: FSM,
    private readonly logger: Logger,
    start: { applied: number; appliedConfiguration: { configuration: Configuration; index: number }; fsmPoint: SnapshotMeta },
    private readonly settled: (entry: Entry, outcome: Outcome) => void,
  ) {
    this.applied = start.applied;
    this.configuration = start.appliedConfiguration;
    this.snapshotPoint = start.fsmPoint;
  }

  async apply(entries: Entry[]): Promise<void> {
    let run: Entry[] = [];
    for (const e of entries) {
      if (e.type === EntryType.Command) {
        run.push(e);
        continue;
      }
      if (run.length > 0) await this.applyCommands(run);
      run = [];
      if (e.type === EntryType.Config) this.applyConfiguration(e);
      this.applied = e.index;
      this.settled(e, { ok: true, value: undefined });
    }
    if (run.length > 0) await this.applyCommands(run);
  }

  /** Replaces the state with a snapshot's (one received from the leader). */
  async install(snap: Snapshot): Promise<void> {
    try {
      await this.fsm.restore(snap.data);
    } catch (error) {
      throw new FatalNodeError(`restoring the state machine from the snapshot at index ${snap.meta.index}`, error);
    }
    this.applied = snap.meta.index;
    this.configuration = { configuration: snap.meta.configuration, index: snap.meta.configurationIndex };
    this.snapshotPoint = snap.meta;
  }

  private async applyCommands(entries: Entry[]): Promise<void> {
    const commands: CommittedCommand[] = entries.map((e) => ({ index: e.index, term: e.term, data: e.data }));
    if (this.fsm.applyBatch) {
      let responses: unknown[];
      try {
        const out = this.fsm.applyBatch(commands);
        responses = out instanceof Promise ? await out : out;
      } catch (error) {
        // applyBatch is all-or-nothing, and a retry could not be told apart from a replay: stop.
        throw new FatalNodeError(`applying entries ${entries[0]!.index}..${entries[entries.length - 1]!.index} to the state machine`, error);
      }
      entries.forEach((e, i) => this.commandApplied(e, { ok: true, value: responses[i] }));
      return;
    }
    for (let i = 0; i < entries.length; i++) {
      let outcome: Outcome;
      try {
        const out = this.fsm.apply(commands[i]!);
        outcome = { ok: true, value: out instanceof Promise ? await out : out };
      } catch (error) {
        // Deterministic on every node (the FSM contract), so it is the command's outcome, not a fault.
        outcome = { ok: false, error };
      }
      this.commandApplied(entries[i]!, outcome);
    }
  }

  private commandApplied(e: Entry, outcome: Outcome): void {
    this.applied = e.index;
    const c = this.configuration;
    this.snapshotPoint = { index: e.index, term: e.term, configuration: c.configuration, configurationIndex: c.index };
    this.settled(e, outcome);
  }

  private applyConfiguration(e: Entry): void {
    const before = this.configuration.configuration;
    const after = decodeConfiguration(e.data);
    this.configuration = { configuration: after, index: e.index };
    for (const s of after.servers) {
      const old = before.servers.find((o) => o.id === s.id);
      if (!old) this.logger.info("member added", { id: s.id, address: s.address, suffrage: s.suffrage, index: e.index });
      else if (old.suffrage !== s.suffrage) this.logger.info("member changed suffrage", { id: s.id, suffrage: s.suffrage, index: e.index });
    }
    for (const o of before.servers) {
      if (!after.servers.some((s) => s.id === o.id)) this.logger.info("member removed", { id: o.id, index: e.index });
    }
  }
}
