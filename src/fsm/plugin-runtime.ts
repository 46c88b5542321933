// What a plugin's routes get (PluginRuntime in the SDK), bound to one plugin.

import type { PluginHost } from "./plugin-host.ts";
import type { Proposer } from "./proposer.ts";
import type { PluginRuntime } from "./sdk.ts";

export function pluginRuntime(name: string, host: PluginHost, proposer: Proposer): PluginRuntime<any, any, any> {
  const hosted = host.plugin(name);
  if (!hosted) throw new Error(`plugin ${name} is not loaded`);
  return {
    name,
    config: hosted.config,
    write: (command, args, options) => proposer.propose(name, command, args, options) as Promise<{ index: number; value: any }>,
    read: (consistency, query) => proposer.read(consistency, query),
    peek: (query) => query(host.database),
    subscribe: (listener) => host.onEvents(name, listener),
    appliedIndex: () => host.appliedIndex(),
  };
}
