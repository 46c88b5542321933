// Per-request values that deep layers need without threading them through
// every call: the client's deadline, and the route that answered (for the
// request metrics). The front door runs each request inside its context.

import { AsyncLocalStorage } from "node:async_hooks";
import type { Principal } from "./access.ts";

export interface RequestContext {
  /** The client's deadline for this request (X-Pontoon-Timeout-Ms), if it gave one. */
  timeoutMs?: number;
  /** The route that answered (its pattern, e.g. /v1/kv/*), as /metrics labels it. */
  route: string;
  /** Whose token the request carries (see access.ts); absent outside the front door. */
  principal?: Principal;
}

export const requestContext = new AsyncLocalStorage<RequestContext>();

export function currentRequestTimeout(): number | undefined {
  return requestContext.getStore()?.timeoutMs;
}

/** Records which route answers the current request. */
export function labelRoute(route: string): void {
  const context = requestContext.getStore();
  if (context) context.route = route;
}
