// Properties over generated tables: whatever the table, its ipvsadm-save text
// reads back into the same table, and an address written any valid way reads
// as the one canonical form.

import { describe, expect, it } from "bun:test";
import fc from "fast-check";
import { isIPv6 } from "node:net";
import { parseAddress } from "./address.ts";
import { FORWARDING, SCHEDULERS, normalizeServer, normalizeService, type ServerSpec, type ServiceSpec } from "./model.ts";
import { formatSave, parseSave } from "./save-format.ts";

const ipv4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((o) => o.join("."));
const group = fc.integer({ min: 0, max: 0xffff });
const ipv6Groups = fc.array(fc.oneof(group, fc.constant(0)), { minLength: 8, maxLength: 8 });
/** The same address spelled three ways: full, upper-case with leading zeros, and compressed by hand. */
const ipv6Spellings = ipv6Groups.map((g) => {
  const full = g.map((x) => x.toString(16)).join(":");
  const padded = g.map((x) => x.toString(16).padStart(4, "0").toUpperCase()).join(":");
  return { groups: g, full, padded };
});

function table(services: { service: ServiceSpec; servers: ServerSpec[] }[]): string {
  return formatSave(
    services.map(({ service, servers }) => {
      const s = normalizeService(service);
      return { service: s, servers: servers.map((r) => normalizeServer(s, r)) };
    }),
  );
}

const serviceArb = fc.record({
  v6: fc.boolean(),
  protocol: fc.constantFrom("tcp", "udp", "sctp"),
  port: fc.integer({ min: 1, max: 65535 }),
  fwmark: fc.option(fc.integer({ min: 1, max: 2 ** 32 - 1 }), { nil: undefined }),
  scheduler: fc.constantFrom(...SCHEDULERS),
  persistent: fc.option(fc.integer({ min: 1, max: 86400 }), { nil: undefined }),
  v4: ipv4,
  v6addr: ipv6Groups.map((g) => g.map((x) => x.toString(16)).join(":")),
  servers: fc.array(fc.record({ host: fc.nat(255), port: fc.integer({ min: 1, max: 65535 }), weight: fc.integer({ min: 0, max: 65535 }), forwarding: fc.constantFrom(...FORWARDING), upper: fc.nat(1000) }), { maxLength: 4 }),
});

describe("ipvsadm-save text, for any table", () => {
  it("reads back into the same table", () => {
    fc.assert(
      fc.property(fc.array(serviceArb, { maxLength: 6 }), (generated) => {
        const seen = new Set<string>();
        const services: { service: ServiceSpec; servers: ServerSpec[] }[] = [];
        for (const g of generated) {
          const service: ServiceSpec = g.fwmark !== undefined ? { fwmark: g.fwmark, family: g.v6 ? "inet6" : "inet" } : { protocol: g.protocol as "tcp", address: g.v6 ? g.v6addr : g.v4, port: g.port };
          service.scheduler = g.scheduler;
          if (g.persistent !== undefined) service.persistent = g.persistent;
          const id = normalizeService(service).id;
          if (seen.has(id)) continue;
          seen.add(id);
          const servers: ServerSpec[] = [];
          const keys = new Set<string>();
          for (const r of g.servers) {
            const address = g.v6 ? `2001:db8::${r.host.toString(16)}` : `10.1.0.${r.host}`;
            // Only masq maps ports; route and tunnel use the service's (or, for a fwmark, any).
            const port = r.forwarding === "masq" || g.fwmark !== undefined ? r.port : g.port;
            if (keys.has(`${address} ${port}`)) continue;
            keys.add(`${address} ${port}`);
            servers.push({ address, port, weight: r.weight, forwarding: r.forwarding, upperThreshold: r.upper });
          }
          services.push({ service, servers });
        }
        const text = table(services);
        expect(table(parseSave(text))).toBe(text);
      }),
      { numRuns: 300 },
    );
  });
});

describe("IPv6 addresses", () => {
  it("every spelling of one address reads as the same canonical form, which reads back as itself", () => {
    fc.assert(
      fc.property(ipv6Spellings, ({ full, padded }) => {
        const a = parseAddress(full)!;
        const b = parseAddress(padded)!;
        expect(a).toEqual(b);
        expect(a.family).toBe("inet6");
        expect(isIPv6(a.address)).toBe(true);
        expect(parseAddress(a.address)).toEqual(a);
        // At most one "::", and never a group of leading zeros.
        expect(a.address.split("::").length).toBeLessThanOrEqual(2);
        expect(/(^|:)0[0-9a-f]/.test(a.address)).toBe(false);
      }),
      { numRuns: 1000 },
    );
  });
});
