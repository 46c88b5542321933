// Snapshots as files in one directory, one file per snapshot (format in
// snapshot-format.ts). A snapshot is written to a temp file, fsync'd, renamed
// into place and the directory fsync'd, so after a crash a snapshot file is
// either complete or absent; a leftover temp file is deleted at the next open.
//
// I/O uses node:fs/promises so that writing or reading a large snapshot does
// not stall the Raft loop (heartbeats) running on the same thread.

import { mkdirSync, readdirSync, unlinkSync } from "node:fs";
import { open, readdir, readFile, rename, unlink, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import type { SnapshotMeta } from "../raft/core/types.ts";
import { CorruptSnapshotError, fileWriteError, SnapshotNotFoundError, StorageError } from "./errors.ts";
import {
  decodeHeader,
  encodeHeader,
  headerLength,
  parseSnapshotFileName,
  PREFIX_LENGTH,
  SnapshotFormatError,
  snapshotFileName,
} from "./snapshot-format.ts";
import { syncDirectory } from "./sync-directory.ts";
import type { SnapshotStore, StoredSnapshot } from "./types.ts";

const TEMP_PREFIX = ".tmp-";

export interface FileSnapshotStoreOptions {
  /** How many snapshots to keep; older ones are deleted after each create. At least 1. Default 2. */
  retain?: number;
  /**
   * Told about every corrupt snapshot that list() or latest() skips (e.g. to
   * log it). Throwing from it makes them fail with that error instead of
   * skipping: a node refuses to start on a damaged snapshot (see PontoonNode).
   */
  onCorrupt?: (file: string, error: CorruptSnapshotError) => void;
}

interface NamedFile {
  name: string;
  index: number;
  term: number;
}

export class FileSnapshotStore implements SnapshotStore {
  private readonly retain: number;
  private readonly onCorrupt: (file: string, error: CorruptSnapshotError) => void;
  private tempCounter = 0;

  constructor(
    readonly dir: string,
    options: FileSnapshotStoreOptions = {},
  ) {
    this.retain = options.retain ?? 2;
    if (!Number.isInteger(this.retain) || this.retain < 1) {
      throw new StorageError("SNAPSHOT_CONFIG", `snapshot retain must be a positive integer, got ${this.retain}`);
    }
    this.onCorrupt = options.onCorrupt ?? (() => {});
    mkdirSync(dir, { recursive: true });
    // A temp file is a write that never reached its rename: never valid, never needed.
    for (const name of readdirSync(dir)) {
      if (name.startsWith(TEMP_PREFIX)) unlinkSync(join(dir, name));
    }
  }

  async create(meta: SnapshotMeta, data: Uint8Array): Promise<StoredSnapshot> {
    const stored: StoredSnapshot = { meta, size: data.length, crc32: Bun.hash.crc32(data), createdAt: Date.now() };
    const name = snapshotFileName(meta.index, meta.term);
    const temp = join(this.dir, `${TEMP_PREFIX}${name}-${process.pid}-${this.tempCounter++}`);
    const file = await open(temp, "wx");
    try {
      await writeAll(file, encodeHeader(stored));
      await writeAll(file, data);
      await file.sync();
    } catch (error) {
      await file.close();
      await unlink(temp).catch(() => {});
      throw fileWriteError(join(this.dir, name), error);
    }
    await file.close();
    await rename(temp, join(this.dir, name));
    // The rename is durable only once the directory entry is.
    syncDirectory(this.dir);
    await this.prune();
    return stored;
  }

  async list(): Promise<StoredSnapshot[]> {
    const out: StoredSnapshot[] = [];
    for (const file of await this.files()) {
      try {
        out.push(await this.readHeaderOf(file));
      } catch (error) {
        if (!this.skippable(file, error)) throw error;
      }
    }
    return out;
  }

  async latest(): Promise<{ stored: StoredSnapshot; data: Uint8Array } | undefined> {
    for (const file of await this.files()) {
      try {
        return await this.read(file);
      } catch (error) {
        if (!this.skippable(file, error)) throw error;
      }
    }
    return undefined;
  }

  async open(index: number): Promise<{ stored: StoredSnapshot; data: Uint8Array }> {
    const file = (await this.files()).find((f) => f.index === index);
    if (!file) throw new SnapshotNotFoundError(index);
    return this.read(file);
  }

  /** Snapshot files by name, newest (highest index, then term) first. */
  private async files(): Promise<NamedFile[]> {
    const out: NamedFile[] = [];
    for (const name of await readdir(this.dir)) {
      const parsed = parseSnapshotFileName(name);
      if (parsed) out.push({ name, ...parsed });
    }
    return out.sort((a, b) => b.index - a.index || b.term - a.term);
  }

  private async prune(): Promise<void> {
    for (const file of (await this.files()).slice(this.retain)) {
      // Another prune may have won the race; that is fine.
      await unlink(join(this.dir, file.name)).catch(() => {});
    }
  }

  private async read(file: NamedFile): Promise<{ stored: StoredSnapshot; data: Uint8Array }> {
    const path = join(this.dir, file.name);
    const bytes = new Uint8Array(await readFile(path));
    const stored = this.decode(file, bytes);
    const start = headerLength(bytes);
    if (bytes.length !== start + stored.size) {
      throw new CorruptSnapshotError(path, `file is ${bytes.length} bytes but its header promises ${start + stored.size}`);
    }
    const data = bytes.subarray(start);
    if (Bun.hash.crc32(data) !== stored.crc32) throw new CorruptSnapshotError(path, "data fails its checksum");
    return { stored, data };
  }

  private async readHeaderOf(file: NamedFile): Promise<StoredSnapshot> {
    const handle = await open(join(this.dir, file.name), "r");
    try {
      const prefix = await readAt(handle, 0, PREFIX_LENGTH);
      const length = this.guard(file, () => headerLength(prefix));
      return this.decode(file, await readAt(handle, 0, length));
    } finally {
      await handle.close();
    }
  }

  /** Decodes the header and checks it agrees with the file's name. */
  private decode(file: NamedFile, bytes: Uint8Array): StoredSnapshot {
    const stored = this.guard(file, () => decodeHeader(bytes));
    if (stored.meta.index !== file.index || stored.meta.term !== file.term) {
      throw new CorruptSnapshotError(
        join(this.dir, file.name),
        `header says index ${stored.meta.index} term ${stored.meta.term}, which does not match the file name`,
      );
    }
    return stored;
  }

  private guard<T>(file: NamedFile, fn: () => T): T {
    try {
      return fn();
    } catch (error) {
      if (error instanceof SnapshotFormatError) throw new CorruptSnapshotError(join(this.dir, file.name), error.message);
      throw error;
    }
  }

  /** Corrupt files are reported and skipped; files deleted under us (pruned) are just skipped. */
  private skippable(file: NamedFile, error: unknown): boolean {
    if (error instanceof CorruptSnapshotError) {
      this.onCorrupt(join(this.dir, file.name), error);
      return true;
    }
    return (error as NodeJS.ErrnoException | null)?.code === "ENOENT";
  }
}

async function writeAll(file: FileHandle, bytes: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) {
    const { bytesWritten } = await file.write(bytes, offset, bytes.length - offset);
    offset += bytesWritten;
  }
}

/** Reads up to `length` bytes at `position`; fewer at end of file. */
async function readAt(file: FileHandle, position: number, length: number): Promise<Uint8Array> {
  const buffer = new Uint8Array(length);
  let filled = 0;
  while (filled < length) {
    const { bytesRead } = await file.read(buffer, filled, length - filled, position + filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return buffer.subarray(0, filled);
}

