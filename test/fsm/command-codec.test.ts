import { describe, expect, it } from "bun:test";
import { COMMAND_FORMAT_VERSION, CommandFormatError, decodeCommand, encodeCommand, type EncodedCommand } from "../../src/fsm/command-codec.ts";

const allBytes = Uint8Array.from({ length: 256 }, (_, i) => i);

/** Builds an encoded command field by field, so a test can get one field wrong. */
function raw(parts: { version?: number; plugin?: Uint8Array; command?: Uint8Array; json?: Uint8Array; blobs?: Uint8Array[]; blobCount?: number }): Uint8Array {
  const text = new TextEncoder();
  const plugin = parts.plugin ?? text.encode("kv");
  const command = parts.command ?? text.encode("put");
  const json = parts.json ?? text.encode("{}");
  const blobs = parts.blobs ?? [];
  const chunks: number[] = [parts.version ?? COMMAND_FORMAT_VERSION, 0, 0, 0, 0, 0, 0, 0, 0, plugin.length, ...plugin, command.length, ...command];
  const u32 = (n: number) => [(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
  chunks.push(...u32(json.length), ...json, ...u32(parts.blobCount ?? blobs.length));
  for (const b of blobs) chunks.push(...u32(b.length), ...b);
  return Uint8Array.from(chunks);
}

describe("command codec: round trip", () => {
  const cases: { name: string; command: EncodedCommand }[] = [
    { name: "plain JSON arguments", command: { plugin: "kv", command: "delete", args: { key: "app/a", cas: 7 }, timestamp: 1_700_000_000_123 } },
    { name: "every byte value 0..255 as a top-level value", command: { plugin: "kv", command: "put", args: { key: "k", value: allBytes }, timestamp: 1 } },
    {
      name: "binary values nested in objects and arrays",
      command: {
        plugin: "files",
        command: "store",
        args: { meta: { name: "x", parts: [allBytes, new Uint8Array(0), { deep: Uint8Array.of(0, 0xff, 0x7b, 0x22) }] }, tail: Uint8Array.of(0) },
        timestamp: 2,
      },
    },
    { name: "a large binary value", command: { plugin: "kv", command: "put", args: { key: "big", value: Uint8Array.from({ length: 100_000 }, (_, i) => (i * 31) & 0xff) }, timestamp: 3 } },
    { name: "a binary value as the whole argument", command: { plugin: "raw", command: "write", args: allBytes, timestamp: 4 } },
    { name: "null arguments", command: { plugin: "c", command: "tick", args: null, timestamp: 0 } },
    { name: "non-ASCII names and strings", command: { plugin: "plugin_é", command: "commande_ü", args: { s: "€ 𝄞 \u0000 end" }, timestamp: -5.5 } },
    { name: "a fractional, large timestamp", command: { plugin: "kv", command: "put", args: {}, timestamp: 8_640_000_000_000_000.25 } },
  ];
  for (const c of cases) {
    it(`decodes what it encoded: ${c.name}`, () => {
      const decoded = decodeCommand(encodeCommand(c.command));
      expect(decoded).toEqual(c.command);
    });
  }

  it("decodes binary values as Uint8Array with exactly the bytes given, not copies of the whole entry", () => {
    const decoded = decodeCommand(encodeCommand({ plugin: "kv", command: "put", args: { a: allBytes, b: Uint8Array.of(9) }, timestamp: 1 }));
    const args = decoded.args as { a: Uint8Array; b: Uint8Array };
    expect(args.a).toBeInstanceOf(Uint8Array);
    expect(args.a.byteLength).toBe(256);
    expect([...args.a]).toEqual([...allBytes]);
    expect(args.b.byteLength).toBe(1);
    expect(args.b[0]).toBe(9);
  });

  it("decodes a command lying inside a larger buffer (a subarray with an offset)", () => {
    const encoded = encodeCommand({ plugin: "kv", command: "put", args: { value: allBytes }, timestamp: 42 });
    const framed = new Uint8Array(encoded.length + 17);
    framed.set(encoded, 9);
    expect(decodeCommand(framed.subarray(9, 9 + encoded.length))).toEqual({ plugin: "kv", command: "put", args: { value: allBytes }, timestamp: 42 });
  });

  it("refuses to encode a plugin or command name longer than 255 bytes", () => {
    expect(() => encodeCommand({ plugin: "p".repeat(256), command: "c", args: null, timestamp: 0 })).toThrow(CommandFormatError);
    expect(() => encodeCommand({ plugin: "p", command: "é".repeat(128), args: null, timestamp: 0 })).toThrow(CommandFormatError);
  });

  // A Buffer's toJSON runs before the replacer sees the value: the codec must read the raw one.
  it("decodes a Buffer argument as the same bytes", () => {
    const decoded = decodeCommand(encodeCommand({ plugin: "kv", command: "put", args: { value: Buffer.from([0, 1, 255]) }, timestamp: 1 }));
    expect((decoded.args as { value: unknown }).value).toEqual(Uint8Array.of(0, 1, 255));
  });

  // Commands arrive off sockets as Buffers, and a leader encodes every forwarded one again:
  // a Buffer blob would go through Buffer.toJSON (a number per byte) each time.
  it("decodes the blobs of a command held in a Buffer as plain Uint8Arrays", () => {
    const wire = Buffer.from(encodeCommand({ plugin: "kv", command: "put", args: { value: allBytes }, timestamp: 1 }));
    const value = (decodeCommand(wire).args as { value: Uint8Array }).value;
    expect(value.constructor).toBe(Uint8Array);
    expect([...value]).toEqual([...allBytes]);
  });
});

describe("command codec: malformed input", () => {
  const valid = encodeCommand({ plugin: "kv", command: "put", args: { key: "k", value: allBytes, more: [Uint8Array.of(1, 2)] }, timestamp: 1_700_000_000_000 });

  it("rejects every truncation of a valid command with CommandFormatError", () => {
    for (let length = 0; length < valid.length; length++) {
      let thrown: unknown;
      try {
        decodeCommand(valid.subarray(0, length));
      } catch (error) {
        thrown = error;
      }
      if (!(thrown instanceof CommandFormatError)) throw new Error(`a command cut to ${length} of ${valid.length} bytes was not rejected with CommandFormatError (got ${String(thrown)})`);
    }
  });

  const cases: { name: string; data: Uint8Array; says: string }[] = [
    { name: "trailing bytes", data: Uint8Array.from([...valid, 0]), says: "1 trailing bytes" },
    { name: "another format version", data: raw({ version: COMMAND_FORMAT_VERSION + 1 }), says: `format version ${COMMAND_FORMAT_VERSION + 1}` },
    { name: "format version 0", data: raw({ version: 0 }), says: "format version 0" },
    { name: "a blob count larger than the blobs present", data: raw({ blobs: [Uint8Array.of(1)], blobCount: 2 }), says: "truncated" },
    { name: "a blob count of 2^32-1", data: raw({ blobCount: 0xffffffff }), says: "truncated" },
    { name: "arguments that are not JSON", data: raw({ json: new TextEncoder().encode('{"key":') }), says: "arguments are not JSON" },
    { name: "a reference to a blob that is not there", data: raw({ json: new TextEncoder().encode('{"value":{"\\u0000b":3}}'), blobs: [Uint8Array.of(1)] }), says: "missing blob" },
  ];
  for (const c of cases) {
    it(`rejects ${c.name} with CommandFormatError`, () => {
      expect(() => decodeCommand(c.data)).toThrow(CommandFormatError);
      expect(() => decodeCommand(c.data)).toThrow(c.says);
    });
  }

  it("names its error BAD_COMMAND_FORMAT and says the entry is not a readable plugin command", () => {
    try {
      decodeCommand(raw({ version: 9 }));
      throw new Error("not rejected");
    } catch (error) {
      expect(error).toBeInstanceOf(CommandFormatError);
      expect((error as CommandFormatError).code).toBe("BAD_COMMAND_FORMAT");
      expect((error as Error).message).toContain("a log entry does not hold a readable plugin command");
    }
  });

  it("rejects a plugin name that is not valid UTF-8 with an error", () => {
    expect(() => decodeCommand(raw({ plugin: Uint8Array.of(0x6b, 0xff) }))).toThrow();
  });

  it("rejects invalid UTF-8 in a name or the arguments with CommandFormatError", () => {
    for (const data of [raw({ plugin: Uint8Array.of(0x6b, 0xff) }), raw({ command: Uint8Array.of(0xc3) }), raw({ json: Uint8Array.of(0x22, 0xed, 0xa0, 0x80, 0x22) })]) {
      expect(() => decodeCommand(data)).toThrow(CommandFormatError);
    }
  });
});
