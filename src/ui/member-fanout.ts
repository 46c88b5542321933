// GET /v1/cluster/each?path=/v1/ipvs/status: one GET asked of every member,
// each answer beside the member that gave it. For the console's per-node
// views (ipvs's apply status): the page may talk only to the node that served
// it (its Content-Security-Policy), and some routes answer only for the node
// asked. Each member is asked with the caller's own Authorization header, so
// it acts with the caller's rights and every member checks them itself.

import { Elysia, t } from "elysia";
import type { ClusterNode } from "../api/cluster-node.ts";
import { clusterStatus } from "../api/cluster-routes.ts";
import { ApiError } from "../api/errors.ts";
import { PLAIN_HTTP, type PeerHttp } from "../api/peer-http.ts";
import type { Proposer } from "../fsm/proposer.ts";

export interface MemberAnswer {
  id: string;
  http: string | null;
  /** The member's HTTP status; null when it did not answer. */
  status: number | null;
  /** Its answer: parsed JSON, else the text. */
  body: unknown;
  /** Why there is no answer (unreachable, no address); null when it answered. */
  error: string | null;
}

/** A plugin's or the node's own read route; never /v1/cluster itself, so one call cannot fan out again. */
const ASKABLE = /^\/v1\/(?!cluster(\/|$))[A-Za-z0-9_\-./]+$/;

export function memberFanoutRoutes(deps: { node: ClusterNode; proposer: Proposer; peers?: PeerHttp; timeoutMs?: number }) {
  const peers = deps.peers ?? PLAIN_HTTP;
  const timeoutMs = deps.timeoutMs ?? 2000;

  async function ask(id: string, http: string | null, path: string, authorization: string | null): Promise<MemberAnswer> {
    if (!http) return { id, http, status: null, body: null, error: "its HTTP address is not recorded yet" };
    try {
      const response = await peers.fetch(http, path, { headers: authorization ? { authorization } : {}, signal: AbortSignal.timeout(timeoutMs) });
      const text = await response.text();
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {
        // not JSON: kept as text
      }
      return { id, http, status: response.status, body, error: null };
    } catch (error) {
      return { id, http, status: null, body: null, error: `${http} did not answer: ${String((error as Error).message ?? error)}` };
    }
  }

  return new Elysia({ name: "member-fanout" }).get(
    "/v1/cluster/each",
    async ({ query, request }) => {
      if (!ASKABLE.test(query.path) || query.path.includes("..")) {
        throw new ApiError(400, "INVALID_PATH", `path must be a read route under /v1/ other than /v1/cluster (e.g. /v1/ipvs/status), got ${JSON.stringify(query.path)}`, { field: "query.path" });
      }
      const authorization = request.headers.get("authorization");
      const members = clusterStatus(deps.node, deps.proposer).members;
      return { path: query.path, members: await Promise.all(members.map((m) => ask(m.id, m.http, query.path, authorization))) };
    },
    {
      query: t.Object({
        path: t.String({ minLength: 4, maxLength: 256, description: "the route to GET on every member, e.g. /v1/ipvs/status" }),
        // Membership as this node knows it is all the route reads, so a stale read is answered here, leader or not.
        consistency: t.Optional(t.Union([t.Literal("linearizable"), t.Literal("leader"), t.Literal("stale")], { description: "stale: this node asks the members it knows of, even with no leader; otherwise the leader does" })),
      }),
      detail: { summary: "One GET asked of every member, each answer beside its member (the web console's per-node views)", tags: ["cluster"] },
    },
  );
}
