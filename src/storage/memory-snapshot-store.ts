// Snapshots kept in memory, for tests and the simulator: the same retain and
// newest-first rules as the file store, and data copied in and out so a
// caller cannot change a stored snapshot by mutating its buffer.

import type { SnapshotMeta } from "../raft/core/types.ts";
import { CorruptSnapshotError, SnapshotNotFoundError, StorageError } from "./errors.ts";
import type { SnapshotStore, StoredSnapshot } from "./types.ts";

export class MemorySnapshotStore implements SnapshotStore {
  /** Newest first. */
  private snapshots: { stored: StoredSnapshot; data: Uint8Array }[] = [];

  constructor(private readonly options: { retain?: number; now?: () => number } = {}) {
    const retain = options.retain ?? 2;
    if (!Number.isInteger(retain) || retain < 1) {
      throw new StorageError("SNAPSHOT_CONFIG", `snapshot retain must be a positive integer, got ${retain}`);
    }
  }

  async create(meta: SnapshotMeta, data: Uint8Array): Promise<StoredSnapshot> {
    const copy = data.slice();
    const stored: StoredSnapshot = {
      meta: structuredClone(meta),
      size: copy.length,
      crc32: Bun.hash.crc32(copy),
      // Injectable so deterministic simulations need not read the clock.
      createdAt: (this.options.now ?? Date.now)(),
    };
    const others = this.snapshots.filter((s) => !(s.stored.meta.index === meta.index && s.stored.meta.term === meta.term));
    this.snapshots = [...others, { stored, data: copy }]
      .sort((a, b) => b.stored.meta.index - a.stored.meta.index || b.stored.meta.term - a.stored.meta.term)
      .slice(0, this.options.retain ?? 2);
    return structuredClone(stored);
  }

  async list(): Promise<StoredSnapshot[]> {
    return this.snapshots.map((s) => structuredClone(s.stored));
  }

  async latest(): Promise<{ stored: StoredSnapshot; data: Uint8Array } | undefined> {
    const newest = this.snapshots[0];
    return newest && this.copyOut(newest);
  }

  async open(index: number): Promise<{ stored: StoredSnapshot; data: Uint8Array }> {
    const found = this.snapshots.find((s) => s.stored.meta.index === index);
    if (!found) throw new SnapshotNotFoundError(index);
    return this.copyOut(found);
  }

  private copyOut(s: { stored: StoredSnapshot; data: Uint8Array }): { stored: StoredSnapshot; data: Uint8Array } {
    // Cheap in memory, and keeps the "reads verify the checksum" contract honest.
    if (Bun.hash.crc32(s.data) !== s.stored.crc32) {
      throw new CorruptSnapshotError(`memory:${s.stored.meta.index}`, "data fails its checksum");
    }
    return { stored: structuredClone(s.stored), data: s.data.slice() };
  }
}
