// A state machine snapshot: a small header (which plugins it holds, up to
// which index) and a consistent image of fsm.db. The snapshot store around it
// adds the checksum; the header lets a node refuse a snapshot of a different
// plugin set instead of silently running with tables it does not know.

const MAGIC = new TextEncoder().encode("PNTNFSM\0");
export const SNAPSHOT_IMAGE_VERSION = 1;

export interface SnapshotHeader {
  plugins: string[];
  appliedIndex: number;
}

export class SnapshotImageError extends Error {
  readonly code = "SNAPSHOT_UNREADABLE";
  constructor(detail: string) {
    super(`the state machine snapshot cannot be used: ${detail}`);
    this.name = "SnapshotImageError";
  }
}

export function encodeSnapshotImage(header: SnapshotHeader, database: Uint8Array): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(MAGIC.length + 1 + 4 + json.length + database.length);
  out.set(MAGIC, 0);
  out[MAGIC.length] = SNAPSHOT_IMAGE_VERSION;
  new DataView(out.buffer).setUint32(MAGIC.length + 1, json.length);
  out.set(json, MAGIC.length + 5);
  out.set(database, MAGIC.length + 5 + json.length);
  return out;
}

export function decodeSnapshotImage(data: Uint8Array): { header: SnapshotHeader; database: Uint8Array } {
  if (data.length < MAGIC.length + 5 || !MAGIC.every((b, i) => data[i] === b)) throw new SnapshotImageError("it is not a Pontoon state machine snapshot");
  const version = data[MAGIC.length]!;
  if (version !== SNAPSHOT_IMAGE_VERSION) throw new SnapshotImageError(`format version ${version}; this build reads ${SNAPSHOT_IMAGE_VERSION}`);
  const length = new DataView(data.buffer, data.byteOffset, data.byteLength).getUint32(MAGIC.length + 1);
  const start = MAGIC.length + 5;
  if (start + length > data.length) throw new SnapshotImageError("the header is truncated");
  let header: SnapshotHeader;
  try {
    header = JSON.parse(new TextDecoder().decode(data.subarray(start, start + length))) as SnapshotHeader;
  } catch {
    throw new SnapshotImageError("the header is not JSON");
  }
  if (!Array.isArray(header.plugins) || typeof header.appliedIndex !== "number") throw new SnapshotImageError("the header lacks plugins or appliedIndex");
  return { header, database: data.subarray(start + length) };
}
