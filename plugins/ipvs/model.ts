// The IPVS table's records and ipvsadm's rules for them. One schema per
// record (TypeBox: the API, the Raft commands and the types all come from
// it), and the checks ipvsadm makes that a schema cannot (an address is an
// address of the service's family, port 0 only with persistence, ...), each
// failing with a 400 that names the field.

import { Type, type Static, type TLiteral, type TUnion } from "@sinclair/typebox";
import { PluginError } from "../../src/fsm/sdk.ts";
import { parseAddress, type Family } from "./address.ts";

export const PROTOCOLS = ["tcp", "udp", "sctp"] as const;
export const SCHEDULERS = ["rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "mh"] as const;
export const FORWARDING = ["masq", "route", "tunnel"] as const;
/** ipvsadm -b: three scheduler flag bits; sh and mh name the first two. */
export const SCHED_FLAGS = ["flag-1", "flag-2", "flag-3", "sh-fallback", "sh-port", "mh-fallback", "mh-port"] as const;
export type Protocol = (typeof PROTOCOLS)[number];
export type Scheduler = (typeof SCHEDULERS)[number];
export type Forwarding = (typeof FORWARDING)[number];

const literals = <const T extends readonly string[]>(values: T, description: string) =>
  Type.Union(values.map((v) => Type.Literal(v)), { description }) as TUnion<TLiteral<T[number]>[]>;

/** ipvsadm's limits: weights 0-65535, persistence up to 31 days, thresholds up to INT_MAX. */
export const MAX_WEIGHT = 65535;
export const MAX_PERSISTENCE_S = 31 * 86400;
const MAX_THRESHOLD = 2 ** 31 - 1;

const scheduleSettings = {
  scheduler: Type.Optional(literals(SCHEDULERS, "scheduler (ipvsadm -s); default wlc, as ipvsadm's")),
  persistent: Type.Optional(Type.Union([Type.Integer({ minimum: 1, maximum: MAX_PERSISTENCE_S }), Type.Null()], { description: "persistence timeout in seconds (ipvsadm -p); null: not persistent" })),
  netmask: Type.Optional(Type.Union([Type.String({ maxLength: 45 }), Type.Null()], { description: "persistence granularity (ipvsadm -M): an IPv4 netmask, or an IPv6 prefix length 1-128" })),
  flags: Type.Optional(Type.Array(literals(SCHED_FLAGS, "scheduler flag (ipvsadm -b)"), { maxItems: 3, description: "scheduler flags (ipvsadm -b): flag-1..3, sh-fallback/sh-port for sh, mh-fallback/mh-port for mh" })),
  onePacket: Type.Optional(Type.Boolean({ description: "one-packet scheduling (ipvsadm -o), for UDP" })),
  pe: Type.Optional(Type.Union([Type.Literal("sip"), Type.Null()], { description: "persistence engine (ipvsadm --pe)" })),
};

/** A virtual service as a client gives it: protocol, address and port, or a firewall mark. */
export const serviceSpec = Type.Object(
  {
    protocol: Type.Optional(literals(PROTOCOLS, "tcp, udp or sctp (ipvsadm -t, -u, --sctp-service); not with fwmark")),
    address: Type.Optional(Type.String({ maxLength: 64, description: "virtual IP, IPv4 or IPv6" })),
    port: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535, description: "virtual port (0: every port, persistent services only)" })),
    fwmark: Type.Optional(Type.Integer({ minimum: 1, maximum: 2 ** 32 - 1, description: "firewall mark (ipvsadm -f), instead of protocol, address and port" })),
    family: Type.Optional(literals(["inet", "inet6"] as const, "with fwmark: the address family (ipvsadm -6 for inet6); default inet")),
    ...scheduleSettings,
  },
  { additionalProperties: false },
);
export type ServiceSpec = Static<typeof serviceSpec>;

/** ipvsadm -E: the settings to change; those left out are kept. */
export const serviceChanges = Type.Object(scheduleSettings, { additionalProperties: false });
export type ServiceChanges = Static<typeof serviceChanges>;

/** A real-server health check, as keepalived and the original ipvs-manager run them; only the leader runs it. */
export const healthCheck = Type.Object(
  {
    type: literals(["tcp", "http"] as const, "tcp: the port accepts a connection; http: a GET answers the status (and body pattern)"),
    port: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535, description: "port to check; default the real server's" })),
    path: Type.Optional(Type.String({ pattern: "^/", maxLength: 1024, description: "http: the path to GET (default /)" })),
    status: Type.Optional(Type.Integer({ minimum: 100, maximum: 599, description: "http: the status that counts as healthy (default 200)" })),
    body: Type.Optional(Type.String({ minLength: 1, maxLength: 1024, description: "http: a regular expression the body must match" })),
    intervalMs: Type.Optional(Type.Integer({ minimum: 100, maximum: 3_600_000, description: "time between checks (default 5000)" })),
    timeoutMs: Type.Optional(Type.Integer({ minimum: 50, maximum: 60_000, description: "a check slower than this fails (default 2000; at most intervalMs)" })),
    fall: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, description: "failures in a row that take the server out (weight 0); default 2" })),
    rise: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, description: "successes in a row that bring it back; default 1" })),
  },
  { additionalProperties: false },
);
export type HealthCheckSpec = Static<typeof healthCheck>;
export type HealthCheck = Required<Omit<HealthCheckSpec, "port" | "path" | "status" | "body">> & { port: number; path: string | null; status: number | null; body: string | null };

const serverSettings = {
  weight: Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_WEIGHT, description: "weight (ipvsadm -w); default 1" })),
  forwarding: Type.Optional(literals(FORWARDING, "masq (NAT, -m), route (direct routing, -g; the default) or tunnel (IPIP, -i)")),
  upperThreshold: Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_THRESHOLD, description: "upper connection threshold (ipvsadm -x); 0: none" })),
  lowerThreshold: Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_THRESHOLD, description: "lower connection threshold (ipvsadm -y); 0: none" })),
  check: Type.Optional(Type.Union([healthCheck, Type.Null()], { description: "health check; while it fails the kernel gets weight 0 (the configured weight is kept); null: none" })),
};

/** A real server as a client gives it. */
export const serverSpec = Type.Object(
  {
    address: Type.String({ maxLength: 64, description: "real server IP, of the service's family" }),
    port: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535, description: "real server port; default the service's (route and tunnel must use it: only masq maps ports)" })),
    ...serverSettings,
  },
  { additionalProperties: false },
);
export type ServerSpec = Static<typeof serverSpec>;

/** ipvsadm -e: the settings to change; those left out are kept. */
export const serverChanges = Type.Object(serverSettings, { additionalProperties: false });
export type ServerChanges = Static<typeof serverChanges>;

/** A virtual service as the table holds it: every setting explicit and canonical. */
export interface Service {
  /** tcp/10.0.0.1/80, udp/2001:db8::1/53, fwmark/12, fwmark6/12: how routes name it. */
  id: string;
  family: Family;
  protocol: Protocol | null;
  address: string | null;
  port: number | null;
  fwmark: number | null;
  scheduler: Scheduler;
  persistent: number | null;
  netmask: string | null;
  flags: string[];
  onePacket: boolean;
  pe: "sip" | null;
}

export interface RealServer {
  address: string;
  port: number;
  /** The weight configured; the kernel gets 0 instead while a health check fails. */
  weight: number;
  forwarding: Forwarding;
  upperThreshold: number;
  lowerThreshold: number;
  check: HealthCheck | null;
}

const bad = (code: string, field: string, message: string) => new PluginError(code, `${field}: ${message}`, 400, { field });

export function serviceId(s: Pick<Service, "family" | "protocol" | "address" | "port" | "fwmark">): string {
  if (s.fwmark !== null) return `${s.family === "inet6" ? "fwmark6" : "fwmark"}/${s.fwmark}`;
  return `${s.protocol}/${s.address}/${s.port}`;
}

/** The service a path names (`tcp/10.0.0.1/80`, `fwmark/12`), canonical; 400 when it names none. */
export function parseServiceId(segments: string[]): { id: string; rest: string[] } {
  const [kind, ...more] = segments;
  if (kind === "fwmark" || kind === "fwmark6") {
    const mark = more[0] ?? "";
    if (!/^[1-9]\d{0,9}$/.test(mark) || Number(mark) > 2 ** 32 - 1) throw bad("INVALID_SERVICE", "fwmark", `expected a firewall mark 1-4294967295, got ${JSON.stringify(mark)}`);
    return { id: `${kind}/${Number(mark)}`, rest: more.slice(1) };
  }
  if (!(PROTOCOLS as readonly string[]).includes(kind ?? "")) {
    throw bad("INVALID_SERVICE", "protocol", `a service is named tcp|udp|sctp/<address>/<port> or fwmark|fwmark6/<mark>, got ${JSON.stringify(segments.join("/"))}`);
  }
  const address = parseAddress(more[0] ?? "");
  if (!address) throw bad("INVALID_ADDRESS", "address", `${JSON.stringify(more[0] ?? "")} is not an IPv4 or IPv6 address`);
  const port = parsePort(more[1] ?? "", "port");
  return { id: `${kind}/${address.address}/${port}`, rest: more.slice(2) };
}

export function parsePort(text: string, field: string): number {
  if (!/^\d{1,5}$/.test(text) || Number(text) > 65535) throw bad("INVALID_PORT", field, `expected a port 0-65535, got ${JSON.stringify(text)}`);
  return Number(text);
}

/** A client's service into the table's form, with ipvsadm's checks and defaults. */
export function normalizeService(spec: ServiceSpec): Service {
  let family: Family;
  let protocol: Protocol | null = null;
  let address: string | null = null;
  let port: number | null = null;
  let fwmark: number | null = null;
  if (spec.fwmark !== undefined) {
    for (const field of ["protocol", "address", "port"] as const) {
      if (spec[field] !== undefined) throw bad("INVALID_SERVICE", field, "a firewall-mark service has no protocol, address or port");
    }
    fwmark = spec.fwmark;
    family = spec.family ?? "inet";
  } else {
    if (spec.family !== undefined) throw bad("INVALID_SERVICE", "family", "family is for fwmark services; an address carries its own");
    if (spec.protocol === undefined) throw bad("INVALID_SERVICE", "protocol", "give protocol (tcp, udp or sctp), address and port, or fwmark");
    if (spec.address === undefined) throw bad("INVALID_ADDRESS", "address", "a tcp, udp or sctp service needs its virtual address");
    if (spec.port === undefined) throw bad("INVALID_PORT", "port", "a tcp, udp or sctp service needs its virtual port");
    const parsed = parseAddress(spec.address);
    if (!parsed) throw bad("INVALID_ADDRESS", "address", `${JSON.stringify(spec.address)} is not an IPv4 or IPv6 address`);
    protocol = spec.protocol;
    address = parsed.address;
    family = parsed.family;
    port = spec.port;
  }
  const service: Service = {
    id: "",
    family,
    protocol,
    address,
    port,
    fwmark,
    scheduler: spec.scheduler ?? "wlc",
    persistent: spec.persistent ?? null,
    netmask: spec.netmask ?? null,
    flags: spec.flags ?? [],
    onePacket: spec.onePacket ?? false,
    pe: spec.pe ?? null,
  };
  service.id = serviceId(service);
  return checkSchedule(service);
}

/** A service with `changes` made (ipvsadm -E), checked as a whole again. */
export function editService(current: Service, changes: ServiceChanges): Service {
  const next: Service = { ...current };
  if (changes.scheduler !== undefined) next.scheduler = changes.scheduler;
  if (changes.persistent !== undefined) next.persistent = changes.persistent;
  if (changes.netmask !== undefined) next.netmask = changes.netmask;
  if (changes.flags !== undefined) next.flags = changes.flags;
  if (changes.onePacket !== undefined) next.onePacket = changes.onePacket;
  if (changes.pe !== undefined) next.pe = changes.pe;
  // Flags name the scheduler's bits: a new scheduler renames the flags kept from the old one.
  if (changes.scheduler !== undefined && changes.flags === undefined) next.flags = next.flags.map((f) => `flag-${flagBit(f)}`);
  return checkSchedule(next);
}

/** The checks on scheduling settings that ipvsadm makes before it asks the kernel. */
function checkSchedule(s: Service): Service {
  if (s.port === 0 && s.persistent === null) throw bad("INVALID_PORT", "port", "port 0 (every port) is only for persistent services (ipvsadm: zero port specified for non-persistent service)");
  if (s.netmask !== null) {
    if (s.persistent === null) throw bad("INVALID_NETMASK", "netmask", "a persistence netmask needs persistent set");
    // The full mask is the kernel's default, which ipvsadm does not print: store it as no mask, so tables compare equal.
    const mask = normalizeNetmask(s.netmask, s.family);
    s.netmask = mask === "255.255.255.255" || mask === "128" ? null : mask;
  }
  if (s.pe !== null && s.persistent === null) throw bad("INVALID_SERVICE", "pe", "a persistence engine needs persistent set");
  if (s.onePacket && s.protocol !== "udp" && s.fwmark === null) throw bad("INVALID_SERVICE", "onePacket", "one-packet scheduling is only for UDP (or firewall-mark) services");
  const bits = new Set<number>();
  for (const flag of s.flags) {
    const prefix = flag.startsWith("sh-") ? "sh" : flag.startsWith("mh-") ? "mh" : null;
    if (prefix && s.scheduler !== prefix) throw bad("INVALID_FLAGS", "flags", `${flag} is a flag of the ${prefix} scheduler, not of ${s.scheduler}`);
    bits.add(flagBit(flag));
  }
  s.flags = [...bits].sort().map((bit) => flagName(s.scheduler, bit));
  return s;
}

function flagBit(flag: string): number {
  if (flag.endsWith("fallback")) return 1;
  if (flag.endsWith("-port")) return 2;
  return Number(flag.slice("flag-".length));
}

/** How ipvsadm prints bit `bit` for `scheduler`: sh and mh name their first two. */
export function flagName(scheduler: Scheduler, bit: number): string {
  if ((scheduler === "sh" || scheduler === "mh") && bit < 3) return `${scheduler}-${bit === 1 ? "fallback" : "port"}`;
  return `flag-${bit}`;
}

/** IPv4: a contiguous dotted mask (255.255.255.0); IPv6: a prefix length 1-128. */
function normalizeNetmask(text: string, family: Family): string {
  if (family === "inet6") {
    if (!/^\d{1,3}$/.test(text) || Number(text) < 1 || Number(text) > 128) throw bad("INVALID_NETMASK", "netmask", `an IPv6 service's netmask is a prefix length 1-128, got ${JSON.stringify(text)}`);
    return String(Number(text));
  }
  const parsed = parseAddress(text);
  const bits = parsed?.family === "inet" ? parsed.address.split(".").map((o) => Number(o).toString(2).padStart(8, "0")).join("") : "";
  if (!/^1+0*$/.test(bits)) throw bad("INVALID_NETMASK", "netmask", `an IPv4 service's netmask is a contiguous mask like 255.255.255.0, got ${JSON.stringify(text)}`);
  return parsed!.address;
}

/** A client's real server into the table's form, for `service`. */
export function normalizeServer(service: Service, spec: ServerSpec): RealServer {
  const parsed = parseAddress(spec.address);
  if (!parsed) throw bad("INVALID_ADDRESS", "address", `${JSON.stringify(spec.address)} is not an IPv4 or IPv6 address`);
  if (parsed.family !== service.family) {
    throw bad("INVALID_ADDRESS", "address", `${parsed.address} is ${parsed.family === "inet" ? "IPv4" : "IPv6"} but service ${service.id} is ${service.family === "inet" ? "IPv4" : "IPv6"}`);
  }
  const server: RealServer = {
    address: parsed.address,
    port: spec.port ?? service.port ?? 0,
    weight: spec.weight ?? 1,
    forwarding: spec.forwarding ?? "route",
    upperThreshold: spec.upperThreshold ?? 0,
    lowerThreshold: spec.lowerThreshold ?? 0,
    check: null,
  };
  if (spec.check) server.check = normalizeCheck(server, spec.check);
  return checkServer(service, server);
}

/** A real server with `changes` made (ipvsadm -e), checked as a whole again. */
export function editServer(service: Service, current: RealServer, changes: ServerChanges): RealServer {
  const next: RealServer = { ...current };
  if (changes.weight !== undefined) next.weight = changes.weight;
  if (changes.forwarding !== undefined) next.forwarding = changes.forwarding;
  if (changes.upperThreshold !== undefined) next.upperThreshold = changes.upperThreshold;
  if (changes.lowerThreshold !== undefined) next.lowerThreshold = changes.lowerThreshold;
  if (changes.check !== undefined) next.check = changes.check === null ? null : normalizeCheck(next, changes.check);
  return checkServer(service, next);
}

/** A check with its defaults filled in, checked against the server it is for. */
function normalizeCheck(server: RealServer, spec: HealthCheckSpec): HealthCheck {
  const port = spec.port ?? server.port;
  if (port === 0) throw bad("INVALID_CHECK", "check.port", "the real server's port is 0 (a firewall-mark service): name the port to check");
  if (spec.type === "tcp") {
    for (const field of ["path", "status", "body"] as const) if (spec[field] !== undefined) throw bad("INVALID_CHECK", `check.${field}`, `${field} is for http checks, not tcp`);
  }
  if (spec.body !== undefined) {
    try {
      new RegExp(spec.body);
    } catch (error) {
      throw bad("INVALID_CHECK", "check.body", `not a regular expression: ${(error as Error).message}`);
    }
  }
  const check: HealthCheck = {
    type: spec.type,
    port,
    path: spec.type === "http" ? (spec.path ?? "/") : null,
    status: spec.type === "http" ? (spec.status ?? 200) : null,
    body: spec.body ?? null,
    intervalMs: spec.intervalMs ?? 5000,
    timeoutMs: spec.timeoutMs ?? Math.min(2000, spec.intervalMs ?? 5000),
    fall: spec.fall ?? 2,
    rise: spec.rise ?? 1,
  };
  if (check.timeoutMs > check.intervalMs) throw bad("INVALID_CHECK", "check.timeoutMs", `the timeout (${check.timeoutMs} ms) is longer than the interval (${check.intervalMs} ms)`);
  return check;
}

function checkServer(service: Service, s: RealServer): RealServer {
  // The kernel sends a routed or tunnelled packet to the virtual port unchanged; only NAT can rewrite it (ipvsadm forces the port; we say so instead).
  if (service.fwmark === null && s.forwarding !== "masq" && s.port !== service.port) {
    throw bad("INVALID_PORT", "port", `with forwarding ${s.forwarding} a real server listens on the service's port ${service.port}; only masq maps it to ${s.port}`);
  }
  if (s.upperThreshold > 0 && s.lowerThreshold > s.upperThreshold) {
    throw bad("INVALID_THRESHOLD", "lowerThreshold", `the lower threshold (${s.lowerThreshold}) is above the upper (${s.upperThreshold})`);
  }
  return s;
}
