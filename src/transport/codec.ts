// The wire format of every Raft message, and of the transport's own hello.
//
//   frame   = u32 length-of-rest | u8 version (1) | u8 kind | payload | u32 CRC-32(version, kind, payload)
//   payload = string from | string to | f64 term | kind-specific fields
//   string  = u32 byte length | UTF-8 bytes;  blob = u32 length | bytes
//
// Big-endian throughout. Numbers (index, term, offsets, seq) are float64:
// exact for every integer a JS number can hold, so no BigInt on the hot path.
// Entries in `append` and the data of `snapshot` chunks are raw bytes; only
// the rarely sent Configuration travels as JSON.

import type { Configuration, Entry, EntryType, Message, MessageType, SnapshotMeta } from "../raft/core/types.ts";
import { FrameError } from "./frame-error.ts";
import type { WireMessage } from "./types.ts";
import { ByteReader, ByteWriter, utf8 } from "./wire-buffer.ts";

export const WIRE_VERSION = 1;
/** Length prefix + version + kind + CRC: the bytes every frame has besides its payload. */
export const FRAME_OVERHEAD = 10;

/**
 * The first frame on every outbound connection: the dialer's advertised
 * address, so the receiver can pass `from` to deliver (a server being added
 * has no configuration yet and would not know where to answer).
 */
export interface Hello {
  type: "hello";
  address: string;
}

/** What a frame carries: a Raft message, a forwarded proposal or its answer, or the transport's hello. */
export type Frame = WireMessage | Hello;

/** Kind bytes. Never renumber: they are on the wire. */
export const FrameKind = {
  hello: 0,
  vote: 1,
  voteResp: 2,
  append: 3,
  appendResp: 4,
  heartbeat: 5,
  heartbeatResp: 6,
  snapshot: 7,
  snapshotResp: 8,
  timeoutNow: 9,
  forward: 10,
  forwardResp: 11,
} as const satisfies Record<WireMessage["type"] | "hello", number>;

const ENTRY_FIXED = 8 + 8 + 1 + 4; // index, term, type, data length

// Node ids and addresses repeat in every message; encoding them once saves a
// TextEncoder call per string on the hot path. Bounded so a stream of
// unusual ids cannot grow it without limit.
const stringCache = new Map<string, Uint8Array>();
function cachedUtf8(s: string): Uint8Array {
  let b = stringCache.get(s);
  if (b === undefined) {
    if (stringCache.size >= 1024) stringCache.clear();
    b = utf8(s);
    stringCache.set(s, b);
  }
  return b;
}

function configurationJson(c: Configuration): Uint8Array {
  return utf8(JSON.stringify(c));
}

/** Payload bytes after the common header (from, to, term). */
function bodySize(m: Frame, configJson: Uint8Array | null): number {
  switch (m.type) {
    case "hello":
      return 0;
    case "vote":
      return 1 + 8 + 8 + 1;
    case "voteResp":
      return 2;
    case "append": {
      let n = 8 * 4 + 4;
      for (const e of m.entries) n += ENTRY_FIXED + e.data.length;
      return n;
    }
    case "appendResp":
      return 1 + 8 * 5;
    case "heartbeat":
      return 16;
    case "heartbeatResp":
      return 8;
    case "snapshot":
      return 8 * 3 + 4 + (configJson?.length ?? 0) + 8 + 8 + 1 + 4 + m.data.length;
    case "snapshotResp":
      return 8 + 8 + 1 + 1;
    case "timeoutNow":
      return 0;
    case "forward":
      return 8 + 8 + 4 + m.payload.length;
    case "forwardResp":
      return 8 + 1 + 4 + m.payload.length;
  }
}

function writeBody(w: ByteWriter, m: Frame, configJson: Uint8Array | null): void {
  switch (m.type) {
    case "hello":
    case "timeoutNow":
      return;
    case "vote":
      w.bool(m.preVote);
      w.f64(m.lastLogIndex);
      w.f64(m.lastLogTerm);
      w.bool(m.transfer);
      return;
    case "voteResp":
      w.bool(m.preVote);
      w.bool(m.granted);
      return;
    case "append":
      w.f64(m.prevIndex);
      w.f64(m.prevTerm);
      w.f64(m.commit);
      w.f64(m.seq);
      w.u32(m.entries.length);
      for (const e of m.entries) {
        w.f64(e.index);
        w.f64(e.term);
        w.u8(e.type);
        w.blob(e.data);
      }
      return;
    case "appendResp":
      w.bool(m.success);
      w.f64(m.matchIndex);
      w.f64(m.conflictIndex);
      w.f64(m.conflictTerm);
      w.f64(m.lastIndex);
      w.f64(m.seq);
      return;
    case "heartbeat":
      w.f64(m.commit);
      w.f64(m.seq);
      return;
    case "heartbeatResp":
      w.f64(m.seq);
      return;
    case "snapshot":
      w.f64(m.meta.index);
      w.f64(m.meta.term);
      w.f64(m.meta.configurationIndex);
      w.blob(configJson ?? new Uint8Array(0));
      w.f64(m.offset);
      w.f64(m.size);
      w.bool(m.done);
      w.blob(m.data);
      return;
    case "snapshotResp":
      w.f64(m.index);
      w.f64(m.nextOffset);
      w.bool(m.installed);
      w.bool(m.accepted);
      return;
    case "forward":
      w.f64(m.id);
      w.f64(m.timeoutMs);
      w.blob(m.payload);
      return;
    case "forwardResp":
      w.f64(m.id);
      w.u8(m.status);
      w.blob(m.payload);
      return;
  }
}

/** One complete frame (length prefix included), ready to write to a socket. */
export function encodeFrame(m: Frame): Uint8Array {
  // The hello has no from/to/term; it reuses the header's first string for the address.
  const from = cachedUtf8(m.type === "hello" ? m.address : m.from);
  const to = cachedUtf8(m.type === "hello" ? "" : m.to);
  const configJson = m.type === "snapshot" ? configurationJson(m.meta.configuration) : null;
  const payload = 4 + from.length + 4 + to.length + 8 + bodySize(m, configJson);
  // The buffer first: reading `.buffer` of a new small typed array makes the
  // engine give it a separate ArrayBuffer (see encodeCommand).
  const out = new Uint8Array(new ArrayBuffer(FRAME_OVERHEAD + payload));
  const w = new ByteWriter(out, 0);
  w.u32(out.length - 4);
  w.u8(WIRE_VERSION);
  w.u8(FrameKind[m.type]);
  w.blob(from);
  w.blob(to);
  w.f64(m.type === "hello" ? 0 : m.term);
  writeBody(w, m, configJson);
  w.u32(Bun.hash.crc32(out.subarray(4, w.pos)));
  return out;
}

/** Encodes a message as one frame. */
export function encodeMessage(m: WireMessage): Uint8Array {
  return encodeFrame(m);
}

// ---- decoding ---------------------------------------------------------------

const KNOWN_KINDS: ReadonlySet<number> = new Set(Object.values(FrameKind));

export function isKnownKind(kind: number): boolean {
  return KNOWN_KINDS.has(kind);
}

const ENTRY_TYPES: ReadonlySet<number> = new Set([0, 1, 2]);

/**
 * A term, index, offset, sequence number or id: a non-negative safe integer.
 * A float64 can also carry NaN, infinities, negatives, fractions and integers
 * too big to count by one, and a core that adopted one (a term of Infinity,
 * an index of NaN) would be wedged for good: such a frame is refused like any
 * other malformed one, naming the field.
 */
function counter(r: ByteReader, what: string): number {
  const v = r.f64(what);
  if (!Number.isSafeInteger(v) || v < 0) throw new FrameError("BAD_PAYLOAD", `${what} is ${v}; it must be an integer from 0 to 2^53-1`);
  return v;
}

/** A duration in ms: finite and not negative (a fraction is fine). */
function duration(r: ByteReader, what: string): number {
  const v = r.f64(what);
  if (!Number.isFinite(v) || v < 0) throw new FrameError("BAD_PAYLOAD", `${what} is ${v}; it must be a finite, non-negative number of ms`);
  return v;
}

function readEntries(r: ByteReader): Entry[] {
  const count = r.u32("entry count");
  // Every entry needs at least ENTRY_FIXED bytes; checking first stops a
  // forged count from looping billions of times before the reads fail.
  if (count * ENTRY_FIXED > r.remaining) {
    throw new FrameError("TRUNCATED", `payload too short for ${count} entries (${r.remaining} bytes left)`);
  }
  const entries: Entry[] = [];
  for (let i = 0; i < count; i++) {
    const index = counter(r, "entry index");
    const term = counter(r, "entry term");
    const type = r.u8("entry type");
    if (!ENTRY_TYPES.has(type)) throw new FrameError("BAD_PAYLOAD", `entry ${index} has unknown type ${type}`);
    entries.push({ index, term, type: type as EntryType, data: r.blob("entry data") });
  }
  return entries;
}

function isConfiguration(v: unknown): v is Configuration {
  if (typeof v !== "object" || v === null) return false;
  const servers: unknown = (v as { servers?: unknown }).servers;
  if (!Array.isArray(servers)) return false;
  return servers.every((s: unknown) => {
    if (typeof s !== "object" || s === null) return false;
    const { id, address, suffrage } = s as Record<string, unknown>;
    return typeof id === "string" && typeof address === "string" && (suffrage === "voter" || suffrage === "nonvoter");
  });
}

function readMeta(r: ByteReader): SnapshotMeta {
  const index = counter(r, "snapshot index");
  const term = counter(r, "snapshot term");
  const configurationIndex = counter(r, "snapshot configuration index");
  const json = r.string("snapshot configuration");
  let configuration: unknown;
  try {
    configuration = JSON.parse(json);
  } catch (error) {
    throw new FrameError("BAD_PAYLOAD", `snapshot configuration is not JSON: ${String(error)}`);
  }
  if (!isConfiguration(configuration)) throw new FrameError("BAD_PAYLOAD", "snapshot configuration has no valid servers list");
  return { index, term, configuration, configurationIndex };
}

/**
 * Decodes the payload of one frame whose length, version and CRC were
 * already checked; `start`..`end` spans the payload only.
 */
export function decodePayload(kind: number, bytes: Uint8Array, start: number, end: number): Frame {
  if (!isKnownKind(kind)) throw new FrameError("UNKNOWN_KIND", `unknown message kind ${kind}`);
  const r = new ByteReader(bytes, start, end);
  const from = r.string("from");
  const to = r.string("to");
  const term = counter(r, "term");
  let frame: Frame;
  switch (kind) {
    case FrameKind.hello:
      frame = { type: "hello", address: from };
      break;
    case FrameKind.vote:
      frame = {
        type: "vote", from, to, term,
        preVote: r.bool("preVote"),
        lastLogIndex: counter(r, "lastLogIndex"),
        lastLogTerm: counter(r, "lastLogTerm"),
        transfer: r.bool("transfer"),
      };
      break;
    case FrameKind.voteResp:
      frame = { type: "voteResp", from, to, term, preVote: r.bool("preVote"), granted: r.bool("granted") };
      break;
    case FrameKind.append:
      frame = {
        type: "append", from, to, term,
        prevIndex: counter(r, "prevIndex"),
        prevTerm: counter(r, "prevTerm"),
        commit: counter(r, "commit"),
        seq: counter(r, "seq"),
        entries: readEntries(r),
      };
      break;
    case FrameKind.appendResp:
      frame = {
        type: "appendResp", from, to, term,
        success: r.bool("success"),
        matchIndex: counter(r, "matchIndex"),
        conflictIndex: counter(r, "conflictIndex"),
        conflictTerm: counter(r, "conflictTerm"),
        lastIndex: counter(r, "lastIndex"),
        seq: counter(r, "seq"),
      };
      break;
    case FrameKind.heartbeat:
      frame = { type: "heartbeat", from, to, term, commit: counter(r, "commit"), seq: counter(r, "seq") };
      break;
    case FrameKind.heartbeatResp:
      frame = { type: "heartbeatResp", from, to, term, seq: counter(r, "seq") };
      break;
    case FrameKind.snapshot:
      frame = {
        type: "snapshot", from, to, term,
        meta: readMeta(r),
        offset: counter(r, "offset"),
        size: counter(r, "size"),
        done: r.bool("done"),
        data: r.blob("snapshot data"),
      };
      break;
    case FrameKind.snapshotResp:
      frame = {
        type: "snapshotResp", from, to, term,
        index: counter(r, "index"),
        nextOffset: counter(r, "nextOffset"),
        installed: r.bool("installed"),
        accepted: r.bool("accepted"),
      };
      break;
    case FrameKind.timeoutNow:
      frame = { type: "timeoutNow", from, to, term };
      break;
    case FrameKind.forward:
      frame = { type: "forward", from, to, term, id: counter(r, "id"), timeoutMs: duration(r, "timeoutMs"), payload: r.blob("payload") };
      break;
    case FrameKind.forwardResp:
      frame = { type: "forwardResp", from, to, term, id: counter(r, "id"), status: r.u8("status"), payload: r.blob("payload") };
      break;
    default:
      throw new FrameError("UNKNOWN_KIND", `unknown message kind ${kind}`);
  }
  r.expectEnd(frame.type);
  return frame;
}
