// The snapshot file format, version 1 (all integers little-endian):
//
//   0      "PNTSNAP"         magic, 7 bytes
//   7      version  u8       = 1
//   8      metaLen  u32
//   12     meta     JSON     { meta: SnapshotMeta, createdAt: number }, metaLen bytes
//   12+m   dataLen  u64
//   20+m   dataCrc  u32      CRC-32 of data
//   24+m   headCrc  u32      CRC-32 of bytes 0 .. 24+m
//   28+m   data              dataLen bytes, and nothing after it
//
// The header has its own checksum so that a flipped digit in the meta (an
// index, a server address) is caught as surely as a flipped byte of data.

import type { Configuration, SnapshotMeta } from "../raft/core/types.ts";
import type { StoredSnapshot } from "./types.ts";

export const SNAPSHOT_MAGIC = new TextEncoder().encode("PNTSNAP");
export const SNAPSHOT_VERSION = 1;
/** Bytes before the meta: magic, version, metaLen. Enough to learn the header's full length. */
export const PREFIX_LENGTH = 12;
/** A sanity bound on the meta so a damaged length cannot make us allocate gigabytes. */
const MAX_META_LENGTH = 16 * 1024 * 1024;

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** Thrown by the decoders with a reason; the store wraps it in a CorruptSnapshotError naming the file. */
export class SnapshotFormatError extends Error {}

export function encodeHeader(stored: StoredSnapshot): Uint8Array {
  const meta = encoder.encode(JSON.stringify({ meta: stored.meta, createdAt: stored.createdAt }));
  const out = new Uint8Array(PREFIX_LENGTH + meta.length + 16);
  const view = new DataView(out.buffer);
  out.set(SNAPSHOT_MAGIC, 0);
  out[7] = SNAPSHOT_VERSION;
  view.setUint32(8, meta.length, true);
  out.set(meta, PREFIX_LENGTH);
  const at = PREFIX_LENGTH + meta.length;
  view.setBigUint64(at, BigInt(stored.size), true);
  view.setUint32(at + 8, stored.crc32, true);
  view.setUint32(at + 12, Bun.hash.crc32(out.subarray(0, at + 12)), true);
  return out;
}

/** Reads the prefix and returns the header's total length (including its checksum). */
export function headerLength(prefix: Uint8Array): number {
  if (prefix.length < PREFIX_LENGTH) throw new SnapshotFormatError(`file is ${prefix.length} bytes, too short for a header`);
  for (let i = 0; i < SNAPSHOT_MAGIC.length; i++) {
    if (prefix[i] !== SNAPSHOT_MAGIC[i]) throw new SnapshotFormatError("bad magic (not a Pontoon snapshot file)");
  }
  if (prefix[7] !== SNAPSHOT_VERSION) {
    throw new SnapshotFormatError(`unknown format version ${prefix[7]} (this build reads version ${SNAPSHOT_VERSION})`);
  }
  const metaLength = new DataView(prefix.buffer, prefix.byteOffset, prefix.byteLength).getUint32(8, true);
  if (metaLength > MAX_META_LENGTH) throw new SnapshotFormatError(`meta length ${metaLength} is implausible`);
  return PREFIX_LENGTH + metaLength + 16;
}

/** Decodes and checks a complete header (as sized by headerLength). */
export function decodeHeader(header: Uint8Array): StoredSnapshot {
  const length = headerLength(header);
  if (header.length < length) throw new SnapshotFormatError(`file ends inside its header (${header.length} of ${length} bytes)`);
  const view = new DataView(header.buffer, header.byteOffset, header.byteLength);
  const at = length - 16;
  if (Bun.hash.crc32(header.subarray(0, at + 12)) !== view.getUint32(at + 12, true)) {
    throw new SnapshotFormatError("header fails its checksum");
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(decoder.decode(header.subarray(PREFIX_LENGTH, at)));
  } catch {
    throw new SnapshotFormatError("header meta is not valid JSON");
  }
  const { meta, createdAt } = checkMetaShape(parsed);
  const size = view.getBigUint64(at, true);
  if (size > BigInt(Number.MAX_SAFE_INTEGER)) throw new SnapshotFormatError(`data length ${size} is implausible`);
  return { meta, createdAt, size: Number(size), crc32: view.getUint32(at + 8, true) };
}

function checkMetaShape(value: unknown): { meta: SnapshotMeta; createdAt: number } {
  const bad = (what: string): never => {
    throw new SnapshotFormatError(`header meta has the wrong shape (${what})`);
  };
  if (typeof value !== "object" || value === null) return bad("not an object");
  const { meta, createdAt } = value as { meta?: unknown; createdAt?: unknown };
  if (typeof createdAt !== "number") return bad("createdAt");
  if (typeof meta !== "object" || meta === null) return bad("meta");
  const m = meta as Record<string, unknown>;
  for (const key of ["index", "term", "configurationIndex"]) {
    if (!Number.isSafeInteger(m[key]) || (m[key] as number) < 0) bad(key);
  }
  const configuration = m.configuration as { servers?: unknown } | undefined;
  if (typeof configuration !== "object" || configuration === null || !Array.isArray(configuration.servers)) {
    bad("configuration");
  }
  return {
    meta: {
      index: m.index as number,
      term: m.term as number,
      configuration: m.configuration as Configuration,
      configurationIndex: m.configurationIndex as number,
    },
    createdAt,
  };
}

/** `snapshot-<index, 20 digits>-<term>.snap`: sorting names sorts by index. */
export function snapshotFileName(index: number, term: number): string {
  return `snapshot-${String(index).padStart(20, "0")}-${term}.snap`;
}

const NAME = /^snapshot-(\d{20})-(\d+)\.snap$/;

export function parseSnapshotFileName(name: string): { index: number; term: number } | undefined {
  const match = NAME.exec(name);
  return match ? { index: Number(match[1]), term: Number(match[2]) } : undefined;
}
