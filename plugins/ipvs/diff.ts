// The fewest ipvsadm commands that turn the kernel's table into the
// replicated one. Pure: two tables in, argument lists out. A service or real
// server that differs only in settings is edited (-E, -e), never deleted and
// re-added, so its connections and counters survive a weight change.

import { joinHostPort } from "./address.ts";
import type { RealServer, Service } from "./model.ts";
import { compareServers, compareServices, ruleName, serverOptions, serviceOptions } from "./save-format.ts";

/** A table as the reconciler compares it: each server with the weight the kernel should have. */
export interface KernelTable {
  service: Service;
  servers: { server: RealServer; weight: number }[];
}

const words = (name: string) => name.split(" ");
const serverKey = (r: RealServer) => joinHostPort(r.address, r.port);

export function planCommands(desired: KernelTable[], current: KernelTable[]): string[][] {
  const commands: string[][] = [];
  const want = new Map(desired.map((t) => [t.service.id, t]));
  const have = new Map(current.map((t) => [t.service.id, t]));
  for (const gone of [...current].sort((a, b) => compareServices(a.service, b.service))) {
    if (!want.has(gone.service.id)) commands.push(["-D", ...words(ruleName(gone.service))]);
  }
  for (const target of [...desired].sort((a, b) => compareServices(a.service, b.service))) {
    const name = words(ruleName(target.service));
    const existing = have.get(target.service.id);
    if (!existing) {
      commands.push(["-A", ...name, ...serviceOptions(target.service)]);
      for (const { server, weight } of sortServers(target.servers)) commands.push(["-a", ...name, "-r", serverKey(server), ...serverOptions(server, weight)]);
      continue;
    }
    if (serviceOptions(existing.service).join(" ") !== serviceOptions(target.service).join(" ")) commands.push(["-E", ...name, ...serviceOptions(target.service)]);
    const wantServers = new Map(target.servers.map((s) => [serverKey(s.server), s]));
    const haveServers = new Map(existing.servers.map((s) => [serverKey(s.server), s]));
    for (const { server } of sortServers(existing.servers)) {
      if (!wantServers.has(serverKey(server))) commands.push(["-d", ...name, "-r", serverKey(server)]);
    }
    for (const { server, weight } of sortServers(target.servers)) {
      const now = haveServers.get(serverKey(server));
      const options = serverOptions(server, weight);
      if (!now) commands.push(["-a", ...name, "-r", serverKey(server), ...options]);
      else if (serverOptions(now.server, now.weight).join(" ") !== options.join(" ")) commands.push(["-e", ...name, "-r", serverKey(server), ...options]);
    }
  }
  return commands;
}

function sortServers(servers: KernelTable["servers"]): KernelTable["servers"] {
  return [...servers].sort((a, b) => compareServers(a.server, b.server));
}
