// Transport addresses are "host:port" strings (IPv6 hosts in brackets), the
// form the Raft configuration stores and operators type.

export interface HostPort {
  host: string;
  port: number;
}

/** Parses "host:port" / "[v6]:port"; returns null for anything else, so a bad address in a configuration is a dropped message, not a crash. */
export function parseAddress(address: string): HostPort | null {
  const colon = address.lastIndexOf(":");
  if (colon <= 0) return null;
  let host = address.slice(0, colon);
  const portText = address.slice(colon + 1);
  if (!/^\d{1,5}$/.test(portText)) return null;
  const port = Number(portText);
  if (port < 1 || port > 65535) return null;
  if (host.startsWith("[") && host.endsWith("]")) host = host.slice(1, -1);
  else if (host.includes(":")) return null;
  if (host.length === 0) return null;
  return { host, port };
}

export function formatAddress(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}
