// Followers forward to the leader over HTTP: membership changes, and reads
// that need the leader (every consistency but `stale`); a plugin's writes go
// as proposals over the Raft transport instead (see answeredLocally). The
// decision is made before the body is parsed, so the leader receives the
// request exactly as the client sent it,
// over a kept-alive connection, with the client's deadline. A request
// forwarded once is never forwarded again: if it reaches a non-leader,
// leadership is moving and the client is told to retry.

import { blockingWaitMs } from "../fsm/sdk.ts";
import { ApiError } from "./errors.ts";
import { PLAIN_HTTP, type PeerHttp } from "./peer-http.ts";
import { currentRequestTimeout } from "./request-context.ts";

export const FORWARDED_HEADER = "x-pontoon-forwarded-by";
export const TIMEOUT_HEADER = "x-pontoon-timeout-ms";

export interface LeaderLocator {
  /** This node's id. */
  readonly id: string;
  isLeader(): boolean;
  /** The leader's id and HTTP address; http null while not yet known. */
  leader(): { id: string; http: string | null } | null;
  /** How to call it (https with tls:); plain HTTP when absent. */
  peerHttp?: PeerHttp;
}

/**
 * Routes every node answers itself, whatever its role (plus the plugins'
 * local routes). A plugin's writes are among them: the route runs here and
 * the Proposer hands the proposal to the leader over the Raft transport,
 * which costs far less than a second HTTP request. Membership changes and
 * reads that need the leader are forwarded as HTTP.
 */
function answeredLocally(method: string, path: string, url: URL, localPaths: readonly string[], leaderPaths: readonly string[]): boolean {
  if (!path.startsWith("/v1/")) return true;
  if (leaderPaths.some((prefix) => path.startsWith(prefix))) return false;
  if (method === "GET" || method === "HEAD") {
    // The console's live cluster view (src/ui/cluster-events.ts) reports this node's view, leader or not.
    if (path === "/v1/health" || path === "/v1/cluster" || path === "/v1/cluster/events" || localPaths.includes(path)) return true;
    return url.searchParams.get("consistency") === "stale";
  }
  return !path.startsWith("/v1/cluster");
}

/** The forwarded response, or null when this node should answer itself. */
export async function forwardIfFollower(
  request: Request,
  url: URL,
  locator: LeaderLocator,
  defaultTimeoutMs: number,
  localPaths: readonly string[] = [],
  leaderPaths: readonly string[] = [],
): Promise<Response | null> {
  if (answeredLocally(request.method, url.pathname, url, localPaths, leaderPaths) || locator.isLeader()) return null;
  const isWrite = request.method !== "GET" && request.method !== "HEAD";
  if (request.headers.has(FORWARDED_HEADER)) {
    throw new ApiError(503, "NO_LEADER", `this request was forwarded by ${request.headers.get(FORWARDED_HEADER)} to ${locator.id}, which is no longer the leader; leadership is moving, retry shortly`, {}, { "retry-after": "1" });
  }
  const leader = locator.leader();
  if (!leader) throw new ApiError(503, "NO_LEADER", "no leader is known right now (an election is under way or a quorum is unreachable); retry shortly", {}, { "retry-after": "1" });
  if (!leader.http) {
    throw new ApiError(503, "NO_LEADER", `the leader is ${leader.id} but its HTTP address is not known here yet; retry shortly`, {}, { "retry-after": "1" });
  }
  // A blocking query (?index=N&wait=...) may rightly take its whole wait before answering.
  const timeoutMs = (currentRequestTimeout() ?? defaultTimeoutMs) + (url.searchParams.has("index") ? blockingWaitMs(url.searchParams.get("wait")) : 0);
  const headers = new Headers(request.headers);
  headers.delete("host");
  headers.delete("content-length");
  headers.set(FORWARDED_HEADER, locator.id);
  headers.set(TIMEOUT_HEADER, String(timeoutMs));
  const body = isWrite ? await request.arrayBuffer() : undefined;
  try {
    const response = await (locator.peerHttp ?? PLAIN_HTTP).fetch(leader.http, `${url.pathname}${url.search}`, {
      method: request.method,
      headers,
      body,
      signal: AbortSignal.timeout(timeoutMs),
      redirect: "manual",
    });
    const out = new Headers(response.headers);
    out.set("x-pontoon-leader", leader.id);
    // The body was decoded by fetch; its length and encoding no longer apply.
    out.delete("content-encoding");
    out.delete("content-length");
    return new Response(await response.arrayBuffer(), { status: response.status, headers: out });
  } catch (error) {
    const refused = (error as { code?: string }).code === "ConnectionRefused" || /refused/i.test(String(error));
    if (!isWrite || refused) {
      throw new ApiError(503, "NO_LEADER", `the leader ${leader.id} at ${leader.http} could not be reached (${String(error)}); retry shortly`, {}, { "retry-after": "1" });
    }
    const timedOut = (error as { name?: string }).name === "TimeoutError";
    throw new ApiError(timedOut ? 504 : 503, "OUTCOME_UNKNOWN", `the write was forwarded to the leader ${leader.id} but no answer came back (${String(error)}); it may or may not have been applied: read before retrying`);
  }
}

/** The client's deadline in ms, from the header, capped to something sane; a malformed header is a 400 on every node. */
export function clientTimeout(request: Request): number | undefined {
  const raw = request.headers.get(TIMEOUT_HEADER);
  if (raw === null) return undefined;
  const ms = Number(raw);
  if (!Number.isFinite(ms) || ms <= 0) throw new ApiError(400, "INVALID_REQUEST", `${TIMEOUT_HEADER} must be a positive number of milliseconds, got ${JSON.stringify(raw)}`, { field: `header.${TIMEOUT_HEADER}` });
  return Math.min(ms, 120_000);
}
