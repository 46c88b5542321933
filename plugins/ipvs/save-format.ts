// The text `ipvsadm-save -n` (`ipvsadm -Sn`) prints, both ways: the table
// written out so `ipvsadm-restore` loads it on a real LVS box, and such text
// (from a real box, or from the kernel of this node) read back into specs.
//
//   -A -t 10.0.0.1:80 -s wrr -p 300
//   -a -t 10.0.0.1:80 -r 10.0.0.2:80 -m -w 5
//   -A -f 12 -6 -s rr
//   -a -u [2001:db8::1]:53 -r [2001:db8::2]:53 -g -w 1

import { PluginError } from "../../src/fsm/sdk.ts";
import { addressSortKey, joinHostPort, parseAddress, splitHostPort } from "./address.ts";
import type { ImportedService } from "./commands.ts";
import { MAX_PERSISTENCE_S, MAX_WEIGHT, SCHEDULERS, SCHED_FLAGS, normalizeServer, normalizeService, serviceId, type Forwarding, type RealServer, type Scheduler, type ServerSpec, type Service, type ServiceSpec } from "./model.ts";

/** How ipvsadm names a service in a rule: `-t 10.0.0.1:80`, `-f 12 -6`. */
export function ruleName(s: Service): string {
  if (s.fwmark !== null) return `-f ${s.fwmark}${s.family === "inet6" ? " -6" : ""}`;
  const flag = s.protocol === "tcp" ? "-t" : s.protocol === "udp" ? "-u" : "--sctp-service";
  return `${flag} ${joinHostPort(s.address!, s.port!)}`;
}

const FORWARD_SWITCH: Record<Forwarding, string> = { masq: "-m", route: "-g", tunnel: "-i" };

/** The arguments after `-A`/`-E` and the name: scheduling settings only. */
export function serviceOptions(s: Service): string[] {
  const out = ["-s", s.scheduler];
  if (s.persistent !== null) {
    out.push("-p", String(s.persistent));
    if (s.netmask !== null) out.push("-M", s.netmask);
  }
  if (s.pe !== null) out.push("--pe", s.pe);
  if (s.onePacket) out.push("-o");
  if (s.flags.length > 0) out.push("-b", s.flags.join(","));
  return out;
}

/** The arguments after `-a`/`-e`, the name and `-r addr:port`. */
export function serverOptions(r: RealServer, weight = r.weight): string[] {
  const out = [FORWARD_SWITCH[r.forwarding], "-w", String(weight)];
  if (r.upperThreshold > 0) out.push("-x", String(r.upperThreshold));
  if (r.lowerThreshold > 0) out.push("-y", String(r.lowerThreshold));
  return out;
}

const PROTOCOL_NUMBER = { tcp: 6, udp: 17, sctp: 132 } as const;

/** libipvs's ipvs_cmp_services: address services before fwmark ones, then family, protocol number, address, port. */
export function compareServices(a: Service, b: Service): number {
  return (
    (a.fwmark ?? 0) - (b.fwmark ?? 0) ||
    Number(a.family === "inet6") - Number(b.family === "inet6") ||
    (a.protocol ? PROTOCOL_NUMBER[a.protocol] : 0) - (b.protocol ? PROTOCOL_NUMBER[b.protocol] : 0) ||
    compareText(addressSortKey(a.address ?? ""), addressSortKey(b.address ?? "")) ||
    (a.port ?? 0) - (b.port ?? 0)
  );
}

/** libipvs's ipvs_cmp_dests: address, then port. */
export function compareServers(a: RealServer, b: RealServer): number {
  return compareText(addressSortKey(a.address), addressSortKey(b.address)) || a.port - b.port;
}

const compareText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** The table as `ipvsadm -Sn` prints it, in its order: each service, then its real servers. */
export function formatSave(table: { service: Service; servers: RealServer[] }[], weightOf: (service: Service, server: RealServer) => number = (_, r) => r.weight): string {
  const lines: string[] = [];
  for (const { service, servers } of [...table].sort((a, b) => compareServices(a.service, b.service))) {
    const name = ruleName(service);
    lines.push(["-A", name, ...serviceOptions(service)].join(" "));
    for (const r of [...servers].sort(compareServers)) lines.push(["-a", name, "-r", joinHostPort(r.address, r.port), ...serverOptions(r, weightOf(service, r))].join(" "));
  }
  return lines.length === 0 ? "" : `${lines.join("\n")}\n`;
}

/** Long and short spellings ipvsadm accepts, to one name. */
const ALIASES: Record<string, string> = {
  "--add-service": "-A",
  "--add-server": "-a",
  "--tcp-service": "-t",
  "--udp-service": "-u",
  "--fwmark-service": "-f",
  "--ipv6": "-6",
  "--scheduler": "-s",
  "--persistent": "-p",
  "--netmask": "-M",
  "--ops": "-o",
  "--sched-flags": "-b",
  "--real-server": "-r",
  "--gatewaying": "-g",
  "--masquerading": "-m",
  "--ipip": "-i",
  "--weight": "-w",
  "--u-threshold": "-x",
  "--l-threshold": "-y",
};

class LineError extends Error {}

/**
 * Save-format text into the services it adds, each checked as the API checks
 * it. A problem is a 400 naming the line (and the option); a service added
 * twice, a 409 naming both lines.
 */
export function parseSave(text: string): ImportedService[] {
  const services: (ImportedService & { line: number; normalized: Service; keys: Set<string> })[] = [];
  for (const [i, raw] of text.split("\n").entries()) {
    const line = i + 1;
    const tokens = raw.trim().split(/\s+/).filter(Boolean);
    if (tokens.length === 0 || tokens[0]!.startsWith("#")) continue;
    try {
      const parsed = parseRule(tokens);
      if (parsed.kind === "service") {
        const normalized = normalizeService(parsed.spec);
        const twin = services.find((s) => s.normalized.id === normalized.id);
        if (twin) throw new PluginError("SERVICE_EXISTS", `line ${line}: service ${normalized.id} is already added on line ${twin.line}`, 409, { field: "body", line });
        services.push({ service: parsed.spec, servers: [], line, normalized, keys: new Set() });
      } else {
        const id = specId(parsed.service);
        const owner = services.find((s) => s.normalized.id === id);
        if (!owner) throw new LineError(`-a for service ${id}, which no -A line above adds`);
        const server = normalizeServer(owner.normalized, parsed.spec);
        const key = joinHostPort(server.address, server.port);
        if (owner.keys.has(key)) throw new PluginError("SERVER_EXISTS", `line ${line}: real server ${key} is already in ${id}`, 409, { field: "body", line });
        owner.keys.add(key);
        owner.servers.push(parsed.spec);
      }
    } catch (error) {
      if (error instanceof LineError) throw new PluginError("INVALID_IMPORT", `line ${line}: ${error.message}`, 400, { field: "body", line });
      if (error instanceof PluginError && !error.message.startsWith("line ")) {
        throw new PluginError(error.code, `line ${line}: ${error.message}`, error.status, { ...error.details, field: "body", line });
      }
      throw error;
    }
  }
  return services.map(({ service, servers }) => ({ service, servers }));
}

type Rule = { kind: "service"; spec: ServiceSpec } | { kind: "server"; service: ServiceSpec; spec: ServerSpec };

function parseRule(tokens: string[]): Rule {
  const words = tokens.map((t) => ALIASES[t] ?? t);
  const command = words[0];
  if (command !== "-A" && command !== "-a") throw new LineError(`expected -A (a service) or -a (a real server), as ipvsadm-save writes them; got ${JSON.stringify(tokens[0])}`);
  const service: ServiceSpec = {};
  const server: Partial<ServerSpec> = {};
  let inet6 = false;
  let serverSeen = false;
  for (let i = 1; i < words.length; i++) {
    const option = words[i]!;
    const value = (): string => {
      const v = words[++i];
      if (v === undefined) throw new LineError(`${option} needs a value`);
      return v;
    };
    const serverOnly = () => {
      if (command !== "-a") throw new LineError(`${option} belongs on a real server's -a line`);
    };
    const serviceOnly = () => {
      if (command !== "-A") throw new LineError(`${option} belongs on a service's -A line`);
    };
    switch (option) {
      case "-t":
      case "-u":
      case "--sctp-service": {
        if (service.protocol || service.fwmark) throw new LineError("a rule names one service");
        service.protocol = option === "-t" ? "tcp" : option === "-u" ? "udp" : "sctp";
        const { address, port } = hostPort(value(), option, true);
        service.address = address;
        service.port = port!;
        break;
      }
      case "-f":
        if (service.protocol || service.fwmark) throw new LineError("a rule names one service");
        service.fwmark = integer(value(), "-f", 1, 2 ** 32 - 1);
        break;
      case "-6":
        inet6 = true;
        break;
      case "-s": {
        serviceOnly();
        const name = value();
        if (!(SCHEDULERS as readonly string[]).includes(name)) throw new LineError(`-s: unknown scheduler ${JSON.stringify(name)} (one of ${SCHEDULERS.join(", ")})`);
        service.scheduler = name as Scheduler;
        break;
      }
      case "-p":
        serviceOnly();
        // ipvsadm takes -p with or without a timeout (300 s); -S always writes one.
        service.persistent = /^\d+$/.test(words[i + 1] ?? "") ? integer(value(), "-p", 1, MAX_PERSISTENCE_S) : 300;
        break;
      case "-M":
        serviceOnly();
        service.netmask = value();
        break;
      case "--pe": {
        serviceOnly();
        const pe = value();
        if (pe !== "sip") throw new LineError(`--pe: unknown persistence engine ${JSON.stringify(pe)} (sip)`);
        service.pe = pe;
        break;
      }
      case "-o":
        serviceOnly();
        service.onePacket = true;
        break;
      case "-b": {
        serviceOnly();
        const flags = value().split(",");
        for (const flag of flags) if (!(SCHED_FLAGS as readonly string[]).includes(flag)) throw new LineError(`-b: unknown scheduler flag ${JSON.stringify(flag)} (${SCHED_FLAGS.join(", ")})`);
        service.flags = flags as ServiceSpec["flags"];
        break;
      }
      case "-r": {
        serverOnly();
        const { address, port } = hostPort(value(), "-r", false);
        server.address = address;
        if (port !== null) server.port = port;
        serverSeen = true;
        break;
      }
      case "-g":
      case "-m":
      case "-i":
        serverOnly();
        server.forwarding = option === "-g" ? "route" : option === "-m" ? "masq" : "tunnel";
        break;
      case "--tun-type": {
        serverOnly();
        const type = value();
        // Newer ipvsadm writes the tunnel type; IPIP is the one the kernel has always had.
        if (type !== "ipip") throw new LineError(`--tun-type ${type}: only ipip tunnels are supported`);
        break;
      }
      case "-w":
        serverOnly();
        server.weight = integer(value(), "-w", 0, MAX_WEIGHT);
        break;
      case "-x":
        serverOnly();
        server.upperThreshold = integer(value(), "-x", 0, 2 ** 31 - 1);
        break;
      case "-y":
        serverOnly();
        server.lowerThreshold = integer(value(), "-y", 0, 2 ** 31 - 1);
        break;
      default:
        throw new LineError(`unknown option ${JSON.stringify(tokens[i])}`);
    }
  }
  if (inet6) {
    if (service.fwmark === undefined) throw new LineError("-6 goes with -f (a firewall-mark service); an address says its own family");
    service.family = "inet6";
  }
  if (service.protocol === undefined && service.fwmark === undefined) throw new LineError("no service named (-t, -u, --sctp-service or -f)");
  if (command === "-A") return { kind: "service", spec: service };
  if (!serverSeen) throw new LineError("-a needs -r <address:port>");
  return { kind: "server", service, spec: server as ServerSpec };
}

/** The id of the service a rule names (its address already checked by hostPort). */
function specId(spec: ServiceSpec): string {
  const address = spec.address === undefined ? null : parseAddress(spec.address)!;
  return serviceId({ family: spec.family ?? address?.family ?? "inet", protocol: spec.protocol ?? null, address: address?.address ?? null, port: spec.port ?? null, fwmark: spec.fwmark ?? null });
}

function hostPort(text: string, option: string, portRequired: boolean): { address: string; port: number | null } {
  const split = splitHostPort(text) ?? (parseAddress(text)?.family === "inet6" ? { host: text, port: null } : null);
  if (!split || !parseAddress(split.host)) throw new LineError(`${option}: ${JSON.stringify(text)} is not an address:port (IPv6 as [addr]:port)`);
  if (split.port === null) {
    if (portRequired) throw new LineError(`${option}: ${JSON.stringify(text)} has no port`);
    return { address: split.host, port: null };
  }
  return { address: split.host, port: integer(split.port, option, 0, 65535) };
}

function integer(text: string, option: string, min: number, max: number): number {
  if (!/^\d{1,10}$/.test(text) || Number(text) < min || Number(text) > max) throw new LineError(`${option}: expected an integer ${min}-${max}, got ${JSON.stringify(text)}`);
  return Number(text);
}
