// Blocking queries (`?index=N&wait=30s`): answer as soon as a matching
// service changes after index N, or when the wait is over.

import type { PluginEvent, PluginRuntime } from "../../src/fsm/sdk.ts";
import type { NamingEvent } from "./commands.ts";

/**
 * Resolves once an event for a service `matches` accepts arrives with an
 * index above `after`, or `current()` already shows one, or `ms` pass, or the
 * client goes. Subscribes before looking, so no change slips in between.
 */
export function waitForServiceChange(
  plugin: Pick<PluginRuntime<any, any, any>, "subscribe">,
  matches: (service: string) => boolean,
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
    const unsubscribe = plugin.subscribe((events: PluginEvent[]) => {
      if (events.some((e) => e.index > after && matches((e.event as NamingEvent).service))) done();
    });
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done);
    if (current() > after) done();
  });
}
