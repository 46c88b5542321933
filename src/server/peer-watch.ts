// Log lines an operator looks for when the network misbehaves: a peer the
// leader has not heard from for an election timeout is "unreachable", and
// "back" when it answers again. Read from the node's stats once a second,
// so the Raft layer stays free of log policy.

import type { Logger } from "../raft/logger.ts";
import type { RaftNode } from "../raft/node.ts";

export class PeerWatch {
  private readonly unreachable = new Set<string>();
  private timer: ReturnType<typeof setInterval> | undefined;

  constructor(
    private readonly raft: RaftNode,
    private readonly electionTimeoutMs: number,
    private readonly logger: Logger,
  ) {}

  start(): void {
    this.timer = setInterval(() => this.check(), 1_000);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  check(): void {
    const stats = this.raft.stats();
    if (stats.state !== "Leader") {
      this.unreachable.clear();
      return;
    }
    for (const peer of stats.peers) {
      const down = peer.lastContactMs > this.electionTimeoutMs;
      if (down && !this.unreachable.has(peer.id)) {
        this.unreachable.add(peer.id);
        this.logger.warn("peer unreachable", { peer: peer.id, lastContactMs: peer.lastContactMs, match: peer.match });
      } else if (!down && this.unreachable.delete(peer.id)) {
        this.logger.info("peer back", { peer: peer.id, match: peer.match });
      }
    }
  }
}
