// CRC-32 of a log entry as stored: it covers the index, term and type as
// well as the data, so a row that was moved, renumbered or had its term
// flipped fails the check just like one whose data was damaged.

import type { Entry } from "../raft/core/types.ts";

// One scratch buffer for the fixed-size prefix: this runs for every entry
// written and read, so it should not allocate.
const prefix = new Uint8Array(17);
const view = new DataView(prefix.buffer);

/** Writes a non-negative safe integer as a little-endian u64 (two u32 halves; no BigInt on the hot path). */
function setU64(offset: number, value: number): void {
  view.setUint32(offset, value >>> 0, true);
  view.setUint32(offset + 4, Math.floor(value / 0x1_0000_0000), true);
}

export function entryChecksum(index: number, term: number, type: number, data: Uint8Array): number {
  setU64(0, index);
  setU64(8, term);
  prefix[16] = type;
  return Bun.hash.crc32(data, Bun.hash.crc32(prefix));
}

export function checksumOf(entry: Entry): number {
  return entryChecksum(entry.index, entry.term, entry.type, entry.data);
}
