// The DNS wire codec and the responder's answers, without sockets: a query
// parsed, answers encoded and read back, truncation at 512 bytes, and the
// replies to malformed or unsupported queries.

import { describe, expect, it } from "bun:test";
import { RCODE, TYPE, decodeResponse, encodeQuery, encodeResponse, ipv6Bytes, parseQuery } from "./dns-codec.ts";
import { addressLabel, respond } from "./dns-service.ts";

describe("DNS codec", () => {
  it("parses a query as dig sends it, lower-casing the name", () => {
    expect(parseQuery(encodeQuery(0xbeef, "Web.Service.Pontoon.", TYPE.SRV))).toEqual({ id: 0xbeef, rd: true, opcode: 0, name: "web.service.pontoon", type: TYPE.SRV, class: 1 });
  });

  it("encodes A, AAAA and SRV answers that read back the same", () => {
    const q = parseQuery(encodeQuery(7, "web.service.pontoon", TYPE.SRV));
    const reply = decodeResponse(
      encodeResponse(q, RCODE.NOERROR, [{ name: q.name, type: TYPE.SRV, ttl: 5, priority: 1, weight: 3, port: 8080, target: "0a000001.addr.pontoon" }], [
        { name: "0a000001.addr.pontoon", type: TYPE.A, ttl: 5, address: "10.0.0.1" },
        { name: "x.addr.pontoon", type: TYPE.AAAA, ttl: 5, address: "2001:db8::1" },
      ]),
    );
    expect(reply).toMatchObject({ id: 7, rcode: 0, truncated: false, authoritative: true });
    expect(reply.answers).toEqual([{ name: "web.service.pontoon", type: TYPE.SRV, ttl: 5, data: "1 3 8080 0a000001.addr.pontoon" }]);
    expect(reply.additional.map((r) => r.data)).toEqual(["10.0.0.1", "2001:db8:0:0:0:0:0:1"]);
  });

  it("cuts the answers at 512 bytes and sets TC", () => {
    const q = parseQuery(encodeQuery(1, "big.service.pontoon", TYPE.A));
    const answers = Array.from({ length: 100 }, (_, i) => ({ name: q.name, type: TYPE.A, ttl: 5, address: `10.0.0.${i}` }) as const);
    const bytes = encodeResponse(q, RCODE.NOERROR, answers);
    expect(bytes.length).toBeLessThanOrEqual(512);
    const reply = decodeResponse(bytes);
    expect(reply.truncated).toBe(true);
    expect(reply.answers.length).toBeGreaterThan(5);
  });

  it("expands IPv6 addresses and names IPs in hex", () => {
    expect(ipv6Bytes("::ffff:10.0.0.1")).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 1]);
    expect(addressLabel("10.0.0.1")).toBe("0a000001");
    expect(addressLabel("fd00::6")).toBe("fd000000000000000000000000000006");
  });

  it("answers FORMERR to a malformed query, NOTIMP to another opcode, and nothing to a response or a runt", () => {
    const lookup = () => ({ rcode: RCODE.NOERROR, answers: [], additional: [] });
    const malformed = new Uint8Array([0, 9, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 40, 1, 2]);
    expect(decodeResponse(respond(malformed, lookup)!).rcode).toBe(RCODE.FORMERR);
    const notify = encodeQuery(3, "web.service.pontoon", TYPE.A);
    notify[2] = (4 << 3) | 1;
    expect(decodeResponse(respond(notify, lookup)!).rcode).toBe(RCODE.NOTIMP);
    const response = encodeQuery(3, "x", TYPE.A);
    response[2] = 0x80;
    expect(respond(response, lookup)).toBeNull();
    expect(respond(new Uint8Array([1, 2, 3]), lookup)).toBeNull();
  });
});
