// The simulated state machine: the list of every entry it applied, in order,
// as short strings. Keeping the whole history (not a digest) lets the checker
// say exactly which index diverged, and makes a snapshot self-checking: the
// snapshot of applied index i is the list of entries 1..i.

import { decodeConfiguration } from "../../src/raft/core/configuration.ts";
import { EntryType, type Configuration, type Entry, type SnapshotMeta } from "../../src/raft/core/types.ts";

const decoder = new TextDecoder();
const encoder = new TextEncoder();

/** One applied entry as the checker sees it: `kind:payload` identifies the content. */
export interface AppliedRecord {
  index: number;
  term: number;
  key: string;
}

const KIND: Record<EntryType, string> = { [EntryType.Command]: "cmd", [EntryType.Config]: "cfg", [EntryType.Noop]: "noop" };

/** The content of an entry, as a comparable string (the index and term are kept apart). */
export function entryKey(e: Entry): string {
  return e.data.length === 0 ? KIND[e.type] : `${KIND[e.type]}:${decoder.decode(e.data)}`;
}

interface SnapshotBody {
  records: [number, number, string][];
  config: Configuration;
  configIndex: number;
}

export class SimFsm {
  /** records[k] is the entry at index k+1: a snapshot always carries the whole prefix. */
  records: AppliedRecord[] = [];
  /** The configuration in effect at the last applied index, and the index that introduced it. */
  config: Configuration = { servers: [] };
  configIndex = 0;

  get lastIndex(): number {
    return this.records.length;
  }

  get lastTerm(): number {
    return this.records[this.records.length - 1]?.term ?? 0;
  }

  /** Applies one committed entry; the driver hands them out strictly in order. */
  apply(e: Entry): AppliedRecord {
    if (e.index !== this.lastIndex + 1) {
      throw new Error(`applied out of order: got index ${e.index} after ${this.lastIndex}`);
    }
    const rec = { index: e.index, term: e.term, key: entryKey(e) };
    this.records.push(rec);
    if (e.type === EntryType.Config) {
      this.config = decodeConfiguration(e.data);
      this.configIndex = e.index;
    }
    return rec;
  }

  /** The snapshot of everything applied so far, with the meta the driver stores beside it. */
  snapshot(): { meta: SnapshotMeta; data: Uint8Array } {
    const body: SnapshotBody = {
      records: this.records.map((r) => [r.index, r.term, r.key]),
      config: this.config,
      configIndex: this.configIndex,
    };
    return {
      meta: { index: this.lastIndex, term: this.lastTerm, configuration: this.config, configurationIndex: this.configIndex },
      data: encoder.encode(JSON.stringify(body)),
    };
  }

  /** Replaces the state with a snapshot's (from the leader, or the local disk after a crash). */
  static fromSnapshot(data: Uint8Array | undefined): SimFsm {
    const fsm = new SimFsm();
    if (!data) return fsm;
    const body = JSON.parse(decoder.decode(data)) as SnapshotBody;
    fsm.records = body.records.map(([index, term, key]) => ({ index, term, key }));
    fsm.config = body.config;
    fsm.configIndex = body.configIndex;
    return fsm;
  }
}
