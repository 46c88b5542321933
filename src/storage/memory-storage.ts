// RaftStorage in memory, for tests and the simulator. Same contract and
// errors as the SQLite store (it runs the same shared suite), including
// transaction(): a throw inside rolls back everything fn wrote, using an
// undo journal so a transaction costs what it changes, not the log's size.

import type { Entry, HardState } from "../raft/core/types.ts";
import { LogUsageError, StorageClosedError } from "./errors.ts";
import { boundsAfterDelete, checkAppend, checkRead, clampDelete } from "./log-contract.ts";
import type { LogStore, RaftStorage, StableStore } from "./types.ts";

type Undo = () => void;

/** Records how to undo each write while a transaction is open. */
class Journal {
  private readonly undo: Undo[] = [];
  private depth = 0;

  get active(): boolean {
    return this.depth > 0;
  }

  record(step: Undo): void {
    if (this.depth > 0) this.undo.push(step);
  }

  run<T>(fn: () => T): T {
    const mark = this.undo.length;
    this.depth++;
    try {
      const result = fn();
      if (result instanceof Promise) throw new LogUsageError("transaction(fn): fn must be synchronous");
      return result;
    } catch (error) {
      // Like a savepoint: undo only what this (possibly nested) transaction did.
      while (this.undo.length > mark) this.undo.pop()!();
      throw error;
    } finally {
      this.depth--;
      if (this.depth === 0) this.undo.length = 0;
    }
  }
}

/** Entries are copied in and out so no caller can change what is "on disk" by mutating an array it holds. */
function copy(entry: Entry): Entry {
  return { index: entry.index, term: entry.term, type: entry.type, data: entry.data.slice() };
}

class MemoryLogStore implements LogStore {
  /** entries[i] has index first + i. */
  private entries: Entry[] = [];
  private first = 0;

  constructor(
    private readonly journal: Journal,
    private readonly ensureOpen: () => void,
  ) {}

  firstIndex(): number {
    this.ensureOpen();
    return this.entries.length === 0 ? 0 : this.first;
  }

  lastIndex(): number {
    this.ensureOpen();
    return this.entries.length === 0 ? 0 : this.first + this.entries.length - 1;
  }

  getEntry(index: number): Entry | undefined {
    this.ensureOpen();
    const e = this.entries[index - this.first];
    return e && index >= this.first ? copy(e) : undefined;
  }

  getEntries(lo: number, hi: number): Entry[] {
    if (lo > hi) return [];
    checkRead(lo, hi, this.firstIndex(), this.lastIndex());
    return this.entries.slice(lo - this.first, hi - this.first + 1).map(copy);
  }

  storeEntries(entries: Entry[]): void {
    this.ensureOpen();
    if (entries.length === 0) return;
    checkAppend(entries, this.firstIndex(), this.lastIndex());
    const start = entries[0]!.index;
    const fresh = entries.map(copy);
    if (this.entries.length === 0 || start < this.first) {
      this.swap(start, fresh);
      return;
    }
    // The common case, an append (or a short overwrite): change the array in
    // place and journal only the tail it removed.
    const at = start - this.first;
    const removed = this.journal.active ? this.entries.slice(at) : [];
    this.entries.length = at;
    for (const e of fresh) this.entries.push(e);
    this.journal.record(() => {
      this.entries.length = at;
      for (const e of removed) this.entries.push(e);
    });
  }

  deleteRange(lo: number, hi: number): void {
    this.ensureOpen();
    const first = this.firstIndex();
    const last = this.lastIndex();
    const range = clampDelete(lo, hi, first, last);
    if (!range) return;
    const [newFirst, newLast] = boundsAfterDelete(range[0], range[1], first, last);
    this.swap(newFirst, newLast === 0 ? [] : this.entries.slice(newFirst - this.first, newLast - this.first + 1));
  }

  /** Installs a new array; nothing mutates the old one afterwards, so undo is just putting it back. */
  private swap(first: number, entries: Entry[]): void {
    const before = this.entries;
    const beforeFirst = this.first;
    this.journal.record(() => {
      this.entries = before;
      this.first = beforeFirst;
    });
    this.entries = entries;
    this.first = first;
  }
}

class MemoryStableStore implements StableStore {
  private hardState: HardState | undefined;
  private readonly values = new Map<string, Uint8Array>();

  constructor(
    private readonly journal: Journal,
    private readonly ensureOpen: () => void,
  ) {}

  getHardState(): HardState | undefined {
    this.ensureOpen();
    return this.hardState && { ...this.hardState };
  }

  setHardState(state: HardState): void {
    this.ensureOpen();
    const before = this.hardState;
    this.journal.record(() => {
      this.hardState = before;
    });
    this.hardState = { term: state.term, vote: state.vote, commit: state.commit };
  }

  get(key: string): Uint8Array | undefined {
    this.ensureOpen();
    return this.values.get(key)?.slice();
  }

  set(key: string, value: Uint8Array): void {
    this.ensureOpen();
    const before = this.values.get(key);
    this.journal.record(() => {
      if (before === undefined) this.values.delete(key);
      else this.values.set(key, before);
    });
    this.values.set(key, value.slice());
  }
}

export class MemoryStorage implements RaftStorage {
  readonly log: LogStore;
  readonly stable: StableStore;
  private readonly journal = new Journal();
  private closed = false;

  constructor() {
    const ensureOpen = (): void => {
      if (this.closed) throw new StorageClosedError("memory");
    };
    this.log = new MemoryLogStore(this.journal, ensureOpen);
    this.stable = new MemoryStableStore(this.journal, ensureOpen);
  }

  transaction<T>(fn: () => T): T {
    if (this.closed) throw new StorageClosedError("memory");
    return this.journal.run(fn);
  }

  close(): void {
    this.closed = true;
  }
}
