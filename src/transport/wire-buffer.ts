// Cursor-style writer and reader over one frame's bytes. The writer is sized
// up front by the codec (no growth, no copies); the reader checks every read
// against the payload's end so a short or hostile payload becomes a
// FrameError instead of a RangeError or a silently wrong number.

import { FrameError } from "./frame-error.ts";

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder();

export function utf8(s: string): Uint8Array {
  return utf8Encoder.encode(s);
}

export class ByteWriter {
  private readonly view: DataView;

  constructor(
    readonly bytes: Uint8Array,
    public pos: number,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  u8(v: number): void {
    this.view.setUint8(this.pos, v);
    this.pos += 1;
  }

  bool(v: boolean): void {
    this.u8(v ? 1 : 0);
  }

  u32(v: number): void {
    this.view.setUint32(this.pos, v);
    this.pos += 4;
  }

  /** Indexes, terms and offsets: a float64 holds every integer a JS number can (2^53) exactly. */
  f64(v: number): void {
    this.view.setFloat64(this.pos, v);
    this.pos += 8;
  }

  /** u32 length, then the bytes. */
  blob(b: Uint8Array): void {
    this.u32(b.length);
    this.bytes.set(b, this.pos);
    this.pos += b.length;
  }
}

export class ByteReader {
  private readonly view: DataView;

  constructor(
    private readonly bytes: Uint8Array,
    public pos: number,
    private readonly end: number,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  private need(n: number, what: string): void {
    if (this.pos + n > this.end) {
      throw new FrameError("TRUNCATED", `payload ends before ${what} (needs ${n} bytes at ${this.pos}, payload ends at ${this.end})`);
    }
  }

  u8(what: string): number {
    this.need(1, what);
    return this.view.getUint8(this.pos++);
  }

  bool(what: string): boolean {
    const v = this.u8(what);
    if (v > 1) throw new FrameError("BAD_PAYLOAD", `${what} is ${v}, not a boolean (0 or 1)`);
    return v === 1;
  }

  u32(what: string): number {
    this.need(4, what);
    const v = this.view.getUint32(this.pos);
    this.pos += 4;
    return v;
  }

  f64(what: string): number {
    this.need(8, what);
    const v = this.view.getFloat64(this.pos);
    this.pos += 8;
    return v;
  }

  /**
   * A copy, not a view: the decoded message must own its bytes, because the
   * socket layer may reuse the chunk it read them from.
   */
  blob(what: string): Uint8Array {
    const n = this.u32(`${what} length`);
    this.need(n, what);
    const out = this.bytes.slice(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  string(what: string): string {
    const n = this.u32(`${what} length`);
    this.need(n, what);
    const s = utf8Decoder.decode(this.bytes.subarray(this.pos, this.pos + n));
    this.pos += n;
    return s;
  }

  /** A message that does not use its whole payload was written by something else. */
  expectEnd(kind: string): void {
    if (this.pos !== this.end) {
      throw new FrameError("BAD_PAYLOAD", `${this.end - this.pos} unexpected trailing bytes after a ${kind} message`);
    }
  }
}
