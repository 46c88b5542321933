// The DNS responder (naming.dns.port), started by the node service on every
// node: it answers from this node's own copy of the registry, as Consul's DNS
// interface does by default (stale reads):
//   <service>.service.<domain>        A / AAAA: the healthy instances' addresses; SRV: port, weight, target
//   <tag>.<service>.service.<domain>  the same, only instances with that tag
//   <hex address>.addr.<domain>       A / AAAA: the SRV targets of instances registered by IP

import { isIP } from "node:net";
import type { Database } from "../../src/fsm/sdk.ts";
import type { NamingRuntime } from "./commands.ts";
import { DnsFormatError, RCODE, TYPE, encodeResponse, ipv6Bytes, parseQuery, type Question, type Record } from "./dns-codec.ts";
import type { Instance } from "./store.ts";
import { listInstances } from "./store.ts";

/** Binds the UDP socket; throws a message naming the setting when it cannot. */
export async function startDns(naming: NamingRuntime): Promise<{ port: number; close(): void }> {
  const { port, domain, ttl, host } = naming.config.dns;
  const zone = domain.toLowerCase().replace(/\.$/, "");
  try {
    return await Bun.udpSocket({
      hostname: host,
      port,
      socket: {
        data(s, message, fromPort, fromAddress) {
          const reply = respond(message, (question) => naming.peek((db) => answer(db, question, zone, ttl)));
          if (reply) s.send(reply, fromPort, fromAddress);
        },
      },
    });
  } catch (error) {
    throw new Error(`cannot listen for DNS on udp ${host}:${port} (naming.dns.port): ${String((error as Error).message ?? error)}`);
  }
}

/** The reply to one datagram, or null for one not worth answering (too short to carry an id). */
export function respond(message: Uint8Array, lookup: (q: Question) => { rcode: number; answers: Record[]; additional: Record[] }): Uint8Array | null {
  let question: Question;
  try {
    question = parseQuery(message);
  } catch (error) {
    if (!(error instanceof DnsFormatError) || message.length < 12) return null;
    const view = new DataView(message.buffer, message.byteOffset, message.byteLength);
    if (view.getUint16(2) & 0x8000) return null;
    return encodeResponse({ id: view.getUint16(0), rd: false, opcode: 0, name: "", type: 0, class: 0 }, RCODE.FORMERR, []);
  }
  if (question.opcode !== 0) return encodeResponse(question, RCODE.NOTIMP, []);
  try {
    const { rcode, answers, additional } = lookup(question);
    return encodeResponse(question, rcode, answers, additional);
  } catch {
    return encodeResponse(question, RCODE.SERVFAIL, []);
  }
}

/** The hex form of an IP used in SRV targets (Consul's <hex>.addr.<domain>). */
export function addressLabel(address: string): string {
  const bytes = isIP(address) === 4 ? address.split(".").map(Number) : ipv6Bytes(address);
  return bytes.map((b) => b.toString(16).padStart(2, "0")).join("");
}

function labelAddress(label: string): string | null {
  if (/^[0-9a-f]{8}$/.test(label)) return (label.match(/../g) ?? []).map((h) => parseInt(h, 16)).join(".");
  if (/^[0-9a-f]{32}$/.test(label)) return (label.match(/..../g) ?? []).map((h) => parseInt(h, 16).toString(16)).join(":");
  return null;
}

/** Answers a question about `zone` from the registry. */
export function answer(db: Database, q: Question, zone: string, ttl: number): { rcode: number; answers: Record[]; additional: Record[] } {
  const none = (rcode: number) => ({ rcode, answers: [], additional: [] });
  if (q.class !== 1 && q.class !== 255) return none(RCODE.REFUSED);
  if (q.name !== zone && !q.name.endsWith(`.${zone}`)) return none(RCODE.REFUSED);
  const labels = q.name === zone ? [] : q.name.slice(0, -(zone.length + 1)).split(".");
  if (labels.length === 2 && labels[1] === "addr") {
    const address = labelAddress(labels[0]!);
    if (!address) return none(RCODE.NXDOMAIN);
    const family = address.includes(":") ? TYPE.AAAA : TYPE.A;
    return { rcode: RCODE.NOERROR, answers: q.type === family || q.type === TYPE.ANY ? [{ name: q.name, type: family, ttl, address }] : [], additional: [] };
  }
  if ((labels.length !== 2 && labels.length !== 3) || labels.at(-1) !== "service") return none(RCODE.NXDOMAIN);
  const [tag, service] = labels.length === 3 ? [labels[0]!, labels[1]!] : [null, labels[0]!];
  const all = instancesNamed(db, service);
  if (all.length === 0) return none(RCODE.NXDOMAIN);
  const healthy = shuffle(all.filter((i) => i.status === "passing" && (tag === null || i.tags.some((t) => t.toLowerCase() === tag))));
  const answers: Record[] = [];
  const additional: Record[] = [];
  for (const i of healthy) {
    const family = isIP(i.address);
    if (q.type === TYPE.SRV) {
      const target = family === 0 ? i.address : `${addressLabel(i.address)}.addr.${zone}`;
      answers.push({ name: q.name, type: TYPE.SRV, ttl, priority: 1, weight: Math.min(i.weight, 65535), port: i.port, target });
      if (family !== 0) additional.push({ name: target, type: family === 4 ? TYPE.A : TYPE.AAAA, ttl, address: i.address });
    } else if ((q.type === TYPE.A || q.type === TYPE.ANY) && family === 4) {
      answers.push({ name: q.name, type: TYPE.A, ttl, address: i.address });
    } else if ((q.type === TYPE.AAAA || q.type === TYPE.ANY) && family === 6) {
      answers.push({ name: q.name, type: TYPE.AAAA, ttl, address: i.address });
    }
  }
  return { rcode: RCODE.NOERROR, answers, additional };
}

/** DNS names are case-insensitive; service names keep their case. */
function instancesNamed(db: Database, service: string): Instance[] {
  const names = db.query<{ service: string }, [string]>("SELECT DISTINCT service FROM naming_instances WHERE service = ? COLLATE NOCASE").all(service);
  return names.flatMap((n) => listInstances(db, n.service));
}

/** Spreads clients over the instances, as DNS round robin does. */
function shuffle<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}
