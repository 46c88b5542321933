// Which start-up failures mean this node's own files cannot be used, and the
// one line that tells the operator which file, what is wrong and what to do
// (RELIABILITY.md, "Disk faults and recovery"). Storage errors carry their
// advice already; the Raft layer's consistency errors do not, because the
// core does not know it runs on files an operator can remove.

import { REJOIN_ADVICE, StorageError } from "./errors.ts";

/** Codes of errors whose message already names the file and says what to do. */
const ADVISED = new Set(["LOG_CORRUPT", "STORAGE_CORRUPT", "SNAPSHOT_CORRUPT", "STORAGE_FORMAT_UNSUPPORTED", "STORAGE_FULL", "STORAGE_IO", "DATA_CORRUPT"]);
/** Codes of errors that say the files disagree with each other, without advice. */
const UNADVISED = new Set(["CORRUPT_STATE", "SNAPSHOT_UNREADABLE"]);

/** The operator's line for a data fault found while starting, or undefined when `error` is something else. */
export function dataFaultMessage(error: unknown, dataDir: string): string | undefined {
  // A FatalNodeError (or any wrapper) carries the storage error as its cause.
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code !== "string") continue;
    if (ADVISED.has(code) && e instanceof StorageError) return e.message;
    if (UNADVISED.has(code)) return `${e.message} (data directory ${dataDir}); ${REJOIN_ADVICE}`;
  }
  return undefined;
}
