// Errors raised by the storage layer. Like the core's errors they carry a
// code and no HTTP status; the message names the file (and index or key) and
// says what an operator can do, because these errors usually reach a person
// reading a log line at startup, not a program that can recover.

/** What to do when this node's own Raft data cannot be trusted any more (RELIABILITY.md, "Disk faults and recovery"). */
export const REJOIN_ADVICE =
  "remove this node's data directory and let it rejoin the cluster (it will receive a snapshot and the log from the leader)";

export class StorageError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** A stored log entry fails its checksum, or the log has a hole where an entry must be. */
export class CorruptLogError extends StorageError {
  constructor(
    readonly file: string,
    readonly index: number,
    readonly detail: string,
  ) {
    super("LOG_CORRUPT", `Raft log ${file} is corrupt at index ${index}: ${detail}; ${REJOIN_ADVICE}`);
  }
}

/** The file is not a Pontoon store at all (garbage, truncated, another program's database) or SQLite reports damage. */
export class CorruptStorageError extends StorageError {
  constructor(
    readonly file: string,
    readonly detail: string,
  ) {
    super("STORAGE_CORRUPT", `${file} cannot be read: ${detail}; ${REJOIN_ADVICE}`);
  }
}

/** The file was written by a newer (or unknown) version of Pontoon. */
export class UnsupportedFormatError extends StorageError {
  constructor(
    readonly file: string,
    readonly found: string,
    readonly supported: string,
  ) {
    super(
      "STORAGE_FORMAT_UNSUPPORTED",
      `${file} has storage format version ${found}, but this build reads version ${supported}; ` +
        `run the Pontoon version that wrote it, or ${REJOIN_ADVICE}`,
    );
  }
}

/**
 * A caller broke the LogStore contract (non-contiguous entries, an append
 * that would leave a hole, a read or delete outside the stored range). This
 * is a bug in the caller, not damage on disk, so no data is touched.
 */
export class LogUsageError extends StorageError {
  constructor(message: string) {
    super("LOG_USAGE", message);
  }
}

/**
 * A snapshot file's framing, header or data checksum is wrong. Deleting just
 * the file is not advised: an older snapshot may not meet the compacted log,
 * and then the node has lost the entries in between.
 */
export class CorruptSnapshotError extends StorageError {
  constructor(
    readonly file: string,
    readonly detail: string,
  ) {
    super("SNAPSHOT_CORRUPT", `snapshot ${file} is corrupt: ${detail}; ${REJOIN_ADVICE}`);
  }
}

/**
 * A write (or read) of one of the node's files failed below SQLite or the
 * file system: the disk is full, a quota or file size limit was reached, or
 * the device failed. What was stored before is intact (the failed
 * transaction rolled back), so freeing space and restarting is enough.
 */
export class StorageIoError extends StorageError {
  constructor(
    readonly file: string,
    readonly detail: string,
    readonly full: boolean,
  ) {
    super(
      full ? "STORAGE_FULL" : "STORAGE_IO",
      `cannot write ${file}: ${detail}; ${full ? "free space" : "check that the disk has free space and is healthy (a full disk, a quota or a file size limit shows as this too)"}, then start the node again: it resumes from what it had stored`,
    );
  }
}

/** open(index) for a snapshot that is not stored. */
export class SnapshotNotFoundError extends StorageError {
  constructor(readonly index: number) {
    super("SNAPSHOT_NOT_FOUND", `no snapshot at index ${index} is stored`);
  }
}

/** Any call after close(). */
export class StorageClosedError extends StorageError {
  constructor(readonly file: string) {
    super("STORAGE_CLOSED", `storage ${file} is closed`);
  }
}

/** Errno codes of a write the file system refused for lack of room. */
const NO_ROOM = new Set(["ENOSPC", "EDQUOT", "EFBIG"]);

/** A node:fs error while writing `file` as a StorageIoError (other errors pass through unchanged). */
export function fileWriteError(file: string, error: unknown): unknown {
  const code = (error as NodeJS.ErrnoException | null)?.code;
  if (code !== undefined && NO_ROOM.has(code)) return new StorageIoError(file, `no room to write it (${code})`, true);
  if (code === "EIO") return new StorageIoError(file, "the device reported an I/O error (EIO)", false);
  return error;
}
