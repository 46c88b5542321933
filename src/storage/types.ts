// The storage contracts the Raft node depends on. Each has a bun:sqlite (or
// file) implementation for production and an in-memory one for tests; both
// run the same shared test suite.

import type { Entry, HardState, SnapshotMeta } from "../raft/core/types.ts";

/** The replicated log, indexed from 1. */
export interface LogStore {
  /** Index of the first stored entry, or 0 when empty. */
  firstIndex(): number;
  /** Index of the last stored entry, or 0 when empty. */
  lastIndex(): number;
  getEntry(index: number): Entry | undefined;
  /** Entries lo..hi inclusive, in order; throws CorruptLogError on a gap or checksum mismatch. */
  getEntries(lo: number, hi: number): Entry[];
  /** Stores entries (contiguous, ascending); any stored entry at index >= entries[0].index is removed first. */
  storeEntries(entries: Entry[]): void;
  /** Removes entries lo..hi inclusive (log compaction or reset after a snapshot). */
  deleteRange(lo: number, hi: number): void;
}

/** Small durable values: the hard state and anything else the node must remember. */
export interface StableStore {
  getHardState(): HardState | undefined;
  setHardState(state: HardState): void;
  get(key: string): Uint8Array | undefined;
  set(key: string, value: Uint8Array): void;
}

/**
 * A log store and a stable store that commit together: everything written
 * inside `transaction` reaches disk with one fsync, or not at all. This is
 * what makes group commit one fsync per loop turn.
 */
export interface RaftStorage {
  readonly log: LogStore;
  readonly stable: StableStore;
  transaction<T>(fn: () => T): T;
  close(): void;
}

export interface StoredSnapshot {
  meta: SnapshotMeta;
  /** Size of the data in bytes. */
  size: number;
  /** CRC-32 of the data, checked on every open. */
  crc32: number;
  /** Milliseconds since the epoch when it was written (informational only). */
  createdAt: number;
}

/** Snapshots of the state machine. Writes are atomic; reads verify the checksum. */
export interface SnapshotStore {
  /** Durably stores a snapshot, then keeps only the newest `retain` ones. */
  create(meta: SnapshotMeta, data: Uint8Array): Promise<StoredSnapshot>;
  /** Stored snapshots, newest (highest index) first. */
  list(): Promise<StoredSnapshot[]>;
  /** The newest valid snapshot; corrupt ones are reported through `onCorrupt` and skipped. */
  latest(): Promise<{ stored: StoredSnapshot; data: Uint8Array } | undefined>;
  /** Opens one snapshot by index; throws CorruptSnapshotError when its checksum or framing is wrong. */
  open(index: number): Promise<{ stored: StoredSnapshot; data: Uint8Array }>;
}
