// How a node calls another node's HTTP API (forwarding to the leader,
// recording its address, joining, read indexes): http:// or, with tls:,
// https:// trusting the cluster's CA and showing this node's certificate.

import type { TlsMaterial } from "../config/tls-files.ts";

export interface PeerHttp {
  /** `http://` or `https://`, then the peer's host:port and the path. */
  url(address: string, path: string): string;
  /** fetch, with the cluster's TLS settings. */
  fetch(address: string, path: string, init?: RequestInit): Promise<Response>;
}

export function peerHttp(tls?: TlsMaterial): PeerHttp {
  const scheme = tls ? "https" : "http";
  const options = tls ? { tls: { cert: tls.cert, key: tls.key, ...(tls.ca === undefined ? {} : { ca: tls.ca }) } } : {};
  const url = (address: string, path: string) => `${scheme}://${address}${path}`;
  return {
    url,
    fetch: (address, path, init = {}) => fetch(url(address, path), { ...init, ...options } as RequestInit),
  };
}

/** Plain HTTP, for nodes without tls: and for tests. */
export const PLAIN_HTTP = peerHttp();
