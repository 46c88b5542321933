import { describe, expect, it } from "bun:test";
import { formatAddress, parseAddress } from "../../src/transport/address.ts";

describe("transport addresses", () => {
  const cases: [string, ReturnType<typeof parseAddress>][] = [
    ["127.0.0.1:7000", { host: "127.0.0.1", port: 7000 }],
    ["raft-1.internal:1", { host: "raft-1.internal", port: 1 }],
    ["[::1]:65535", { host: "::1", port: 65535 }],
    ["::1:7000", null],
    ["host", null],
    [":7000", null],
    ["host:0", null],
    ["host:70000", null],
    ["host:7o", null],
  ];
  for (const [text, expected] of cases) {
    it(`parses ${JSON.stringify(text)}`, () => expect(parseAddress(text)).toEqual(expected));
  }

  it("brackets IPv6 hosts when formatting", () => {
    expect(formatAddress("::1", 7000)).toBe("[::1]:7000");
    expect(formatAddress("10.0.0.1", 7000)).toBe("10.0.0.1:7000");
  });
});
