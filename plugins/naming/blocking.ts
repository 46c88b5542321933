// Blocking queries (`?index=N&wait=30s`): answer as soon as a matching
// service changes after index N, or when the wait is over.

import { waitForEvent, type PluginRuntime } from "../../src/fsm/sdk.ts";
import type { NamingEvent } from "./commands.ts";

/** The SDK's waitForEvent, for naming events of a service `matches` accepts. */
export function waitForServiceChange(
  plugin: Pick<PluginRuntime<any, any, any>, "subscribe">,
  matches: (service: string) => boolean,
  after: number,
  current: () => number,
  ms: number,
  signal?: AbortSignal,
): Promise<void> {
  return waitForEvent(plugin, (event) => matches((event as NamingEvent).service), after, current, ms, signal);
}
