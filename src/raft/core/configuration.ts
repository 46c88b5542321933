// Cluster configurations: how they are encoded in Config entries, how a
// single-server change produces the next one, and which configuration is in
// effect at any log index. A configuration takes effect as soon as it is
// appended (dissertation §4.1), so truncating the log can un-apply one.

import { ConfigurationChangeError } from "./errors.ts";
import type { Configuration, MembershipChange, NodeId, Server } from "./types.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeConfiguration(c: Configuration): Uint8Array {
  return encoder.encode(JSON.stringify(c));
}

export function decodeConfiguration(data: Uint8Array): Configuration {
  const parsed = JSON.parse(decoder.decode(data)) as Configuration;
  if (!parsed || !Array.isArray(parsed.servers)) throw new Error("malformed configuration entry");
  return parsed;
}

export function voters(c: Configuration): NodeId[] {
  return c.servers.filter((s) => s.suffrage === "voter").map((s) => s.id);
}

export function isVoter(c: Configuration, id: NodeId): boolean {
  return c.servers.some((s) => s.id === id && s.suffrage === "voter");
}

export function findServer(c: Configuration, id: NodeId): Server | undefined {
  return c.servers.find((s) => s.id === id);
}

/** Majority of the voters. */
export function quorumSize(c: Configuration): number {
  return Math.floor(voters(c).length / 2) + 1;
}

export function sameConfiguration(a: Configuration, b: Configuration): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** The configuration that results from one single-server change, or an error saying why it is refused. */
export function nextConfiguration(current: Configuration, change: MembershipChange): Configuration {
  const servers = current.servers.map((s) => ({ ...s }));
  const existing = servers.find((s) => s.id === change.id);
  switch (change.kind) {
    case "addVoter":
    case "addNonvoter": {
      const suffrage = change.kind === "addVoter" ? "voter" : "nonvoter";
      if (existing) {
        // Adding an existing voter as a non-voter keeps it a voter (hashicorp/raft does the same).
        existing.address = change.address;
        if (change.meta) existing.meta = change.meta;
        if (suffrage === "voter") existing.suffrage = "voter";
      } else {
        const server: Server = { id: change.id, address: change.address, suffrage };
        if (change.meta) server.meta = change.meta;
        servers.push(server);
      }
      break;
    }
    case "demoteVoter":
      if (!existing) throw new ConfigurationChangeError(`server ${change.id} is not a member`);
      existing.suffrage = "nonvoter";
      break;
    case "removeServer": {
      if (!existing) throw new ConfigurationChangeError(`server ${change.id} is not a member`);
      servers.splice(servers.indexOf(existing), 1);
      break;
    }
  }
  const next = { servers };
  if (voters(next).length === 0) {
    throw new ConfigurationChangeError(`refusing a change that would leave the cluster with no voters`);
  }
  return next;
}

/**
 * Every configuration in the log, plus the one the snapshot carries, so the
 * core can answer "which configuration is in effect at index i" after appends,
 * truncations, compactions and snapshot installs.
 */
export class ConfigurationHistory {
  private base: { index: number; configuration: Configuration };
  private inLog: { index: number; configuration: Configuration }[] = [];

  constructor(base: Configuration = { servers: [] }, baseIndex = 0) {
    this.base = { index: baseIndex, configuration: base };
  }

  latest(): { index: number; configuration: Configuration } {
    return this.inLog[this.inLog.length - 1] ?? this.base;
  }

  /** The configuration in effect at `index`. */
  at(index: number): { index: number; configuration: Configuration } {
    for (let i = this.inLog.length - 1; i >= 0; i--) if (this.inLog[i]!.index <= index) return this.inLog[i]!;
    return this.base;
  }

  appended(index: number, configuration: Configuration): void {
    this.inLog.push({ index, configuration });
  }

  truncatedFrom(index: number): void {
    this.inLog = this.inLog.filter((c) => c.index < index);
  }

  /** A snapshot at `index` now covers everything up to it. */
  compactedTo(index: number): void {
    this.base = this.at(index);
    this.inLog = this.inLog.filter((c) => c.index > index);
  }

  resetTo(configuration: Configuration, index: number): void {
    this.base = { index, configuration };
    this.inLog = [];
  }
}
