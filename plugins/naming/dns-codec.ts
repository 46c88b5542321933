// The little of the DNS wire format (RFC 1035, SRV from RFC 2782, AAAA from
// RFC 3596) a responder for service names needs: read one question, write an
// answer with A, AAAA and SRV records, truncated to fit a UDP reply.

export const TYPE = { A: 1, AAAA: 28, SRV: 33, ANY: 255 } as const;
export const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;
const CLASS_IN = 1;
/** The largest UDP reply without EDNS (RFC 1035 §4.2.1); longer answers are cut and flagged TC. */
export const UDP_LIMIT = 512;

export interface Question {
  id: number;
  /** Recursion desired, echoed back. */
  rd: boolean;
  opcode: number;
  /** Lower-case, without the trailing dot. */
  name: string;
  type: number;
  class: number;
}

export class DnsFormatError extends Error {}

/** The first question of a query; throws DnsFormatError on anything malformed. */
export function parseQuery(message: Uint8Array): Question {
  if (message.length < 12) throw new DnsFormatError("shorter than a DNS header");
  const view = new DataView(message.buffer, message.byteOffset, message.byteLength);
  const id = view.getUint16(0);
  const flags = view.getUint16(2);
  if (flags & 0x8000) throw new DnsFormatError("a response, not a query");
  if (view.getUint16(4) < 1) throw new DnsFormatError("no question");
  const labels: string[] = [];
  let at = 12;
  for (;;) {
    if (at >= message.length) throw new DnsFormatError("the name runs past the message");
    const length = message[at]!;
    at++;
    if (length === 0) break;
    // Compression pointers (0xC0) never start a query's first name.
    if (length > 63) throw new DnsFormatError("a label longer than 63 bytes");
    if (at + length > message.length) throw new DnsFormatError("a label runs past the message");
    labels.push(new TextDecoder().decode(message.subarray(at, at + length)));
    at += length;
  }
  if (at + 4 > message.length) throw new DnsFormatError("the question has no type and class");
  return { id, rd: (flags & 0x0100) !== 0, opcode: (flags >> 11) & 0xf, name: labels.join(".").toLowerCase(), type: view.getUint16(at), class: view.getUint16(at + 2) };
}

export type Record =
  | { name: string; type: typeof TYPE.A; ttl: number; address: string }
  | { name: string; type: typeof TYPE.AAAA; ttl: number; address: string }
  | { name: string; type: typeof TYPE.SRV; ttl: number; priority: number; weight: number; port: number; target: string };

function encodeName(name: string): number[] {
  const out: number[] = [];
  for (const label of name.replace(/\.$/, "").split(".")) {
    if (label === "") continue;
    const bytes = new TextEncoder().encode(label);
    out.push(bytes.length, ...bytes);
  }
  out.push(0);
  return out;
}

function ipv4Bytes(address: string): number[] {
  return address.split(".").map(Number);
}

/** 16 bytes of an IPv6 address, "::" expanded; an embedded IPv4 tail (::ffff:1.2.3.4) is accepted. */
export function ipv6Bytes(address: string): number[] {
  let text = address;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  let tail: number[] = [];
  if (v4) {
    tail = ipv4Bytes(v4[1]!);
    text = text.slice(0, -v4[1]!.length) + "0:0";
  }
  const [head, rest] = text.split("::") as [string, string | undefined];
  const groups = (s: string | undefined) => (s ? s.split(":").filter((g) => g !== "").map((g) => parseInt(g, 16)) : []);
  const front = groups(head);
  const back = groups(rest);
  const all = rest === undefined ? front : [...front, ...new Array<number>(8 - front.length - back.length).fill(0), ...back];
  const bytes = all.flatMap((g) => [g >> 8, g & 0xff]);
  if (v4) bytes.splice(12, 4, ...tail);
  return bytes;
}

function encodeRecord(r: Record): number[] {
  let data: number[];
  if (r.type === TYPE.A) data = ipv4Bytes(r.address);
  else if (r.type === TYPE.AAAA) data = ipv6Bytes(r.address);
  else data = [r.priority >> 8, r.priority & 0xff, r.weight >> 8, r.weight & 0xff, r.port >> 8, r.port & 0xff, ...encodeName(r.target)];
  const ttl = Math.max(0, Math.min(r.ttl, 0x7fffffff));
  return [...encodeName(r.name), r.type >> 8, r.type & 0xff, 0, CLASS_IN, (ttl >>> 24) & 0xff, (ttl >>> 16) & 0xff, (ttl >>> 8) & 0xff, ttl & 0xff, data.length >> 8, data.length & 0xff, ...data];
}

/**
 * The reply to `q`: authoritative, the question echoed, then as many
 * answers and additional records as fit in `limit` bytes (TC set when an
 * answer had to be left out; additional records are dropped first).
 */
export function encodeResponse(q: Pick<Question, "id" | "rd" | "opcode" | "name" | "type" | "class">, rcode: number, answers: Record[], additional: Record[] = [], limit = UDP_LIMIT): Uint8Array {
  const question = [...encodeName(q.name), q.type >> 8, q.type & 0xff, q.class >> 8, q.class & 0xff];
  const body: number[] = [...question];
  let size = 12 + body.length;
  let an = 0;
  let truncated = false;
  for (const r of answers) {
    const bytes = encodeRecord(r);
    if (size + bytes.length > limit) {
      truncated = true;
      break;
    }
    body.push(...bytes);
    size += bytes.length;
    an++;
  }
  let ar = 0;
  if (!truncated) {
    for (const r of additional) {
      const bytes = encodeRecord(r);
      if (size + bytes.length > limit) break;
      body.push(...bytes);
      size += bytes.length;
      ar++;
    }
  }
  const flags = 0x8000 | (q.opcode << 11) | 0x0400 | (truncated ? 0x0200 : 0) | (q.rd ? 0x0100 : 0) | (rcode & 0xf);
  const header = [q.id >> 8, q.id & 0xff, flags >> 8, flags & 0xff, 0, 1, an >> 8, an & 0xff, 0, 0, ar >> 8, ar & 0xff];
  return new Uint8Array([...header, ...body]);
}

/** Encodes a query (for tests and tools): one question, recursion desired. */
export function encodeQuery(id: number, name: string, type: number): Uint8Array {
  const question = [...encodeName(name), type >> 8, type & 0xff, 0, CLASS_IN];
  return new Uint8Array([id >> 8, id & 0xff, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, ...question]);
}

export interface DecodedAnswer {
  name: string;
  type: number;
  ttl: number;
  /** A/AAAA: the address; SRV: "priority weight port target". */
  data: string;
}

/** Reads a response (for tests): rcode, TC, and answer and additional records, following compression pointers. */
export function decodeResponse(message: Uint8Array): { id: number; rcode: number; truncated: boolean; authoritative: boolean; answers: DecodedAnswer[]; additional: DecodedAnswer[] } {
  const view = new DataView(message.buffer, message.byteOffset, message.byteLength);
  const flags = view.getUint16(2);
  const [qd, an, ns, ar] = [view.getUint16(4), view.getUint16(6), view.getUint16(8), view.getUint16(10)];
  let at = 12;
  const readName = (start: number): { name: string; next: number } => {
    const labels: string[] = [];
    let pos = start;
    let next = -1;
    for (let hops = 0; hops < 64; hops++) {
      const length = message[pos]!;
      if ((length & 0xc0) === 0xc0) {
        if (next < 0) next = pos + 2;
        pos = ((length & 0x3f) << 8) | message[pos + 1]!;
        continue;
      }
      if (length === 0) return { name: labels.join("."), next: next < 0 ? pos + 1 : next };
      labels.push(new TextDecoder().decode(message.subarray(pos + 1, pos + 1 + length)));
      pos += 1 + length;
    }
    throw new DnsFormatError("a compression loop");
  };
  for (let i = 0; i < qd; i++) at = readName(at).next + 4;
  const records = (count: number): DecodedAnswer[] => {
    const out: DecodedAnswer[] = [];
    for (let i = 0; i < count; i++) {
      const { name, next } = readName(at);
      const type = view.getUint16(next);
      const ttl = view.getUint32(next + 4);
      const length = view.getUint16(next + 8);
      const data = next + 10;
      let text: string;
      if (type === TYPE.A) text = [...message.subarray(data, data + 4)].join(".");
      else if (type === TYPE.AAAA) text = Array.from({ length: 8 }, (_, g) => view.getUint16(data + 2 * g).toString(16)).join(":");
      else if (type === TYPE.SRV) text = `${view.getUint16(data)} ${view.getUint16(data + 2)} ${view.getUint16(data + 4)} ${readName(data + 6).name}`;
      else text = Buffer.from(message.subarray(data, data + length)).toString("hex");
      out.push({ name, type, ttl, data: text });
      at = data + length;
    }
    return out;
  };
  const answers = records(an);
  records(ns);
  const additional = records(ar);
  return { id: view.getUint16(0), rcode: flags & 0xf, truncated: (flags & 0x0200) !== 0, authoritative: (flags & 0x0400) !== 0, answers, additional };
}
