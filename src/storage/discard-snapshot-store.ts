// A SnapshotStore that keeps nothing (hashicorp's DiscardSnapshotStore): for
// nodes and tests that never need to restore. create() succeeds so the node
// can still compact its log; there is simply never anything to read back.

import type { SnapshotMeta } from "../raft/core/types.ts";
import { SnapshotNotFoundError } from "./errors.ts";
import type { SnapshotStore, StoredSnapshot } from "./types.ts";

export class DiscardSnapshotStore implements SnapshotStore {
  async create(meta: SnapshotMeta, data: Uint8Array): Promise<StoredSnapshot> {
    return { meta, size: data.length, crc32: Bun.hash.crc32(data), createdAt: Date.now() };
  }

  async list(): Promise<StoredSnapshot[]> {
    return [];
  }

  async latest(): Promise<undefined> {
    return undefined;
  }

  async open(index: number): Promise<never> {
    throw new SnapshotNotFoundError(index);
  }
}
