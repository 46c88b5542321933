// The LogStore rules both implementations enforce the same way, so that a
// caller bug shows up as a LogUsageError in tests against the memory store
// rather than as a hole in the SQLite log found at the next restart.

import type { Entry } from "../raft/core/types.ts";
import { LogUsageError } from "./errors.ts";

/**
 * Checks a storeEntries batch against the stored bounds (0/0 when empty).
 * Entries must be contiguous and ascending, and must not start past
 * lastIndex + 1: that would leave a hole the log could never fill.
 */
export function checkAppend(entries: readonly Entry[], first: number, last: number): void {
  const start = entries[0]!.index;
  if (!Number.isSafeInteger(start) || start < 1) {
    throw new LogUsageError(`storeEntries: first index ${start} is not a positive integer`);
  }
  for (let i = 1; i < entries.length; i++) {
    if (entries[i]!.index !== start + i) {
      throw new LogUsageError(
        `storeEntries: entries are not contiguous (position ${i} has index ${entries[i]!.index}, expected ${start + i})`,
      );
    }
  }
  if (last !== 0 && start > last + 1) {
    throw new LogUsageError(
      `storeEntries: first index ${start} would leave a gap after the last stored index ${last} ` +
        `(to start over after a snapshot, deleteRange(${first}, ${last}) first)`,
    );
  }
}

/**
 * Clamps a deleteRange to what is stored. Returns undefined when nothing is
 * stored in lo..hi. Deleting from the middle is refused: the log must stay
 * contiguous, so only a prefix (compaction), a suffix or everything may go.
 */
export function clampDelete(lo: number, hi: number, first: number, last: number): [number, number] | undefined {
  if (last === 0 || lo > hi) return undefined;
  const from = Math.max(lo, first);
  const to = Math.min(hi, last);
  if (from > to) return undefined;
  if (from !== first && to !== last) {
    throw new LogUsageError(
      `deleteRange(${lo}, ${hi}) would leave a hole in the stored log ${first}..${last}; only a prefix or a suffix can be deleted`,
    );
  }
  return [from, to];
}

/** Reads must stay within what is stored; asking for compacted or future entries is a caller bug. */
export function checkRead(lo: number, hi: number, first: number, last: number): void {
  if (last === 0 || lo < first || hi > last) {
    const stored = last === 0 ? "the log is empty" : `the log holds ${first}..${last}`;
    throw new LogUsageError(`getEntries(${lo}, ${hi}) is outside the stored log: ${stored}`);
  }
}

/** New bounds after removing from..to (which clampDelete returned). */
export function boundsAfterDelete(from: number, to: number, first: number, last: number): [number, number] {
  if (from === first && to === last) return [0, 0];
  if (from === first) return [to + 1, last];
  return [first, from - 1];
}
