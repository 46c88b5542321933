// Shared by the transport tests: one sample of every message variant, and a
// bounded wait on a condition (tests never sleep for a fixed time).

import type { Entry, Message } from "../../src/raft/core/types.ts";
import { FRAME_OVERHEAD } from "../../src/transport/codec.ts";
import type { WireMessage } from "../../src/transport/types.ts";

export function bytesOf(n: number, seed = 1): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

export function entries(count: number, size: number, firstIndex = 1): Entry[] {
  return Array.from({ length: count }, (_, i) => ({
    index: firstIndex + i,
    term: 3,
    type: (i % 3) as Entry["type"],
    data: bytesOf(size, i),
  }));
}

export function append(seq: number, from = "n1", to = "n2", count = 1, size = 256): Message {
  return { type: "append", from, to, term: 7, prevIndex: seq, prevTerm: 7, entries: entries(count, size, seq + 1), commit: seq, seq };
}

const meta = {
  index: 1_000_000,
  term: 12,
  configurationIndex: 999_000,
  configuration: {
    servers: [
      { id: "n1", address: "10.0.0.1:7000", suffrage: "voter" as const, meta: { http: "http://10.0.0.1:8080" } },
      { id: "nœud-2", address: "[::1]:7001", suffrage: "nonvoter" as const },
    ],
  },
};

/** Every variant, with edge values: empty and unicode ids, 2^53-1, empty data. */
export const samples: WireMessage[] = [
  { type: "vote", from: "n1", to: "n2", term: 5, preVote: true, lastLogIndex: 42, lastLogTerm: 4, transfer: false },
  { type: "vote", from: "", to: "ñ-é-日本", term: Number.MAX_SAFE_INTEGER, preVote: false, lastLogIndex: 0, lastLogTerm: 0, transfer: true },
  { type: "voteResp", from: "n2", to: "n1", term: 5, preVote: false, granted: true },
  { type: "append", from: "n1", to: "n2", term: 7, prevIndex: 10, prevTerm: 6, entries: [], commit: 9, seq: 100 },
  { type: "append", from: "n1", to: "n2", term: 7, prevIndex: 10, prevTerm: 6, entries: entries(50, 256, 11), commit: 9, seq: 101 },
  { type: "append", from: "n1", to: "n2", term: 7, prevIndex: 0, prevTerm: 0, entries: [{ index: 1, term: 1, type: 2, data: new Uint8Array(0) }], commit: 0, seq: 1 },
  { type: "appendResp", from: "n2", to: "n1", term: 7, success: false, matchIndex: 10, conflictIndex: 8, conflictTerm: 5, lastIndex: 9, seq: 101 },
  { type: "heartbeat", from: "n1", to: "n3", term: 7, commit: 2 ** 40, seq: 2 ** 52 },
  { type: "heartbeatResp", from: "n3", to: "n1", term: 7, seq: 77 },
  { type: "snapshot", from: "n1", to: "n3", term: 8, meta, offset: 65536, data: bytesOf(4096), size: 1 << 20, done: false },
  { type: "snapshot", from: "n1", to: "n3", term: 8, meta, offset: 0, data: new Uint8Array(0), size: 0, done: true },
  { type: "snapshotResp", from: "n3", to: "n1", term: 8, index: 1_000_000, nextOffset: 69632, installed: false, accepted: true },
  { type: "timeoutNow", from: "n1", to: "n2", term: 9 },
  { type: "forward", from: "n2", to: "n1", term: 0, id: 42, timeoutMs: 10_000, payload: bytesOf(300) },
  { type: "forwardResp", from: "n1", to: "n2", term: 0, id: 42, status: 3, payload: new TextEncoder().encode("the outcome is unknown") },
];

/** Polls `condition` until true; fails after `timeoutMs` with `what`. */
export async function waitFor(what: string, condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** A frame with a correct length, version and CRC around any kind byte and payload: it passes the framing checks and reaches the payload decoder. */
export function framedPayload(kind: number, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(FRAME_OVERHEAD + payload.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, out.length - 4);
  out[4] = 1;
  out[5] = kind;
  out.set(payload, 6);
  view.setUint32(out.length - 4, Bun.hash.crc32(out.subarray(4, out.length - 4)));
  return out;
}
