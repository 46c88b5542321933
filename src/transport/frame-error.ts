// The one error the wire codec throws. A FrameError means "this byte stream
// can no longer be trusted": the TCP layer answers it by closing just that
// connection (never the process), so it carries a code a log line can show
// and nothing that needs a stack to understand.

export type FrameErrorCode =
  /** The length prefix is smaller than the smallest possible frame. */
  | "BAD_LENGTH"
  /** The length prefix exceeds the receiver's maxFrameBytes. */
  | "FRAME_TOO_LARGE"
  /** The version byte is not one this build speaks. */
  | "BAD_VERSION"
  /** The checksum does not match: the bytes were damaged or are not ours. */
  | "BAD_CRC"
  /** The kind byte names no message. */
  | "UNKNOWN_KIND"
  /** The payload ends before the message does (or a stream ended mid-frame). */
  | "TRUNCATED"
  /** The payload is well framed but its content is invalid (bad boolean, trailing bytes, bad JSON). */
  | "BAD_PAYLOAD";

export class FrameError extends Error {
  constructor(
    readonly code: FrameErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "FrameError";
  }
}
