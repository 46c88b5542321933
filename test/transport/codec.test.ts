import { describe, expect, it } from "bun:test";
import { FRAME_OVERHEAD, encodeFrame, encodeMessage } from "../../src/transport/codec.ts";
import { FrameError } from "../../src/transport/frame-error.ts";
import { FrameDecoder, decodeFrames } from "../../src/transport/frame-decoder.ts";
import type { Frame } from "../../src/transport/codec.ts";
import { samples } from "./fixtures.ts";

function expectFrameError(fn: () => unknown, code: FrameError["code"]): void {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(FrameError);
    expect((error as FrameError).code).toBe(code);
    return;
  }
  throw new Error(`expected FrameError ${code}`);
}

/** Recomputes the CRC after a deliberate edit, to test the checks behind it. */
function reseal(frame: Uint8Array): Uint8Array {
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  view.setUint32(frame.length - 4, Bun.hash.crc32(frame.subarray(4, frame.length - 4)));
  return frame;
}

describe("codec: round trips", () => {
  for (const [i, m] of samples.entries()) {
    it(`${m.type} (sample ${i}) decodes to an equal message`, () => {
      const frame = encodeMessage(m);
      expect(decodeFrames(frame)).toEqual([m]);
    });
  }

  it("frames every variant as u32 length | version 1 | kind | payload | crc32", () => {
    for (const m of samples) {
      const frame = encodeMessage(m);
      const view = new DataView(frame.buffer);
      expect(view.getUint32(0)).toBe(frame.length - 4);
      expect(frame[4]).toBe(1);
      expect(view.getUint32(frame.length - 4)).toBe(Bun.hash.crc32(frame.subarray(4, frame.length - 4)));
    }
  });

  it("decodes a stream of every variant fed one byte at a time", () => {
    const all = samples.map(encodeMessage);
    const out: Frame[] = [];
    const d = new FrameDecoder();
    for (const f of all) for (let i = 0; i < f.length; i++) d.push(f.subarray(i, i + 1), (x) => out.push(x));
    d.end();
    expect(out).toEqual(samples);
  });

  it("decodes many frames from one chunk and keeps a split tail for the next", () => {
    const stream = Buffer.concat(samples.map(encodeMessage));
    const cut = Math.floor(stream.length / 2) + 3;
    const out: Frame[] = [];
    const d = new FrameDecoder();
    d.push(stream.subarray(0, cut), (x) => out.push(x));
    expect(d.buffered).toBeGreaterThan(0);
    d.push(stream.subarray(cut), (x) => out.push(x));
    expect(out).toEqual(samples);
    expect(d.buffered).toBe(0);
  });

  it("gives decoded messages their own bytes, not views into the reused chunk", () => {
    const m = samples[4]!;
    const chunk = new Uint8Array(encodeMessage(m));
    const [decoded] = decodeFrames(chunk);
    chunk.fill(0);
    expect(decoded).toEqual(m);
  });

  it("carries the transport's hello", () => {
    expect(decodeFrames(encodeFrame({ type: "hello", address: "[::1]:7000" }))).toEqual([{ type: "hello", address: "[::1]:7000" }]);
  });
});

describe("codec: refusals", () => {
  const good = () => new Uint8Array(encodeMessage(samples[0]!));

  it("refuses a wrong version", () => {
    const f = good();
    f[4] = 2;
    expectFrameError(() => decodeFrames(reseal(f)), "BAD_VERSION");
  });

  it("refuses a wrong version from its first bytes, before the frame is complete", () => {
    const f = good();
    f[4] = 9;
    expectFrameError(() => new FrameDecoder().push(f.subarray(0, 5), () => {}), "BAD_VERSION");
  });

  it("refuses an unknown kind", () => {
    const f = good();
    f[5] = 200;
    expectFrameError(() => decodeFrames(reseal(f)), "UNKNOWN_KIND");
  });

  it("refuses a damaged payload by its checksum", () => {
    const f = good();
    f[12] = f[12]! ^ 0x10;
    expectFrameError(() => decodeFrames(f), "BAD_CRC");
  });

  it("refuses a frame over maxFrameBytes as soon as the length arrives", () => {
    const f = encodeMessage(samples[4]!);
    expectFrameError(() => new FrameDecoder({ maxFrameBytes: 1024 }).push(f.subarray(0, 4), () => {}), "FRAME_TOO_LARGE");
  });

  it("refuses a length below the smallest frame", () => {
    expectFrameError(() => decodeFrames(new Uint8Array([0, 0, 0, 2, 1, 1])), "BAD_LENGTH");
  });

  it("refuses a payload that ends before its message (checksum intact)", () => {
    const f = good();
    const short = new Uint8Array(f.length - 3);
    short.set(f.subarray(0, f.length - 7));
    new DataView(short.buffer).setUint32(0, short.length - 4);
    expectFrameError(() => decodeFrames(reseal(short)), "TRUNCATED");
  });

  it("refuses trailing bytes and non-boolean flags", () => {
    const f = good();
    const long = new Uint8Array(f.length + 1);
    long.set(f.subarray(0, f.length - 4));
    new DataView(long.buffer).setUint32(0, long.length - 4);
    expectFrameError(() => decodeFrames(reseal(long)), "BAD_PAYLOAD");
    const flag = good();
    const flagAt = 4 + 2 + 4 + 2 + 4 + 2 + 8; // header, "n1", "n2", term → preVote
    flag[flagAt] = 7;
    expectFrameError(() => decodeFrames(reseal(flag)), "BAD_PAYLOAD");
  });

  it("reports a stream that ends inside a frame", () => {
    const f = good();
    const d = new FrameDecoder();
    d.push(f.subarray(0, f.length - 1), () => {});
    expectFrameError(() => d.end(), "TRUNCATED");
  });

  it("stays failed after a bad frame: nothing later on the stream is trusted", () => {
    const d = new FrameDecoder();
    const bad = good();
    bad[4] = 3;
    expectFrameError(() => d.push(bad, () => {}), "BAD_VERSION");
    expectFrameError(() => d.push(good(), () => {}), "BAD_VERSION");
  });

  it("has 10 bytes of overhead per frame", () => {
    expect(FRAME_OVERHEAD).toBe(10);
  });
});
