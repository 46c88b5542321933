// GET /v1/cluster/events: the cluster overview (cluster-overview.ts) as
// Server-Sent Events, one `overview` event at once and then one a second, for
// the console's live cluster view. Answered by the node asked (never
// forwarded), so it keeps reporting while there is no leader. The node asks
// each member with the caller's own Authorization header: it acts with the
// caller's rights, and needs no credentials of its own.

import { Elysia } from "elysia";
import type { ClusterNode } from "../api/cluster-node.ts";
import { PLAIN_HTTP, type PeerHttp } from "../api/peer-http.ts";
import { clusterStatus } from "../api/cluster-routes.ts";
import type { Proposer } from "../fsm/proposer.ts";
import { overviewOf, type MemberStatus } from "./cluster-overview.ts";
import { memberFanoutRoutes } from "./member-fanout.ts";

export interface ClusterEventsDeps {
  node: ClusterNode;
  proposer: Proposer;
  /** How to call another node (https with tls:). */
  peers?: PeerHttp;
  /** Between two overviews, ms. */
  intervalMs?: number;
  /** How long a member may take to answer before it counts as unreachable, ms. */
  probeTimeoutMs?: number;
}

const encoder = new TextEncoder();

export function clusterEventsRoutes(deps: ClusterEventsDeps) {
  const intervalMs = deps.intervalMs ?? 1000;
  const probeTimeoutMs = deps.probeTimeoutMs ?? 1500;
  const peers = deps.peers ?? PLAIN_HTTP;

  async function probe(http: string, authorization: string | null): Promise<MemberStatus | Error> {
    try {
      const response = await peers.fetch(http, "/v1/cluster", { headers: authorization ? { authorization } : {}, signal: AbortSignal.timeout(probeTimeoutMs) });
      if (!response.ok) return new Error(`${http} answered ${response.status}: ${(await response.text()).slice(0, 200)}`);
      return (await response.json()) as MemberStatus;
    } catch (error) {
      return new Error(`${http} did not answer: ${String((error as Error).message ?? error)}`);
    }
  }

  async function gather(authorization: string | null) {
    const self = clusterStatus(deps.node, deps.proposer);
    const views = new Map<string, MemberStatus | Error>(
      await Promise.all(
        self.members.map(async (m): Promise<[string, MemberStatus | Error]> => {
          if (m.id === self.id) return [m.id, self];
          if (!m.http) return [m.id, new Error("its HTTP address is not recorded yet")];
          return [m.id, await probe(m.http, authorization)];
        }),
      ),
    );
    return overviewOf(self, views, Date.now());
  }

  // The per-node fan-out rides along: the console's other member-by-member view.
  return new Elysia({ name: "cluster-events" }).use(memberFanoutRoutes({ node: deps.node, proposer: deps.proposer, peers })).get(
    "/v1/cluster/events",
    ({ request }) => {
      const authorization = request.headers.get("authorization");
      let stopped = false;
      let wake = (): void => {};
      const stop = (): void => {
        stopped = true;
        wake();
      };
      const stream = new ReadableStream<Uint8Array>({
        start(controller) {
          request.signal.addEventListener("abort", () => {
            stop();
            try {
              controller.close();
            } catch {
              // already closed
            }
          });
          // Not awaited: the response starts streaming while the loop runs.
          void (async () => {
            controller.enqueue(encoder.encode("retry: 1000\n\n"));
            while (!stopped) {
              const overview = await gather(authorization);
              if (stopped) break;
              try {
                controller.enqueue(encoder.encode(`event: overview\ndata: ${JSON.stringify(overview)}\n\n`));
              } catch {
                break;
              }
              await new Promise<void>((resolve) => {
                const timer = setTimeout(resolve, intervalMs);
                wake = () => {
                  clearTimeout(timer);
                  resolve();
                };
              });
            }
          })();
        },
        cancel: stop,
      });
      return new Response(stream, { headers: { "content-type": "text/event-stream", "cache-control": "no-cache" } });
    },
    { detail: { summary: "The cluster as every member reports it (role, term, indexes, lag, reachability), as Server-Sent Events: one `overview` a second (the web console's cluster view)", tags: ["cluster"] } },
  );
}
