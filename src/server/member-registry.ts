// Keeps the replicated member records (HTTP address, plugins) true: every
// node records itself once a leader is known; the leader also records the
// declared peers it knows of and forgets records of servers no longer in the
// configuration. Followers need the leader's HTTP address to forward to it.

import { bearerHeader } from "../api/auth.ts";
import { PLAIN_HTTP, type PeerHttp } from "../api/peer-http.ts";
import { FORWARDED_HEADER } from "../api/forward.ts";
import { HOST_PLUGIN, recordSays } from "../fsm/host-commands.ts";
import type { Proposer } from "../fsm/proposer.ts";
import type { Logger } from "../raft/logger.ts";
import type { RaftNode } from "../raft/node.ts";
import type { PeerSpec } from "./startup.ts";

export interface MemberRegistryOptions {
  raft: RaftNode;
  proposer: Proposer;
  id: string;
  http: string;
  plugins: string[];
  peers: PeerSpec[];
  token: () => string | undefined;
  logger: Logger;
  /** How to call the leader (https with tls:); plain HTTP when absent. */
  peerHttp?: PeerHttp;
}

export class MemberRegistry {
  private timer: ReturnType<typeof setInterval> | undefined;
  private running = false;
  private unsubscribe: (() => void) | undefined;

  constructor(private readonly o: MemberRegistryOptions) {}

  /** The leader and its HTTP address (from the records, or the declared peers before they are recorded). */
  leaderHttp(): { id: string; http: string | null } | null {
    const leader = this.o.raft.leader();
    if (!leader) return null;
    const http = this.o.proposer.memberRecords().get(leader.id)?.http ?? this.o.peers.find((p) => p.id === leader.id)?.http ?? null;
    return { id: leader.id, http };
  }

  start(): void {
    this.unsubscribe = this.o.raft.onLeaderChange(() => void this.sync());
    this.timer = setInterval(() => void this.sync(), 2_000);
    void this.sync();
  }

  stop(): void {
    clearInterval(this.timer);
    this.unsubscribe?.();
  }

  private async sync(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      if (this.o.raft.state() === "Leader") await this.syncAsLeader();
      else await this.registerThroughLeader();
    } catch (error) {
      this.o.logger.debug("member records not synced yet", { error: String(error) });
    } finally {
      this.running = false;
    }
  }

  private wanted(id: string, http: string, plugins: string[]): boolean {
    return !recordSays(this.o.proposer.memberRecords().get(id), http, plugins);
  }

  private async syncAsLeader(): Promise<void> {
    const { proposer } = this.o;
    if (this.wanted(this.o.id, this.o.http, this.o.plugins)) {
      await proposer.propose(HOST_PLUGIN, "member", { id: this.o.id, http: this.o.http, plugins: this.o.plugins });
      this.o.logger.info("recorded this node's HTTP address", { http: this.o.http });
    }
    const configuration = this.o.raft.getConfiguration();
    const inConfiguration = new Set(configuration.configuration.servers.map((s) => s.id));
    for (const peer of this.o.peers) {
      // A declared peer's plugins are assumed to be ours until it records its own.
      if (inConfiguration.has(peer.id) && !proposer.memberRecords().has(peer.id)) {
        await proposer.propose(HOST_PLUGIN, "member", { id: peer.id, http: peer.http, plugins: this.o.plugins });
      }
    }
    if (!configuration.committed) return;
    for (const id of [...proposer.memberRecords().keys()]) {
      if (!inConfiguration.has(id)) {
        await proposer.propose(HOST_PLUGIN, "forget", { id });
        this.o.logger.info("forgot the HTTP address of a removed member", { id });
      }
    }
  }

  private async registerThroughLeader(): Promise<void> {
    if (!this.wanted(this.o.id, this.o.http, this.o.plugins)) return;
    const leader = this.leaderHttp();
    if (!leader?.http) return;
    const response = await (this.o.peerHttp ?? PLAIN_HTTP).fetch(leader.http, `/v1/cluster/members/${encodeURIComponent(this.o.id)}`, {
      method: "PUT",
      // Marked forwarded: if that node is no longer the leader it answers 503 rather than forwarding again.
      headers: { "content-type": "application/json", [FORWARDED_HEADER]: this.o.id, ...bearerHeader(this.o.token()) },
      body: JSON.stringify({ http: this.o.http, plugins: this.o.plugins }),
      signal: AbortSignal.timeout(5_000),
    });
    if (response.ok) this.o.logger.info("recorded this node's HTTP address with the leader", { leader: leader.id, http: this.o.http });
    else this.o.logger.debug("the leader did not record this node yet", { status: response.status, answer: (await response.text()).slice(0, 200) });
  }
}
