// The ipvs commands as every node applies them: ipvsadm's add/edit/delete
// semantics and checks, run through the plugin host as Raft would drive it.

import { afterEach, beforeEach, describe, expect, it } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { encodeCommand } from "../../src/fsm/command-codec.ts";
import { PluginHost, type CommandOutcome } from "../../src/fsm/plugin-host.ts";
import ipvs from "./index.ts";
import { listServices } from "./store.ts";
import { formatSave } from "./save-format.ts";
import { desiredTable } from "./reconciler.ts";

let dir: string;
let host: PluginHost;
let index: number;
const config = { apply: false, ipvsadm: "ipvsadm", resyncMs: 30_000 };
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "pontoon-ipvs-"));
  host = new PluginHost(join(dir, "fsm.db"), [{ definition: ipvs, config }]);
  index = 0;
});
afterEach(() => {
  host.close();
  rmSync(dir, { recursive: true, force: true });
});

function run(command: string, args: unknown): CommandOutcome {
  index++;
  return host.applyBatch([{ index, term: 1, data: encodeCommand({ plugin: "ipvs", command, args, timestamp: 1_700_000_000_000 }) }])[0]!;
}
function ok(command: string, args: unknown): any {
  const outcome = run(command, args);
  if (!outcome.ok) throw new Error(`${command} failed: ${outcome.error.message}`);
  return outcome.value;
}
function fails(command: string, args: unknown): { code: string; status: number; message: string; details?: Record<string, unknown> } {
  const outcome = run(command, args);
  if (outcome.ok) throw new Error(`${command} succeeded but should have failed`);
  return outcome.error;
}
const table = () => formatSave(listServices(host.database).map((service) => ({ service, servers: service.servers })));
const web = { protocol: "tcp", address: "10.0.0.1", port: 80 };

describe("virtual services (ipvsadm -A, -E, -D)", () => {
  it("adds a service with ipvsadm's defaults: scheduler wlc, not persistent", () => {
    const { service } = ok("addService", { service: web });
    expect(service).toMatchObject({ id: "tcp/10.0.0.1/80", family: "inet", scheduler: "wlc", persistent: null, flags: [], createIndex: 1, modifyIndex: 1, servers: [] });
    expect(table()).toBe("-A -t 10.0.0.1:80 -s wlc\n");
  });

  it("keeps tcp, udp, sctp and both families apart, and names IPv6 canonically", () => {
    ok("addService", { service: web });
    ok("addService", { service: { ...web, protocol: "udp" } });
    ok("addService", { service: { ...web, protocol: "sctp" } });
    ok("addService", { service: { protocol: "tcp", address: "2001:DB8:0::1", port: 443, scheduler: "sh", flags: ["flag-1", "sh-port"] } });
    ok("addService", { service: { fwmark: 12, scheduler: "rr" } });
    ok("addService", { service: { fwmark: 12, family: "inet6", scheduler: "rr" } });
    expect(listServices(host.database).map((s) => s.id).sort()).toEqual(["fwmark/12", "fwmark6/12", "sctp/10.0.0.1/80", "tcp/10.0.0.1/80", "tcp/2001:db8::1/443", "udp/10.0.0.1/80"]);
    expect(table()).toContain("-A -t [2001:db8::1]:443 -s sh -b sh-fallback,sh-port\n");
    expect(table()).toContain("-A -f 12 -6 -s rr\n");
  });

  it("refuses a duplicate with 409, and the same address spelled differently is the same service", () => {
    ok("addService", { service: { protocol: "tcp", address: "2001:db8::1", port: 80 } });
    const e = fails("addService", { service: { protocol: "tcp", address: "2001:0db8:0:0::1", port: 80, scheduler: "rr" } });
    expect([e.status, e.code]).toEqual([409, "SERVICE_EXISTS"]);
  });

  const invalid: [string, unknown, string, string][] = [
    ["an address that is not one", { ...web, address: "10.0.0.300" }, "INVALID_ADDRESS", "address"],
    ["a host name", { ...web, address: "lb.example.com" }, "INVALID_ADDRESS", "address"],
    ["port 0 without persistence", { ...web, port: 0 }, "INVALID_PORT", "port"],
    ["a fwmark with an address", { fwmark: 3, address: "10.0.0.1" }, "INVALID_SERVICE", "address"],
    ["no protocol", { address: "10.0.0.1", port: 80 }, "INVALID_SERVICE", "protocol"],
    ["a netmask without persistence", { ...web, netmask: "255.255.255.0" }, "INVALID_NETMASK", "netmask"],
    ["a netmask with holes", { ...web, persistent: 60, netmask: "255.0.255.0" }, "INVALID_NETMASK", "netmask"],
    ["one-packet scheduling on tcp", { ...web, onePacket: true }, "INVALID_SERVICE", "onePacket"],
    ["an sh flag on rr", { ...web, scheduler: "rr", flags: ["sh-port"] }, "INVALID_FLAGS", "flags"],
  ];
  for (const [what, service, code, field] of invalid) {
    it(`refuses ${what} with a 400 naming ${field}`, () => {
      const e = fails("addService", { service });
      expect([e.status, e.code, e.details?.field]).toEqual([400, code, field]);
      expect(e.message.startsWith(`${field}: `)).toBe(true);
      expect(listServices(host.database)).toEqual([]);
    });
  }

  it("edits the settings named and keeps the others (ipvsadm -E); 404 for a missing service", () => {
    ok("addService", { service: { ...web, scheduler: "wrr", persistent: 300, netmask: "255.255.255.0" } });
    const { service } = ok("editService", { id: "tcp/10.0.0.1/80", changes: { scheduler: "lc" } });
    expect(service).toMatchObject({ scheduler: "lc", persistent: 300, netmask: "255.255.255.0", createIndex: 1, modifyIndex: 2 });
    expect(ok("editService", { id: "tcp/10.0.0.1/80", changes: { persistent: null, netmask: null } }).service.persistent).toBeNull();
    expect(fails("editService", { id: "tcp/10.0.0.9/80", changes: { scheduler: "rr" } })).toMatchObject({ status: 404, code: "SERVICE_NOT_FOUND" });
    // A scheduler that the edit makes invalid with the kept settings is refused as a whole.
    expect(fails("editService", { id: "tcp/10.0.0.1/80", changes: { netmask: "255.255.0.0" } })).toMatchObject({ status: 400, code: "INVALID_NETMASK" });
  });

  it("deletes a service with its real servers (ipvsadm -D); 404 the second time", () => {
    ok("addService", { service: web });
    ok("addServer", { serviceId: "tcp/10.0.0.1/80", server: { address: "10.0.0.2" } });
    ok("deleteService", { id: "tcp/10.0.0.1/80" });
    expect(host.database.query("SELECT count(*) AS n FROM ipvs_servers").get()).toEqual({ n: 0 });
    expect(fails("deleteService", { id: "tcp/10.0.0.1/80" })).toMatchObject({ status: 404, code: "SERVICE_NOT_FOUND" });
  });

  it("clears the whole table (ipvsadm -C)", () => {
    ok("addService", { service: web });
    ok("addService", { service: { fwmark: 1 } });
    expect(ok("clear", {})).toEqual({ index: 3, deleted: 2 });
    expect(table()).toBe("");
  });
});

describe("real servers (ipvsadm -a, -e, -d)", () => {
  beforeEach(() => void ok("addService", { service: { ...web, scheduler: "wrr" } }));
  const id = "tcp/10.0.0.1/80";

  it("adds with ipvsadm's defaults: the service's port, weight 1, direct routing", () => {
    const { service } = ok("addServer", { serviceId: id, server: { address: "10.0.0.2" } });
    expect(service.servers).toEqual([{ address: "10.0.0.2", port: 80, weight: 1, forwarding: "route", upperThreshold: 0, lowerThreshold: 0, check: null, healthy: true }]);
    expect(service.modifyIndex).toBe(2);
  });

  it("maps ports only under masq, and says so for route and tunnel", () => {
    ok("addServer", { serviceId: id, server: { address: "10.0.0.2", port: 8080, forwarding: "masq", weight: 5, upperThreshold: 100, lowerThreshold: 10 } });
    expect(table()).toBe("-A -t 10.0.0.1:80 -s wrr\n-a -t 10.0.0.1:80 -r 10.0.0.2:8080 -m -w 5 -x 100 -y 10\n");
    const e = fails("addServer", { serviceId: id, server: { address: "10.0.0.3", port: 8080, forwarding: "tunnel" } });
    expect([e.status, e.code, e.details?.field]).toEqual([400, "INVALID_PORT", "port"]);
  });

  it("refuses a duplicate (409), another family (400), a missing service (404)", () => {
    ok("addServer", { serviceId: id, server: { address: "10.0.0.2" } });
    expect(fails("addServer", { serviceId: id, server: { address: "10.0.0.2", weight: 3 } })).toMatchObject({ status: 409, code: "SERVER_EXISTS" });
    expect(fails("addServer", { serviceId: id, server: { address: "2001:db8::2" } })).toMatchObject({ status: 400, code: "INVALID_ADDRESS", details: { field: "address" } });
    expect(fails("addServer", { serviceId: "udp/10.0.0.1/80", server: { address: "10.0.0.2" } })).toMatchObject({ status: 404, code: "SERVICE_NOT_FOUND" });
    expect(fails("addServer", { serviceId: id, server: { address: "10.0.0.2", port: 81, forwarding: "masq", lowerThreshold: 5, upperThreshold: 2 } })).toMatchObject({ status: 400, details: { field: "lowerThreshold" } });
  });

  it("edits the settings named (ipvsadm -e) and deletes (ipvsadm -d); 404 for a missing server", () => {
    ok("addServer", { serviceId: id, server: { address: "10.0.0.2", weight: 2 } });
    const { service } = ok("editServer", { serviceId: id, address: "10.0.0.2", port: 80, changes: { weight: 0 } });
    expect(service.servers[0]).toMatchObject({ weight: 0, forwarding: "route" });
    expect(fails("editServer", { serviceId: id, address: "10.0.0.3", port: 80, changes: { weight: 1 } })).toMatchObject({ status: 404, code: "SERVER_NOT_FOUND" });
    expect(ok("deleteServer", { serviceId: id, address: "10.0.0.2", port: 80 }).service.servers).toEqual([]);
    expect(fails("deleteServer", { serviceId: id, address: "10.0.0.2", port: 80 })).toMatchObject({ status: 404, code: "SERVER_NOT_FOUND" });
  });
});

describe("health (setHealth, proposed by the leader's checks)", () => {
  const id = "tcp/10.0.0.1/80";
  const check = { type: "http", path: "/health", body: "ok|fine", intervalMs: 1000 };
  beforeEach(() => {
    ok("addService", { service: { ...web, scheduler: "wrr" } });
    ok("addServer", { serviceId: id, server: { address: "10.0.0.2", weight: 5, check } });
    ok("addServer", { serviceId: id, server: { address: "10.0.0.3", weight: 2 } });
  });
  /** Each server: address, configured weight, healthy, the weight the kernel gets. */
  const servers = () => {
    const healthy = listServices(host.database)[0]!.servers.map((s) => s.healthy);
    return desiredTable(host.database)[0]!.servers.map((s, i) => [s.server.address, s.server.weight, healthy[i], s.weight]);
  };

  it("fills a check's defaults", () => {
    expect(listServices(host.database)[0]!.servers[0]!.check).toEqual({ type: "http", port: 80, path: "/health", status: 200, body: "ok|fine", intervalMs: 1000, timeoutMs: 1000, fall: 2, rise: 1 });
  });

  it("a failing server's kernel weight is 0 and its configured weight is kept; it comes back when it recovers", () => {
    expect(ok("setHealth", { changes: [{ serviceId: id, address: "10.0.0.2", port: 80, healthy: false }] }).changed).toBe(1);
    expect(servers()).toEqual([["10.0.0.2", 5, false, 0], ["10.0.0.3", 2, true, 2]]);
    // An edit of the weight meanwhile is kept for when it recovers.
    ok("editServer", { serviceId: id, address: "10.0.0.2", port: 80, changes: { weight: 7 } });
    expect(servers()[0]).toEqual(["10.0.0.2", 7, false, 0]);
    ok("setHealth", { changes: [{ serviceId: id, address: "10.0.0.2", port: 80, healthy: true }] });
    expect(servers()[0]).toEqual(["10.0.0.2", 7, true, 7]);
  });

  it("skips a server without a check or gone since the leader looked; removing a check brings the server back", () => {
    const outcome = ok("setHealth", {
      changes: [
        { serviceId: id, address: "10.0.0.3", port: 80, healthy: false },
        { serviceId: id, address: "10.0.0.9", port: 80, healthy: false },
        { serviceId: id, address: "10.0.0.2", port: 80, healthy: false },
      ],
    });
    expect(outcome.changed).toBe(1);
    ok("editServer", { serviceId: id, address: "10.0.0.2", port: 80, changes: { check: null } });
    expect(servers()[0]).toEqual(["10.0.0.2", 5, true, 5]);
  });

  const bad: [string, unknown, string][] = [
    ["a body pattern that is not a regular expression", { type: "http", body: "(" }, "check.body"],
    ["an http setting on a tcp check", { type: "tcp", path: "/x" }, "check.path"],
    ["a timeout longer than the interval", { type: "tcp", intervalMs: 500, timeoutMs: 1000 }, "check.timeoutMs"],
  ];
  for (const [what, badCheck, field] of bad) {
    it(`refuses ${what} with a 400 naming ${field}`, () => {
      const e = fails("addServer", { serviceId: id, server: { address: "10.0.0.4", check: badCheck } });
      expect([e.status, e.details?.field]).toEqual([400, field]);
    });
  }

  it("a firewall-mark server (port 0) names the port to check", () => {
    ok("addService", { service: { fwmark: 3 } });
    expect(fails("addServer", { serviceId: "fwmark/3", server: { address: "10.0.0.4", check: { type: "tcp" } } }).details?.field).toBe("check.port");
    ok("addServer", { serviceId: "fwmark/3", server: { address: "10.0.0.4", check: { type: "tcp", port: 22 } } });
  });
});

describe("import", () => {
  it("applies all of it or none: a duplicate in the middle leaves the table as it was", () => {
    ok("addService", { service: web });
    const before = table();
    const e = fails("import", {
      replace: false,
      services: [
        { service: { fwmark: 7 }, servers: [{ address: "10.0.0.5" }] },
        { service: web, servers: [] },
      ],
    });
    expect([e.status, e.code, e.details?.field]).toEqual([409, "SERVICE_EXISTS", "services[1]"]);
    expect(table()).toBe(before);
  });

  it("with replace, the table becomes exactly the import", () => {
    ok("addService", { service: web });
    ok("import", { replace: true, services: [{ service: { fwmark: 7, scheduler: "rr" }, servers: [{ address: "10.0.0.5", port: 0 }] }] });
    expect(table()).toBe("-A -f 7 -s rr\n-a -f 7 -r 10.0.0.5:0 -g -w 1\n");
  });

  it("names the field of a bad record by its place in the import", () => {
    const e = fails("import", { replace: true, services: [{ service: web, servers: [{ address: "10.0.0.2" }, { address: "nope" }] }] });
    expect([e.status, e.details?.field]).toEqual([400, "services[0].servers[1].address"]);
    expect(e.message).toStartWith("services[0].servers[1].address: ");
  });
});

describe("snapshots", () => {
  it("a snapshot restored into a fresh node gives the same table", () => {
    ok("addService", { service: { ...web, scheduler: "wrr", persistent: 60 } });
    ok("addServer", { serviceId: "tcp/10.0.0.1/80", server: { address: "10.0.0.2", weight: 4 } });
    ok("addService", { service: { protocol: "udp", address: "2001:db8::1", port: 53, onePacket: true } });
    const image = host.snapshot();
    const other = new PluginHost(join(dir, "other.db"), [{ definition: ipvs, config }]);
    try {
      other.restore(image);
      expect(formatSave(listServices(other.database).map((service) => ({ service, servers: service.servers })))).toBe(table());
      expect(other.appliedIndex()).toBe(3);
    } finally {
      other.close();
    }
  });
});
