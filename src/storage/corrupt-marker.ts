// A node that found its own state differs from the cluster's (the corruption
// check) leaves a marker file in its data directory, so that it refuses to
// start again on the same files: a restart would otherwise serve the damaged
// state until the next check.

import { closeSync, existsSync, fsyncSync, openSync, readFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { REJOIN_ADVICE, StorageError } from "./errors.ts";
import { syncDirectory } from "./sync-directory.ts";

export const MARKER_FILE = "CORRUPT";

/** This node's data directory holds state the cluster disagrees with. */
export class DataCorruptError extends StorageError {
  constructor(
    readonly dataDir: string,
    readonly detail: string,
  ) {
    super("DATA_CORRUPT", `${detail}; this node refuses to serve from ${dataDir}; ${REJOIN_ADVICE}`);
  }
}

/** Writes the marker (durably: it must outlive a crash right after) with the reason. */
export function markCorrupt(dataDir: string, detail: string): void {
  const fd = openSync(join(dataDir, MARKER_FILE), "w");
  try {
    writeSync(fd, `${new Date().toISOString()} ${detail}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  syncDirectory(dataDir);
}

/** Throws DataCorruptError when the marker is there. */
export function refuseIfMarked(dataDir: string): void {
  const file = join(dataDir, MARKER_FILE);
  if (!existsSync(file)) return;
  const recorded = readFileSync(file, "utf8").trim();
  throw new DataCorruptError(dataDir, `${file} says this node's state was found to differ from the cluster's (${recorded})`);
}
