// Properties of the frame decoder over arbitrary input (fast-check): whatever
// bytes arrive, cut however TCP cuts them, the decoder yields whole valid
// messages or throws a FrameError, nothing else; a number a core could choke
// on (NaN, negative, fractional, past 2^53-1) is refused; and a length prefix,
// being only a claim, never makes it reserve memory the bytes did not bring.

import { describe, expect, it } from "bun:test";
import fc from "fast-check";
import { FrameKind, encodeFrame, type Frame } from "../../src/transport/codec.ts";
import { FrameError } from "../../src/transport/frame-error.ts";
import { FrameDecoder } from "../../src/transport/frame-decoder.ts";
import type { WireMessage } from "../../src/transport/types.ts";
import { framedPayload } from "./fixtures.ts";

const SEED = 20261130;
const MAX_FRAME = 1 << 20;

/** Feeds `bytes` cut at `cuts` (fractions of the length); returns the frames and the FrameError, if any. Anything else thrown escapes. */
function feed(bytes: Uint8Array, cuts: number[]): { frames: Frame[]; error: FrameError | null } {
  const d = new FrameDecoder({ maxFrameBytes: MAX_FRAME });
  const frames: Frame[] = [];
  const at = [...new Set(cuts.map((c) => Math.floor(c * bytes.length)))].sort((a, b) => a - b);
  try {
    let from = 0;
    for (const to of [...at, bytes.length]) {
      if (to > from) d.push(bytes.subarray(from, to), (f) => frames.push(f));
      from = Math.max(from, to);
    }
    d.end();
    return { frames, error: null };
  } catch (error) {
    if (error instanceof FrameError) return { frames, error };
    throw error;
  }
}

const cuts = fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 12 });
const id = fc.string({ maxLength: 12 });
const count = fc.oneof(fc.nat(), fc.constantFrom(0, Number.MAX_SAFE_INTEGER), fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }));
const bytes = fc.uint8Array({ maxLength: 64 });

/** Every kind of message, with any values the protocol allows. */
const message: fc.Arbitrary<WireMessage> = fc.oneof(
  fc.record({ type: fc.constant("vote" as const), from: id, to: id, term: count, preVote: fc.boolean(), lastLogIndex: count, lastLogTerm: count, transfer: fc.boolean() }),
  fc.record({ type: fc.constant("voteResp" as const), from: id, to: id, term: count, preVote: fc.boolean(), granted: fc.boolean() }),
  fc.record({
    type: fc.constant("append" as const), from: id, to: id, term: count, prevIndex: count, prevTerm: count, commit: count, seq: count,
    entries: fc.array(fc.record({ index: count, term: count, type: fc.constantFrom(0 as const, 1 as const, 2 as const), data: bytes }), { maxLength: 4 }),
  }),
  fc.record({ type: fc.constant("appendResp" as const), from: id, to: id, term: count, success: fc.boolean(), matchIndex: count, conflictIndex: count, conflictTerm: count, lastIndex: count, seq: count }),
  fc.record({ type: fc.constant("heartbeat" as const), from: id, to: id, term: count, commit: count, seq: count }),
  fc.record({ type: fc.constant("heartbeatResp" as const), from: id, to: id, term: count, seq: count }),
  fc.record({
    type: fc.constant("snapshot" as const), from: id, to: id, term: count, offset: count, size: count, done: fc.boolean(), data: bytes,
    meta: fc.record({ index: count, term: count, configurationIndex: count, configuration: fc.record({ servers: fc.array(fc.record({ id, address: id, suffrage: fc.constantFrom("voter" as const, "nonvoter" as const) }), { maxLength: 3 }) }) }),
  }),
  fc.record({ type: fc.constant("snapshotResp" as const), from: id, to: id, term: count, index: count, nextOffset: count, installed: fc.boolean(), accepted: fc.boolean() }),
  fc.record({ type: fc.constant("timeoutNow" as const), from: id, to: id, term: count }),
  fc.record({ type: fc.constant("forward" as const), from: id, to: id, term: count, id: count, timeoutMs: fc.double({ min: 0, max: 1e9, noNaN: true }), payload: bytes }),
  fc.record({ type: fc.constant("forwardResp" as const), from: id, to: id, term: count, id: count, status: fc.integer({ min: 0, max: 255 }), payload: bytes }),
);

/** A frame with a correct length, version and CRC around any kind byte and payload: it reaches the payload decoder. */
const wellFramedJunk = fc.tuple(fc.integer({ min: 0, max: 15 }), fc.uint8Array({ maxLength: 200 })).map(([kind, payload]) => framedPayload(kind, payload));

function numbersIn(v: unknown): number[] {
  if (typeof v === "number") return [v];
  if (v === null || typeof v !== "object" || v instanceof Uint8Array) return [];
  return Object.values(v).flatMap(numbersIn);
}

const badNumber = fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -1, -0.5, 0.5, 2 ** 53, 2 ** 60, 1e300);

describe("FrameDecoder: properties over arbitrary input", () => {
  it("arbitrary bytes, in arbitrary chunks, only ever yield a FrameError", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2048 }), cuts, (junk, at) => {
        feed(junk, at); // anything but a FrameError escapes and fails the property
      }),
      { seed: SEED, numRuns: 2000 },
    );
  });

  it("well-framed junk (right length and CRC, any kind, any payload) only ever yields a FrameError or a valid message", () => {
    fc.assert(
      fc.property(fc.array(wellFramedJunk, { minLength: 1, maxLength: 4 }), cuts, (frames, at) => {
        const { frames: decoded } = feed(Buffer.concat(frames), at);
        // What does decode carries only numbers a core can use.
        for (const f of decoded) for (const n of numbersIn(f)) expect(Number.isFinite(n) && n >= 0).toBe(true);
      }),
      { seed: SEED, numRuns: 3000 },
    );
  });

  it("any valid messages, cut anywhere, decode to exactly themselves", () => {
    fc.assert(
      fc.property(fc.array(message, { minLength: 1, maxLength: 5 }), cuts, (messages, at) => {
        const { frames, error } = feed(Buffer.concat(messages.map(encodeFrame)), at);
        expect(error).toBeNull();
        expect(frames).toEqual(messages);
      }),
      { seed: SEED, numRuns: 1000 },
    );
  });

  it("a term, index, offset or id that is NaN, infinite, negative, fractional or past 2^53-1 is refused as BAD_PAYLOAD, naming the field", () => {
    fc.assert(
      fc.property(message, badNumber, fc.nat(), (m, bad, pick) => {
        const fields = Object.keys(m).filter((k) => typeof (m as unknown as Record<string, unknown>)[k] === "number" && k !== "status" && k !== "timeoutMs");
        const field = fields[pick % fields.length]!;
        const forged = { ...m, [field]: bad } as WireMessage;
        const { frames, error } = feed(encodeFrame(forged), []);
        expect(frames).toEqual([]);
        expect(error?.code).toBe("BAD_PAYLOAD");
        expect(error?.message).toContain(field);
      }),
      { seed: SEED, numRuns: 1000 },
    );
  });

  it("a forwarded proposal's deadline must be a finite, non-negative number of ms", () => {
    for (const timeoutMs of [Number.NaN, Number.POSITIVE_INFINITY, -1]) {
      const { error } = feed(encodeFrame({ type: "forward", from: "n2", to: "n1", term: 0, id: 1, timeoutMs, payload: new Uint8Array(0) }), []);
      expect(error?.code).toBe("BAD_PAYLOAD");
    }
  });

  it("a length prefix is only a claim: the buffer reserved grows with the bytes that came, not with the length they announce", () => {
    fc.assert(
      fc.property(fc.integer({ min: 64 * 1024, max: 64 * 1024 * 1024 - 4 }), fc.array(fc.integer({ min: 1, max: 4096 }), { minLength: 1, maxLength: 8 }), (claimed, chunks) => {
        const d = new FrameDecoder();
        const head = new Uint8Array(6);
        new DataView(head.buffer).setUint32(0, claimed);
        head[4] = 1;
        head[5] = FrameKind.append;
        d.push(head, () => {});
        let received = head.length;
        for (const n of chunks) {
          d.push(new Uint8Array(n), () => {});
          received += n;
        }
        expect(d.buffered).toBe(received);
        expect(d.reserved).toBeLessThanOrEqual(Math.max(4096, 8 * received) * 2);
      }),
      { seed: SEED, numRuns: 300 },
    );
  });
});
