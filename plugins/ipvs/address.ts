// IP addresses as the kernel keys them: an IPv4 dotted quad or an IPv6
// address, written back the way inet_ntop (and so `ipvsadm -Sn`) prints it,
// so the table, the export and the kernel's own listing compare as strings.

export type Family = "inet" | "inet6";

/** The address in canonical form and its family, or null when it is neither IPv4 nor IPv6. */
export function parseAddress(text: string): { address: string; family: Family } | null {
  const v4 = parseIPv4(text);
  if (v4) return { address: v4.join("."), family: "inet" };
  const v6 = parseIPv6(text);
  if (v6) return { address: formatIPv6(v6), family: "inet6" };
  return null;
}

/** Four octets, decimal, no leading zeros (inet_pton refuses "010.0.0.1"; so do we). */
function parseIPv4(text: string): number[] | null {
  const parts = text.split(".");
  if (parts.length !== 4) return null;
  const octets: number[] = [];
  for (const part of parts) {
    if (!/^(0|[1-9]\d{0,2})$/.test(part)) return null;
    const n = Number(part);
    if (n > 255) return null;
    octets.push(n);
  }
  return octets;
}

/** Eight 16-bit groups, or null. Accepts `::` once and a trailing dotted quad (::ffff:1.2.3.4). */
function parseIPv6(text: string): number[] | null {
  if (text.length > 45 || !/^[0-9a-fA-F:.]+$/.test(text)) return null;
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const groupsOf = (part: string): number[] | null => {
    if (part === "") return [];
    const out: number[] = [];
    const pieces = part.split(":");
    for (const [i, piece] of pieces.entries()) {
      if (i === pieces.length - 1 && piece.includes(".")) {
        const v4 = parseIPv4(piece);
        if (!v4) return null;
        out.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(piece)) return null;
        out.push(parseInt(piece, 16));
      }
    }
    return out;
  };
  const head = groupsOf(halves[0]!);
  const tail = halves.length === 2 ? groupsOf(halves[1]!) : [];
  if (!head || !tail) return null;
  if (halves.length === 1) return head.length === 8 ? head : null;
  const missing = 8 - head.length - tail.length;
  // "::" stands for at least one group of zeros.
  if (missing < 1) return null;
  return [...head, ...new Array<number>(missing).fill(0), ...tail];
}

/** RFC 5952 as glibc's inet_ntop writes it: the longest run of two or more zero groups as "::", IPv4-mapped and -compatible tails as a dotted quad. */
function formatIPv6(groups: number[]): string {
  let best = { start: -1, length: 0 };
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > best.length) best = { start: i, length: j - i };
    i = j;
  }
  if (best.length < 2) best = { start: -1, length: 0 };
  const quad = (hi: number, lo: number) => `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  if (best.start === 0 && (best.length === 6 || (best.length === 5 && groups[5] === 0xffff))) {
    return `::${best.length === 5 ? "ffff:" : ""}${quad(groups[6]!, groups[7]!)}`;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best.start < 0) return hex.join(":");
  return `${hex.slice(0, best.start).join(":")}::${hex.slice(best.start + best.length).join(":")}`;
}

/** A canonical address as fixed-width hex, so addresses of one family sort as numbers (as ipvsadm sorts them). */
export function addressSortKey(address: string): string {
  const v4 = parseIPv4(address);
  if (v4) return v4.map((o) => o.toString(16).padStart(2, "0")).join("");
  return (parseIPv6(address) ?? []).map((g) => g.toString(16).padStart(4, "0")).join("");
}

/** `10.0.0.1:80` or `[2001:db8::1]:80`, as ipvsadm writes an address and port. */
export function joinHostPort(address: string, port: number): string {
  return address.includes(":") ? `[${address}]:${port}` : `${address}:${port}`;
}

/** The inverse of joinHostPort; the port may be absent (null). Null when malformed. */
export function splitHostPort(text: string): { host: string; port: string | null } | null {
  if (text.startsWith("[")) {
    const m = /^\[([^\]]+)\](?::(.*))?$/.exec(text);
    return m ? { host: m[1]!, port: m[2] ?? null } : null;
  }
  const colons = text.split(":").length - 1;
  if (colons === 0) return { host: text, port: null };
  if (colons === 1) {
    const [host, port] = text.split(":");
    return { host: host!, port: port! };
  }
  // A bare IPv6 address: ipvsadm wants brackets to tell the port from the address.
  return null;
}
