// Checks across settings that are each valid alone but not together, and the
// advertised addresses that default from others. Each error names the settings
// involved (or the variables that set them) and says which to change.

import { formatAddress } from "../transport/address.ts";
import { parseHostPort } from "./address.ts";
import { ConfigError } from "./errors.ts";
import type { PeerConfig, PontoonConfig } from "./schema.ts";

export interface ConsistencyContext {
  /** YAML path → the variable or flag that set it (`raft.port` → `RAFT_PORT`). */
  origins: ReadonlyMap<string, string>;
  /** The config file as errors name it. */
  file: string;
}

const WILDCARD_HOSTS = new Set(["0.0.0.0", "::", "[::]"]);

/** Throws a CONFLICTING_SETTINGS ConfigError for the first conflict found. Run before fillAdvertisedAddresses. */
export function checkConsistency(config: PontoonConfig, context: ConsistencyContext): void {
  const name = (path: string): string => context.origins.get(path) ?? path;
  const conflict = (at: string, message: string, paths: string[]): never => {
    // The file is worth naming only when a setting involved came from it.
    const inFile = paths.some((p) => !context.origins.has(p));
    throw new ConfigError("CONFLICTING_SETTINGS", `${message}${inFile ? ` (${context.file})` : ""}`, at);
  };

  const { peers, join } = config.cluster;
  if (peers && join !== undefined) {
    conflict(
      name("cluster.join"),
      `${name("cluster.join")} and cluster.peers are both set: a new node either bootstraps together with the listed peers or joins an existing cluster. ` +
        `Drop ${name("cluster.join")} to bootstrap with cluster.peers, or drop cluster.peers to join through ${join}`,
      ["cluster.join", "cluster.peers"],
    );
  }
  if (peers) checkPeers(config, peers, name, conflict);

  const sameHost = config.http.host === config.raft.host || WILDCARD_HOSTS.has(config.http.host) || WILDCARD_HOSTS.has(config.raft.host);
  if (sameHost && config.http.port === config.raft.port) {
    conflict(
      name("raft.port"),
      `${name("http.port")} and ${name("raft.port")} are both ${config.raft.port} on ${config.raft.host}: HTTP and Raft each need their own port; change one`,
      ["http.port", "raft.port"],
    );
  }
  if (config.raft.heartbeatTicks >= config.raft.electionTicks) {
    conflict(
      "raft.heartbeatTicks",
      `raft.heartbeatTicks: must be less than raft.electionTicks (${config.raft.electionTicks}), got ${config.raft.heartbeatTicks}; followers would time out between heartbeats`,
      ["raft.heartbeatTicks", "raft.electionTicks"],
    );
  }
  checkTokens(config, conflict);
  const tls = config.tls;
  if ((tls.cert === undefined) !== (tls.key === undefined)) {
    const [given, missing] = tls.cert === undefined ? ["tls.key", "tls.cert"] : ["tls.cert", "tls.key"];
    conflict(missing, `${given} is set but ${missing} is not: TLS needs both this node's certificate and its private key`, ["tls.cert", "tls.key"]);
  }
  if (tls.mutual && (tls.cert === undefined || tls.ca === undefined)) {
    conflict("tls.mutual", "tls.mutual needs tls.cert, tls.key and tls.ca: each node shows its certificate to the others and checks theirs against the CA", ["tls.mutual", "tls.ca"]);
  }
  const retry = config.cluster.joinRetry;
  if (retry.maxMs < retry.initialMs) {
    conflict(
      "cluster.joinRetry.maxMs",
      `cluster.joinRetry.maxMs: must be at least cluster.joinRetry.initialMs (${retry.initialMs}), got ${retry.maxMs}`,
      ["cluster.joinRetry.maxMs", "cluster.joinRetry.initialMs"],
    );
  }
}

function checkPeers(
  config: PontoonConfig,
  peers: readonly PeerConfig[],
  name: (path: string) => string,
  conflict: (at: string, message: string, paths: string[]) => never,
): void {
  for (const field of ["id", "raft", "http"] as const) {
    const firstAt = new Map<string, number>();
    for (const [i, peer] of peers.entries()) {
      const earlier = firstAt.get(peer[field]);
      if (earlier !== undefined) {
        conflict(
          `cluster.peers[${i}].${field}`,
          `cluster.peers[${i}].${field}: "${peer[field]}" is also cluster.peers[${earlier}].${field}; every peer needs its own ${field === "id" ? "id" : `${field} address`}`,
          ["cluster.peers"],
        );
      }
      firstAt.set(peer[field], i);
    }
  }

  const own = peers.findIndex((p) => p.id === config.node.id);
  if (own < 0) {
    conflict(
      "cluster.peers",
      `cluster.peers: has no entry for this node's id "${config.node.id}" (${name("node.id")}); ` +
        `add { id: ${config.node.id}, raft: "host:port", http: "host:port" } to the list, or set ${name("node.id")} to one of ${peers.map((p) => p.id).join(", ")}`,
      ["cluster.peers", "node.id"],
    );
  }
  // Peers dial what the list says; a node that listens or advertises elsewhere would never be reached.
  for (const kind of ["raft", "http"] as const) {
    const listed = peers[own]![kind];
    const entry = `cluster.peers[${own}].${kind}`;
    const advertise = config[kind].advertise;
    if (advertise !== undefined && advertise !== listed) {
      conflict(
        name(`${kind}.advertise`),
        `${name(`${kind}.advertise`)} is "${advertise}" but this node's entry ${entry} is "${listed}": peers use the list, so make them the same`,
        [`${kind}.advertise`, "cluster.peers"],
      );
    }
    const address = parseHostPort(listed)!;
    const bound = config[kind];
    if (advertise === undefined && address.host === bound.host && address.port !== bound.port) {
      conflict(
        entry,
        `${entry} is "${listed}" but this node listens on ${formatAddress(bound.host, bound.port)} (${name(`${kind}.port`)}); make them the same`,
        ["cluster.peers", `${kind}.port`],
      );
    }
  }
}

/**
 * http.advertise and raft.advertise, when not set: this node's entry in
 * cluster.peers (the address its peers already use), else the bound address
 * (CONTRACT.md: "default: the bound address").
 */
export function fillAdvertisedAddresses(config: PontoonConfig): void {
  const own = config.cluster.peers?.find((p) => p.id === config.node.id);
  config.http.advertise ??= own?.http ?? formatAddress(config.http.host, config.http.port);
  config.raft.advertise ??= own?.raft ?? formatAddress(config.raft.host, config.raft.port);
}

/** auth.tokens: the cluster token beside them, distinct names and hashes. */
function checkTokens(config: PontoonConfig, conflict: (at: string, message: string, paths: string[]) => never): void {
  const tokens = config.auth.tokens;
  if (tokens.length > 0 && config.auth.token === undefined) {
    conflict(
      "auth.token",
      "auth.tokens needs auth.token as well (env PONTOON_TOKEN): the cluster token is what nodes send each other; set it on every node",
      ["auth.token", "auth.tokens"],
    );
  }
  const names = new Set<string>();
  const hashes = new Set<string>();
  tokens.forEach((token, i) => {
    const at = `auth.tokens[${i}]`;
    if (names.has(token.name)) conflict(`${at}.name`, `${at}.name: "${token.name}" is used by an earlier token; each token needs its own name`, ["auth.tokens"]);
    if (hashes.has(token.sha256)) conflict(`${at}.sha256`, `${at}.sha256: the same hash as an earlier token; each token needs its own secret`, ["auth.tokens"]);
    names.add(token.name);
    hashes.add(token.sha256);
  });
}

/** A token's plugin scopes name plugins this node runs (checked once the plugins are loaded, as their names are only known then). */
export function checkTokenPlugins(config: PontoonConfig, pluginNames: readonly string[], file: string): void {
  config.auth.tokens.forEach((token, i) => {
    for (const plugin of token.plugins ?? []) {
      if (!pluginNames.includes(plugin)) {
        throw new ConfigError("BAD_SETTING", `auth.tokens[${i}].plugins: "${plugin}" is not a plugin this node runs (${pluginNames.join(", ")}) (${file})`, `auth.tokens[${i}].plugins`);
      }
    }
  });
}
