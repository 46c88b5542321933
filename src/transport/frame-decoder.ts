// Turns a byte stream cut into arbitrary chunks back into frames. TCP gives
// no message boundaries, so a frame may arrive in many chunks and one chunk
// may hold many frames; the decoder decodes straight from the chunk when it
// can and only copies the unfinished tail.
//
// Any inconsistency is a FrameError, and the decoder stays failed: after one
// bad frame nothing later on the stream can be trusted to be aligned.

import { FRAME_OVERHEAD, WIRE_VERSION, decodePayload, isKnownKind, type Frame } from "./codec.ts";
import { FrameError } from "./frame-error.ts";

export const DEFAULT_MAX_FRAME_BYTES = 64 * 1024 * 1024;
/** A buffer grown for one big frame (a snapshot chunk) is released once empty, not kept for the connection's life. */
const KEEP_BUFFER_BYTES = 1024 * 1024;
/** A pending frame's buffer is sized for it at most this many times the bytes received so far. */
const PRESIZE_FACTOR = 8;

export interface FrameDecoderOptions {
  /** Largest whole frame (length prefix included) accepted; larger prefixes fail before any byte is buffered. */
  maxFrameBytes?: number;
}

export class FrameDecoder {
  private readonly maxFrameBytes: number;
  private buf = new Uint8Array(0);
  private len = 0;
  private failure: FrameError | null = null;

  constructor(options: FrameDecoderOptions = {}) {
    this.maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
  }

  /** Bytes held while waiting for the rest of a frame. */
  get buffered(): number {
    return this.len;
  }

  /** Bytes of buffer reserved, held or not: what one connection costs in memory. */
  get reserved(): number {
    return this.buf.length;
  }

  /**
   * Feeds one chunk; calls `onFrame` for every frame it completes, in order.
   * Throws FrameError (and keeps throwing it) once the stream is bad.
   * `onFrame` must not throw: the decoder would lose its place.
   */
  push(chunk: Uint8Array, onFrame: (frame: Frame) => void): void {
    if (this.failure) throw this.failure;
    try {
      if (this.len === 0) {
        const used = this.drain(chunk, chunk.length, onFrame);
        if (used < chunk.length) this.stash(chunk.subarray(used));
      } else {
        this.stash(chunk);
        const used = this.drain(this.buf, this.len, onFrame);
        if (used > 0) {
          this.buf.copyWithin(0, used, this.len);
          this.len -= used;
        }
        if (this.len === 0 && this.buf.length > KEEP_BUFFER_BYTES) this.buf = new Uint8Array(0);
      }
    } catch (error) {
      if (error instanceof FrameError) this.failure = error;
      throw error;
    }
  }

  /** The stream ended: a partial frame left over means it was cut short. */
  end(): void {
    if (this.failure) throw this.failure;
    if (this.len > 0) {
      this.failure = new FrameError("TRUNCATED", `stream ended inside a frame (${this.len} bytes of it received)`);
      throw this.failure;
    }
  }

  /** Decodes every complete frame in bytes[0, end); returns how many bytes it consumed. */
  private drain(bytes: Uint8Array, end: number, onFrame: (frame: Frame) => void): number {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    let pos = 0;
    while (end - pos >= 4) {
      const rest = view.getUint32(pos);
      if (rest < FRAME_OVERHEAD - 4) throw new FrameError("BAD_LENGTH", `frame length ${rest} is below the minimum ${FRAME_OVERHEAD - 4}`);
      if (rest + 4 > this.maxFrameBytes) {
        throw new FrameError("FRAME_TOO_LARGE", `frame of ${rest + 4} bytes exceeds the limit of ${this.maxFrameBytes}`);
      }
      // Version and kind are checked as soon as they arrive, so garbage with a
      // plausible length is refused without buffering megabytes first.
      if (end - pos >= 5 && bytes[pos + 4] !== WIRE_VERSION) {
        throw new FrameError("BAD_VERSION", `frame version ${bytes[pos + 4]}; this node speaks version ${WIRE_VERSION}`);
      }
      if (end - pos < 4 + rest) break;
      const crcAt = pos + rest; // = pos + 4 + rest - 4
      const expected = view.getUint32(crcAt);
      const actual = Bun.hash.crc32(bytes.subarray(pos + 4, crcAt));
      if (expected !== actual) throw new FrameError("BAD_CRC", `frame checksum ${hex(actual)} does not match ${hex(expected)}`);
      const kind = bytes[pos + 5]!;
      if (!isKnownKind(kind)) throw new FrameError("UNKNOWN_KIND", `unknown message kind ${kind}`);
      const frame = decodePayload(kind, bytes, pos + 6, crcAt);
      pos += 4 + rest;
      onFrame(frame);
    }
    return pos;
  }

  private stash(chunk: Uint8Array): void {
    const need = this.len + chunk.length;
    if (need > this.buf.length) {
      // Size for the whole pending frame when its length is known, so a big
      // snapshot chunk is copied once rather than through a chain of doublings;
      // but never more than a few times what has actually arrived: a length
      // prefix is only a claim, and a connection that sends 64 MiB prefixes
      // and nothing after them must not reserve 64 MiB each.
      let want = Math.max(need, this.buf.length * 2, 4096);
      const head = this.len >= 4 ? this.buf : chunk.length >= 4 && this.len === 0 ? chunk : null;
      if (head) {
        const declared = Math.min(new DataView(head.buffer, head.byteOffset, 4).getUint32(0) + 4, this.maxFrameBytes);
        want = Math.max(want, Math.min(declared, need * PRESIZE_FACTOR));
      }
      const next = new Uint8Array(want);
      next.set(this.buf.subarray(0, this.len));
      this.buf = next;
    }
    this.buf.set(chunk, this.len);
    this.len = need;
  }
}

function hex(n: number): string {
  return `0x${n.toString(16).padStart(8, "0")}`;
}

/** Decodes a buffer that holds whole frames only (tests, tools). */
export function decodeFrames(bytes: Uint8Array, options?: FrameDecoderOptions): Frame[] {
  const out: Frame[] = [];
  const d = new FrameDecoder(options);
  d.push(bytes, (f) => out.push(f));
  d.end();
  return out;
}
