// Per-request values that deep layers need without threading them through
// every call: the client's deadline. The server runs each request inside it.

import { AsyncLocalStorage } from "node:async_hooks";

export interface RequestContext {
  /** The client's deadline for this request (X-Pontoon-Timeout-Ms), if it gave one. */
  timeoutMs?: number;
}

export const requestContext = new AsyncLocalStorage<RequestContext>();

export function currentRequestTimeout(): number | undefined {
  return requestContext.getStore()?.timeoutMs;
}
