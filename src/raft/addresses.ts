// Where to reach each server: every address seen in the latest or the
// committed configuration, plus the ones the transport reports for servers
// no configuration names yet. Also what a NotLeaderError tells the caller.

import type { CoreStatus, Message, NodeId } from "./core/types.ts";
import { NotLeaderError } from "./errors.ts";
import type { Peer } from "../transport/types.ts";

export class AddressBook {
  /** Addresses of every server seen in any configuration (replies may go to a removed server). */
  private readonly addresses = new Map<NodeId, string>();
  /** Index of the latest configuration the book was refreshed from. */
  at = -1;

  get(id: NodeId): string | undefined {
    return this.addresses.get(id);
  }

  /** The node's NotLeaderError: the leader's id and, when known, its address, so the caller can go there. */
  notLeader(leader: NodeId | null): NotLeaderError {
    return new NotLeaderError(leader, leader === null ? null : (this.addresses.get(leader) ?? null));
  }

  refresh(st: CoreStatus): void {
    for (const s of st.configuration.servers) this.addresses.set(s.id, s.address);
    for (const s of st.committedConfiguration.servers) if (!this.addresses.has(s.id)) this.addresses.set(s.id, s.address);
    this.at = st.configurationIndex;
  }

  /**
   * A server being added has no configuration yet, so it cannot answer the
   * leader unless the transport tells it where the message came from.
   * Configurations take precedence.
   */
  learn(message: Message, from: Peer | undefined): void {
    if (from !== undefined && from.id === message.from && !this.addresses.has(message.from)) {
      this.addresses.set(message.from, from.address);
    }
  }
}
