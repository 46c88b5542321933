// Joining an existing cluster through any member's HTTP API, retried with
// backoff until it works or the operator stops the node, saying so each time.

import { JOIN_SECRET_HEADER } from "../api/access.ts";
import { bearerHeader } from "../api/auth.ts";
import { PLAIN_HTTP, type PeerHttp } from "../api/peer-http.ts";
import type { Logger } from "../raft/logger.ts";

export interface PeerSpec {
  id: string;
  raft: string;
  http: string;
}

export interface JoinRequest {
  via: string;
  self: { id: string; raft: string; http: string; voter: boolean; plugins: string[] };
  retry: { initialMs: number; maxMs: number };
  token: string | undefined;
  /** auth.joinSecret, which the cluster asks of a joining node. */
  joinSecret?: string | undefined;
  logger: Logger;
  stopped: () => boolean;
  /** How to call the member (https with tls:); plain HTTP when absent. */
  peerHttp?: PeerHttp;
}

export async function joinCluster(r: JoinRequest): Promise<void> {
  let delay = r.retry.initialMs;
  for (let attempt = 1; !r.stopped(); attempt++) {
    try {
      const response = await (r.peerHttp ?? PLAIN_HTTP).fetch(r.via, "/v1/cluster/join", {
        method: "POST",
        headers: { "content-type": "application/json", ...bearerHeader(r.token), ...(r.joinSecret ? { [JOIN_SECRET_HEADER]: r.joinSecret } : {}) },
        body: JSON.stringify(r.self),
        signal: AbortSignal.timeout(15_000),
      });
      const text = await response.text();
      if (response.ok) {
        r.logger.info("joined the cluster", { via: r.via, as: r.self.voter ? "voter" : "non-voter", answer: text });
        return;
      }
      // A 4xx other than auth will not fix itself by retrying: say what is wrong and keep trying in case the operator fixes the cluster.
      r.logger.warn("join refused; retrying", { via: r.via, attempt, status: response.status, answer: text.slice(0, 300), retryInMs: delay });
    } catch (error) {
      r.logger.warn("cannot reach the member to join through; retrying", { via: r.via, attempt, error: String(error), retryInMs: delay });
    }
    await Bun.sleep(delay);
    delay = Math.min(r.retry.maxMs, delay * 2);
  }
}
