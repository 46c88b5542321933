// What a node loads when it opens: the hard state, the newest snapshot and
// the stored log, reconciled with each other and with the state machine, in
// the shape RaftCore's constructor takes.

import { decodeConfiguration } from "./core/configuration.ts";
import { RaftError } from "./core/errors.ts";
import type { CoreInitialState } from "./core/raft.ts";
import { EntryType, type Configuration, type Entry, type SnapshotMeta } from "./core/types.ts";
import type { FSM } from "./fsm.ts";
import type { Logger } from "./logger.ts";
import type { RaftStorage, SnapshotStore } from "../storage/types.ts";

export interface Recovered {
  initial: CoreInitialState;
  /** Index the state machine reflects after recovery. */
  applied: number;
  /** The configuration in effect at `applied` (what a snapshot taken now would record). */
  appliedConfiguration: { configuration: Configuration; index: number };
  /** Where the state machine's state was last changed: the meta a snapshot taken now would carry. */
  fsmPoint: SnapshotMeta;
}

const EMPTY: Configuration = { servers: [] };

export async function recover(storage: RaftStorage, snapshots: SnapshotStore, fsm: FSM, logger: Logger): Promise<Recovered> {
  const hardState = storage.stable.getHardState();
  const newest = await snapshots.latest();
  const snapshot = newest && { meta: newest.stored.meta, data: newest.data };
  // The state machine may already be ahead of the snapshot (a persistent FSM
  // records its last index): then restoring would only throw work away.
  const fsmIndex = fsm.appliedIndex?.() ?? 0;
  const entries = loadLog(storage, snapshot?.meta, fsmIndex, logger);

  let applied = fsmIndex;
  if (snapshot && fsmIndex < snapshot.meta.index) {
    await fsm.restore(snapshot.data);
    applied = snapshot.meta.index;
    logger.info("restored the state machine from a snapshot", { index: snapshot.meta.index, term: snapshot.meta.term });
  }
  const lastIndex = entries.length > 0 ? entries[entries.length - 1]!.index : (snapshot?.meta.index ?? 0);
  if (applied > lastIndex) {
    throw new RaftError(
      "CORRUPT_STATE",
      `the state machine has applied index ${applied} but the Raft log ends at ${lastIndex}: the log was lost or belongs to another node`,
    );
  }

  // Replay the configuration history up to `applied` and find the term there.
  let configuration = snapshot ? { configuration: snapshot.meta.configuration, index: snapshot.meta.configurationIndex } : { configuration: EMPTY, index: 0 };
  let appliedTerm = snapshot && applied === snapshot.meta.index ? snapshot.meta.term : 0;
  for (const e of entries) {
    if (e.index > applied) break;
    if (e.type === EntryType.Config) configuration = { configuration: decodeConfiguration(e.data), index: e.index };
    if (e.index === applied) appliedTerm = e.term;
  }
  return {
    initial: { hardState, snapshot, entries, applied },
    applied,
    appliedConfiguration: configuration,
    fsmPoint: { index: applied, term: appliedTerm, configuration: configuration.configuration, configurationIndex: configuration.index },
  };
}

/**
 * The stored entries that continue the snapshot. A crash between persisting a
 * snapshot received from the leader and replacing the log leaves entries that
 * do not continue it: they are deleted here, as the install would have done.
 */
function loadLog(storage: RaftStorage, snap: SnapshotMeta | undefined, fsmIndex: number, logger: Logger): Entry[] {
  const first = storage.log.firstIndex();
  const last = storage.log.lastIndex();
  if (last === 0) return [];
  if (!snap) return storage.log.getEntries(first, last);
  const at = snap.index;
  // Keep the log only when it continues the snapshot: it starts right after
  // it, or holds the snapshot's last entry with the same term (§5.3 Log Matching).
  const keep = first === at + 1 || (first <= at && last >= at && storage.log.getEntry(at)?.term === snap.term);
  if (!keep) {
    // Entries the state machine has applied past the snapshot are the only
    // record of them: the start fails below either way, so fail here, before
    // deleting them, and leave the files for the operator to examine.
    if (fsmIndex > at) {
      throw new RaftError(
        "CORRUPT_STATE",
        `the stored log (${first}-${last}) does not continue the newest snapshot (index ${at}, term ${snap.term}) and the state machine has applied index ${fsmIndex}: the snapshot or the log is damaged; nothing was deleted`,
      );
    }
    if (last > at) logger.warn("discarding stored entries that do not continue the newest snapshot", { first, last, snapshot: at });
    storage.transaction(() => storage.log.deleteRange(first, last));
    return [];
  }
  return storage.log.getEntries(Math.max(first, at + 1), last);
}
