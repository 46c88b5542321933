// What every request passes before the routes: the client's deadline
// (X-Pontoon-Timeout-Ms) checked and put in the request context, the token
// and what it may do, the client's rate and open watches, the body limit;
// and, after, the count of every answer by route and status, including the
// ones given here and the ones forwarded to the leader.

import { requirementOf, type AccessPolicy } from "./access.ts";
import type { ClientLimits } from "./client-limits.ts";
import { ApiError, errorResponse, toApiError } from "./errors.ts";
import { clientTimeout, FORWARDED_HEADER } from "./forward.ts";
import type { Metrics } from "./metrics.ts";
import { requestContext, type RequestContext } from "./request-context.ts";

export interface FrontDoorDeps {
  metrics: Metrics;
  /** Read per request, so tokens changed in the YAML apply at once. */
  access: () => AccessPolicy;
  limits: ClientLimits;
  /** The plugin a path belongs to (for plugin scopes), if any. */
  pluginOf: (path: string) => string | undefined;
  /** Largest request body accepted (http.maxBodyBytes). */
  maxBodyBytes: number;
  /** The leader's id when this node is a follower that knows it, else null. */
  leaderElsewhere?: () => string | null;
}

const LEADER_HEADER = "x-pontoon-leader";

/** Route label of requests answered here, before any route is matched. */
export const REFUSED_ROUTE = "(refused)";

/** What the front door needs of Bun's server. */
interface IdleTimeouts {
  timeout(request: Request, seconds: number): void;
  requestIP(request: Request): { address: string } | null;
}

/** Bun.serve's `fetch`: `app` answers what passes. */
export function frontDoor(app: { handle(request: Request): Promise<Response> }, deps: FrontDoorDeps): (request: Request, server?: IdleTimeouts) => Promise<Response> {
  return async (request, server) => {
    // Bun closes a connection that sends nothing for its idle timeout (10 s),
    // which would cut a watch between heartbeats and every blocking query
    // that waits longer: those are quiet by design, and bounded by their own wait.
    const longPoll = isLongPoll(request);
    if (server && longPoll) server.timeout(request, 0);
    const context: RequestContext = { route: REFUSED_ROUTE };
    let response: Response;
    let endWatch: (() => void) | undefined;
    try {
      context.timeoutMs = clientTimeout(request);
      const path = pathOf(request.url);
      const access = deps.access();
      const need = requirementOf(request.method, path, deps.pluginOf);
      if (need) {
        const principal = access.authenticate(request);
        if (principal instanceof ApiError) throw principal;
        context.principal = principal;
        const denied = access.authorize(principal, need, request, `${request.method} ${path}`);
        if (denied) throw denied;
        // Without auth a client is its IP, and a request a follower forwarded comes from the
        // follower's: the follower counted it against its real client already.
        const forwardedAnonymously = !access.enabled && request.headers.has(FORWARDED_HEADER);
        const limited = deps.limits.isLimited(principal.requestsPerSecond);
        // Only when a limit applies: the client's address costs a system call per request.
        if (!forwardedAnonymously && (limited || longPoll)) {
          const client = access.enabled ? principal.name : (server?.requestIP(request)?.address ?? "unknown");
          if (limited) deps.limits.admit(client, principal.requestsPerSecond);
          if (longPoll) endWatch = deps.limits.openWatch(client);
        }
      }
      const admitted = await withinBodyLimit(request, deps.maxBodyBytes);
      context.route = "unmatched";
      response = await requestContext.run(context, () => app.handle(admitted));
      if (endWatch) {
        response = endingWith(response, endWatch);
        endWatch = undefined;
      }
      // A follower's write went to the leader as a proposal: name it, as a forwarded answer does.
      const leader = request.method !== "GET" && !response.headers.has(LEADER_HEADER) ? deps.leaderElsewhere?.() : null;
      if (leader) response.headers.set(LEADER_HEADER, leader);
    } catch (error) {
      endWatch?.();
      response = errorResponse(toApiError(error, false));
    }
    deps.metrics.observeRequest(request.method, context.route, response.status);
    return response;
  };
}

/**
 * The response, with `end` called once its body has been sent or the client
 * went away: a watch holds its place until then.
 */
function endingWith(response: Response, end: () => void): Response {
  if (response.body === null) {
    end();
    return response;
  }
  const reader = response.body.getReader();
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { done, value } = await reader.read();
        if (done) {
          end();
          controller.close();
        } else {
          controller.enqueue(value);
        }
      } catch (error) {
        end();
        controller.error(error);
      }
    },
    cancel(reason) {
      end();
      return reader.cancel(reason);
    },
  });
  return new Response(body, { status: response.status, statusText: response.statusText, headers: response.headers });
}

/** A watch (event stream) or a blocking query (`?index=N`). */
function isLongPoll(request: Request): boolean {
  if (request.method !== "GET") return false;
  return /[?&]index=/.test(request.url) || pathOf(request.url).endsWith("/watch") || (request.headers.get("accept") ?? "").includes("text/event-stream");
}

/** The path of an absolute URL without building a URL object. */
function pathOf(url: string): string {
  const start = url.indexOf("/", url.indexOf("//") + 2);
  if (start < 0) return "/";
  const end = url.indexOf("?", start);
  return end < 0 ? url.slice(start) : url.slice(start, end);
}

/**
 * Refuses a body over the limit in our error format (Bun's own limit, set
 * higher, answers with an empty 413). A declared length is checked before
 * reading; a chunked body, which declares none, is read up to the limit.
 */
async function withinBodyLimit(request: Request, maxBodyBytes: number): Promise<Request> {
  const declared = request.headers.get("content-length");
  if (declared !== null) {
    const length = Number(declared);
    if (length > maxBodyBytes) throw tooLarge(`${length} bytes`, maxBodyBytes);
    return request;
  }
  if (request.body === null) return request;
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of request.body) {
    size += chunk.byteLength;
    if (size > maxBodyBytes) throw tooLarge(`over ${maxBodyBytes} bytes`, maxBodyBytes);
    chunks.push(chunk);
  }
  return new Request(request.url, { method: request.method, headers: request.headers, body: Buffer.concat(chunks) });
}

function tooLarge(size: string, maxBodyBytes: number): ApiError {
  return new ApiError(413, "BODY_TOO_LARGE", `the request body is ${size}; this node accepts at most ${maxBodyBytes} (http.maxBodyBytes)`, { field: "body" });
}
