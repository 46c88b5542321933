import { describe, expect, it } from "bun:test";
import { SendQueue } from "../../src/transport/send-queue.ts";

const frame = (tag: number, size = 10): Uint8Array => new Uint8Array(size).fill(tag);
const tags = (b: Uint8Array | null, size = 10): number[] => {
  const out: number[] = [];
  for (let i = 0; b && i < b.length; i += size) out.push(b[i]!);
  return out;
};

describe("SendQueue", () => {
  it("returns queued frames in order, merged into one buffer up to the limit", () => {
    const q = new SendQueue(1000);
    for (let i = 1; i <= 5; i++) q.push(frame(i), false);
    expect(tags(q.take(30))).toEqual([1, 2, 3]);
    expect(tags(q.take(1000))).toEqual([4, 5]);
    expect(q.take(1000)).toBeNull();
    expect(q.bytes).toBe(0);
  });

  it("always takes at least one frame, and hands a lone frame over without copying", () => {
    const q = new SendQueue(1000);
    const big = frame(9, 500);
    q.push(big, false);
    expect(q.take(10)).toBe(big);
  });

  it("when full, drops the oldest messages that are not snapshot chunks", () => {
    const q = new SendQueue(30);
    q.push(frame(1), false);
    q.push(frame(2), true);
    q.push(frame(3), false);
    expect(q.push(frame(4), false)).toBe(true);
    expect(q.dropped).toBe(1);
    expect(tags(q.take(100))).toEqual([2, 3, 4]);
  });

  it("drops the newcomer when only snapshot chunks are queued", () => {
    const q = new SendQueue(20);
    q.push(frame(1), true);
    q.push(frame(2), true);
    expect(q.push(frame(3), false)).toBe(false);
    expect(tags(q.take(100))).toEqual([1, 2]);
  });

  it("drops a frame larger than the whole queue", () => {
    const q = new SendQueue(20);
    expect(q.push(frame(1, 21), false)).toBe(false);
    expect(q.length).toBe(0);
  });

  it("stays bounded under a flood", () => {
    const q = new SendQueue(10_000);
    for (let i = 0; i < 100_000; i++) q.push(frame(i & 0xff, 100), i % 1000 === 0);
    expect(q.bytes).toBeLessThanOrEqual(10_000);
    expect(q.length).toBe(100);
  });
});
