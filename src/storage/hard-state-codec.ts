// The on-disk form of the hard state: [version u8][crc32 u32 LE][JSON].
// JSON keeps it readable with the sqlite3 shell; the version byte and the
// checksum let a reader tell "written by a newer build" from "damaged".

import type { HardState } from "../raft/core/types.ts";

export const HARD_STATE_VERSION = 1;

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

export function encodeHardState(state: HardState): Uint8Array {
  const json = encoder.encode(JSON.stringify({ term: state.term, vote: state.vote, commit: state.commit }));
  const out = new Uint8Array(5 + json.length);
  out[0] = HARD_STATE_VERSION;
  new DataView(out.buffer).setUint32(1, Bun.hash.crc32(json), true);
  out.set(json, 5);
  return out;
}

/** Returns the hard state, or a string saying why the bytes are not a valid one. */
export function decodeHardState(bytes: Uint8Array): HardState | string {
  if (bytes.length < 5) return `hard state record is ${bytes.length} bytes, shorter than its header`;
  if (bytes[0] !== HARD_STATE_VERSION) return `hard state record has unknown version ${bytes[0]}`;
  const json = bytes.subarray(5);
  const crc = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(1, true);
  if (Bun.hash.crc32(json) !== crc) return "hard state record fails its checksum";
  let parsed: unknown;
  try {
    parsed = JSON.parse(decoder.decode(json));
  } catch {
    return "hard state record is not valid JSON";
  }
  if (!isHardState(parsed)) return "hard state record has the wrong shape";
  return { term: parsed.term, vote: parsed.vote, commit: parsed.commit };
}

function isHardState(value: unknown): value is HardState {
  if (typeof value !== "object" || value === null) return false;
  const v = value as Record<string, unknown>;
  return (
    Number.isSafeInteger(v.term) &&
    Number.isSafeInteger(v.commit) &&
    (v.vote === null || typeof v.vote === "string")
  );
}
