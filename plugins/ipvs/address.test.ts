import { describe, expect, it } from "bun:test";
import { joinHostPort, parseAddress, splitHostPort } from "./address.ts";

describe("parseAddress", () => {
  const cases: [string, string | null, "inet" | "inet6" | null][] = [
    ["10.0.0.1", "10.0.0.1", "inet"],
    ["255.255.255.255", "255.255.255.255", "inet"],
    ["10.0.0.256", null, null],
    ["010.0.0.1", null, null],
    ["10.0.0", null, null],
    ["2001:DB8:0:0:0:0:0:1", "2001:db8::1", "inet6"],
    ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1", "inet6"],
    ["2001:0:0:1:0:0:0:1", "2001:0:0:1::1", "inet6"],
    ["::", "::", "inet6"],
    ["::1", "::1", "inet6"],
    ["fe80::1:2", "fe80::1:2", "inet6"],
    ["1:0:2:3:4:5:6:7", "1:0:2:3:4:5:6:7", "inet6"],
    ["::ffff:10.0.0.1", "::ffff:10.0.0.1", "inet6"],
    ["::ffff:a00:1", "::ffff:10.0.0.1", "inet6"],
    ["1::2::3", null, null],
    ["1:2:3:4:5:6:7:8:9", null, null],
    ["1:2:3:4:5:6:7::8", null, null],
    ["12345::1", null, null],
    ["example.com", null, null],
    ["", null, null],
  ];
  for (const [input, address, family] of cases) {
    it(`${JSON.stringify(input)} → ${address ?? "invalid"}`, () => {
      expect(parseAddress(input)).toEqual(address === null ? null : { address, family: family! });
    });
  }
});

describe("host:port", () => {
  it("brackets IPv6 as ipvsadm writes it, and reads both forms back", () => {
    expect(joinHostPort("10.0.0.1", 80)).toBe("10.0.0.1:80");
    expect(joinHostPort("2001:db8::1", 80)).toBe("[2001:db8::1]:80");
    expect(splitHostPort("[2001:db8::1]:80")).toEqual({ host: "2001:db8::1", port: "80" });
    expect(splitHostPort("10.0.0.1:80")).toEqual({ host: "10.0.0.1", port: "80" });
    expect(splitHostPort("10.0.0.1")).toEqual({ host: "10.0.0.1", port: null });
    expect(splitHostPort("2001:db8::1")).toBeNull();
  });
});
