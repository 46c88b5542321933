// The bytes of one plugin command in a Raft log entry.
//
//   u8  format version (1)
//   f64 leader timestamp (ms since the epoch, taken when proposed)
//   u8  plugin name length, plugin name (UTF-8)
//   u8  command name length, command name (UTF-8)
//   u32 JSON length, JSON of the arguments
//   u32 blob count, then per blob: u32 length, bytes
//
// Binary values (Uint8Array) travel as blobs, referenced from the JSON as
// {"\u0000b": i}, so a 1 MiB config value is not inflated by base64. The
// entry itself is checksummed by the log store and by the transport; this
// layer only needs its version byte.

export const COMMAND_FORMAT_VERSION = 1;
const BLOB_KEY = "\u0000b";

export interface EncodedCommand {
  plugin: string;
  command: string;
  args: unknown;
  /** The proposing leader's clock: the only time a plugin ever sees. */
  timestamp: number;
}

export class CommandFormatError extends Error {
  readonly code = "BAD_COMMAND_FORMAT";
  constructor(detail: string) {
    super(`a log entry does not hold a readable plugin command: ${detail}`);
    this.name = "CommandFormatError";
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

export function encodeCommand(c: EncodedCommand): Uint8Array {
  const blobs: Uint8Array[] = [];
  const json = encoder.encode(
    JSON.stringify(c.args, function (this: Record<string, unknown>, key: string, value: unknown) {
      // The holder's own value: a Buffer's toJSON() has already turned `value` into {type, data}.
      const raw = key === "" ? c.args : this[key];
      if (raw instanceof Uint8Array) {
        blobs.push(raw);
        return { [BLOB_KEY]: blobs.length - 1 };
      }
      return value;
    }) ?? "null",
  );
  const plugin = encoder.encode(c.plugin);
  const command = encoder.encode(c.command);
  if (plugin.length > 255 || command.length > 255) throw new CommandFormatError("plugin or command name longer than 255 bytes");
  let size = 1 + 8 + 1 + plugin.length + 1 + command.length + 4 + json.length + 4;
  for (const b of blobs) size += 4 + b.length;
  // The buffer first: reading `.buffer` of a new small typed array makes the
  // engine give it a separate ArrayBuffer (2% of a leader's loop in a profile).
  const buffer = new ArrayBuffer(size);
  const out = new Uint8Array(buffer);
  const view = new DataView(buffer);
  let at = 0;
  out[at++] = COMMAND_FORMAT_VERSION;
  view.setFloat64(at, c.timestamp);
  at += 8;
  out[at++] = plugin.length;
  out.set(plugin, at);
  at += plugin.length;
  out[at++] = command.length;
  out.set(command, at);
  at += command.length;
  view.setUint32(at, json.length);
  at += 4;
  out.set(json, at);
  at += json.length;
  view.setUint32(at, blobs.length);
  at += 4;
  for (const b of blobs) {
    view.setUint32(at, b.length);
    at += 4;
    out.set(b, at);
    at += b.length;
  }
  return out;
}

export function decodeCommand(data: Uint8Array): EncodedCommand {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  let at = 0;
  const need = (n: number): void => {
    if (at + n > data.length) throw new CommandFormatError(`truncated at byte ${at} of ${data.length}`);
  };
  need(1);
  const version = data[at++]!;
  if (version !== COMMAND_FORMAT_VERSION) {
    throw new CommandFormatError(`format version ${version}, this build reads version ${COMMAND_FORMAT_VERSION}; run the same Pontoon version on every node`);
  }
  need(8);
  const timestamp = view.getFloat64(at);
  at += 8;
  const text = (length: number): string => {
    need(length);
    let s: string;
    try {
      s = decoder.decode(data.subarray(at, at + length));
    } catch {
      throw new CommandFormatError(`invalid UTF-8 in bytes ${at}..${at + length}`);
    }
    at += length;
    return s;
  };
  need(1);
  const plugin = text(data[at++]!);
  need(1);
  const command = text(data[at++]!);
  need(4);
  const jsonLength = view.getUint32(at);
  at += 4;
  const jsonText = text(jsonLength);
  need(4);
  const count = view.getUint32(at);
  at += 4;
  const blobs: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    need(4);
    const length = view.getUint32(at);
    at += 4;
    need(length);
    // A plain Uint8Array, even when `data` is a Buffer (as off a socket): a
    // Buffer's toJSON would turn each byte into a JSON number whenever the
    // command is encoded again (a leader re-stamps every forwarded one).
    blobs.push(new Uint8Array(data.subarray(at, at + length)));
    at += length;
  }
  if (at !== data.length) throw new CommandFormatError(`${data.length - at} trailing bytes`);
  let args: unknown;
  try {
    args = JSON.parse(jsonText, (_key, value: unknown) => {
      if (value !== null && typeof value === "object" && BLOB_KEY in value) {
        const blob = blobs[(value as Record<string, number>)[BLOB_KEY]!];
        if (!blob) throw new CommandFormatError("a binary argument refers to a missing blob");
        return blob;
      }
      return value;
    });
  } catch (error) {
    if (error instanceof CommandFormatError) throw error;
    throw new CommandFormatError(`arguments are not JSON (${String(error)})`);
  }
  return { plugin, command, args, timestamp };
}
