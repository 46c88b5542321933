// Whatever bytes arrive, the decoder either yields messages or throws a
// FrameError, and returns promptly: a hostile or broken peer can close its
// own connection, never crash or stall the node. Seeded, so a failure replays.

import { describe, expect, it } from "bun:test";
import { seededRandom } from "../../src/raft/core/random.ts";
import { encodeMessage, type Frame } from "../../src/transport/codec.ts";
import { FrameError } from "../../src/transport/frame-error.ts";
import { FrameDecoder } from "../../src/transport/frame-decoder.ts";
import { samples } from "./fixtures.ts";

/** Feeds `bytes` in random chunks; returns the frames and the FrameError, if any. Any other error fails the test. */
function feed(bytes: Uint8Array, random: () => number, maxFrameBytes = 1 << 20): { frames: Frame[]; error: FrameError | null } {
  const d = new FrameDecoder({ maxFrameBytes });
  const frames: Frame[] = [];
  try {
    let at = 0;
    while (at < bytes.length) {
      const n = 1 + Math.floor(random() * 64);
      d.push(bytes.subarray(at, at + n), (f) => frames.push(f));
      at += n;
    }
    d.end();
    return { frames, error: null };
  } catch (error) {
    if (error instanceof FrameError) return { frames, error };
    throw error;
  }
}

const stream = Buffer.concat(samples.map(encodeMessage));

describe("codec: hostile input", () => {
  it("random bytes only ever produce a FrameError", () => {
    const random = seededRandom(7);
    for (let round = 0; round < 2000; round++) {
      const junk = new Uint8Array(1 + Math.floor(random() * 512));
      for (let i = 0; i < junk.length; i++) junk[i] = Math.floor(random() * 256);
      // Plausible headers too: a small length and version 1, so the CRC check is reached.
      if (round % 2 === 0 && junk.length > 6) {
        new DataView(junk.buffer).setUint32(0, junk.length - 4);
        junk[4] = 1;
        junk[5] = Math.floor(random() * 10);
      }
      // feed() rethrows anything that is not a FrameError, failing the test.
      const { error } = feed(junk, random);
      expect(error === null || error instanceof FrameError).toBe(true);
    }
  });

  it("every truncation of a valid stream decodes a prefix of it, then reports TRUNCATED", () => {
    const random = seededRandom(11);
    for (let cut = 0; cut < stream.length; cut += 1 + Math.floor(random() * 97)) {
      const { frames, error } = feed(stream.subarray(0, cut), random);
      expect(samples.slice(0, frames.length)).toEqual(frames as typeof samples);
      if (frames.length < samples.length && cut > 0) expect(error?.code).toBe("TRUNCATED");
    }
  });

  it("a flipped bit never yields a wrong message: frames before it decode, the damaged one is refused", () => {
    const random = seededRandom(13);
    for (let round = 0; round < 3000; round++) {
      const damaged = new Uint8Array(stream);
      const bit = Math.floor(random() * damaged.length * 8);
      damaged[bit >> 3] = damaged[bit >> 3]! ^ (1 << (bit & 7));
      const { frames, error } = feed(damaged, random, 64 * 1024 * 1024);
      // A flip in a length prefix may make the decoder wait for bytes that
      // never come (TRUNCATED at end) — it still never invents a message.
      expect(error).not.toBeNull();
      expect(samples.slice(0, frames.length)).toEqual(frames as typeof samples);
    }
  });
});
