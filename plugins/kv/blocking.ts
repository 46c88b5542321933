// Blocking queries (Consul-style `?index=N&wait=30s`): the request returns as
// soon as something at or under the key changes after index N, or when the
// wait is over with the index unchanged.

import { waitForEvent, type PluginRuntime } from "../../src/fsm/sdk.ts";
import type { KvEvent } from "./commands.ts";

/** The SDK's waitForEvent, for kv events whose key `matches` accepts. */
export function waitForChange(
  kv: Pick<PluginRuntime<any, any, any>, "subscribe">,
  matches: (key: string) => boolean,
  after: number,
  current: () => number,
  ms: number,
  signal?: AbortSignal,
): Promise<void> {
  return waitForEvent(kv, (event) => matches((event as KvEvent).key), after, current, ms, signal);
}
