// Hosts, ports and "host:port" addresses, checked the same way whether they
// come from the YAML (through the schema's formats) or from an environment
// variable, so both say the same thing about the same mistake.

import { FormatRegistry } from "@sinclair/typebox";
import { parseAddress, type HostPort } from "../transport/address.ts";

export const PORT_EXPECTED = "an integer 1-65535";
export const HOST_EXPECTED = "a host name or IP address, without a port";
export const HOST_PORT_EXPECTED = 'host:port, e.g. "127.0.0.1:2221" (IPv6 as "[::1]:2221")';

export function isPort(value: unknown): value is number {
  return typeof value === "number" && Number.isInteger(value) && value >= 1 && value <= 65535;
}

/** A port number from text: digits only, so "80x", "1e3" and " 80" are refused. */
export function parsePort(text: string): number | null {
  if (!/^\d{1,5}$/.test(text)) return null;
  const port = Number(text);
  return isPort(port) ? port : null;
}

/**
 * A host to bind to or dial: a name, an IPv4 address or a bare IPv6 address.
 * "127.0.0.1:2221" is refused because the port belongs in its own setting.
 */
export function isHost(text: string): boolean {
  if (text.length === 0 || text.length > 253 || /[\s/\\[\]@]/.test(text)) return false;
  const colons = text.split(":").length - 1;
  // One colon is a host:port by mistake; two or more is an IPv6 address (::, ::1, fe80::1).
  return colons === 0 || (colons >= 2 && /^[0-9A-Fa-f:.%a-z]+$/.test(text));
}

/** "host:port" (or "[v6]:port") split into its parts, or null: the transport's parser, with the host checked as for binding. */
export function parseHostPort(text: string): HostPort | null {
  const address = parseAddress(text);
  return address && isHost(address.host) ? address : null;
}

/** Format names for TypeBox string schemas. */
export const HOST_FORMAT = "pontoon-host";
export const HOST_PORT_FORMAT = "pontoon-host-port";
FormatRegistry.Set(HOST_FORMAT, isHost);
FormatRegistry.Set(HOST_PORT_FORMAT, (text) => parseHostPort(text) !== null);
