// Blocking queries (Consul-style `?index=N&wait=30s`): the request returns as
// soon as something at or under the key changes after index N, or when the
// wait is over with the index unchanged.

import type { PluginEvent, PluginRuntime } from "../../src/fsm/sdk.ts";
import type { KvEvent } from "./commands.ts";

/**
 * Resolves once an event matching `matches` with an index above `after`
 * arrives, or `current()` already shows one, or `ms` pass. Subscribes before
 * looking, so a change cannot slip between the look and the wait.
 */
export function waitForChange(
  kv: Pick<PluginRuntime<any, any, any>, "subscribe">,
  matches: (key: string) => boolean,
  after: number,
  current: () => number,
  ms: number,
  signal?: AbortSignal,
): Promise<void> {
  return new Promise((resolve) => {
    let finished = false;
    const done = (): void => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      unsubscribe();
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const unsubscribe = kv.subscribe((events: PluginEvent[]) => {
      if (events.some((e) => e.index > after && matches((e.event as KvEvent).key))) done();
    });
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done);
    if (current() > after) done();
  });
}
