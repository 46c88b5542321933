// What a plugin's routes get (PluginRuntime in the SDK), bound to one plugin.

import type { PluginHost } from "./plugin-host.ts";
import type { Proposer } from "./proposer.ts";
import type { PluginRuntime } from "./sdk.ts";

// One runtime per plugin per node, so a plugin can key its per-node memory by it (see PluginRuntime).
const runtimes = new WeakMap<PluginHost, Map<string, PluginRuntime<any, any, any>>>();

export function pluginRuntime(name: string, host: PluginHost, proposer: Proposer): PluginRuntime<any, any, any> {
  let byName = runtimes.get(host);
  if (!byName) runtimes.set(host, (byName = new Map()));
  const known = byName.get(name);
  if (known) return known;
  const hosted = host.plugin(name);
  if (!hosted) throw new Error(`plugin ${name} is not loaded`);
  const runtime: PluginRuntime<any, any, any> = {
    name,
    config: hosted.config,
    write: (command, args, options) => proposer.propose(name, command, args, options) as Promise<{ index: number; value: any }>,
    read: (consistency, query) => proposer.read(consistency, query),
    peek: (query) => query(host.database),
    subscribe: (listener) => host.onEvents(name, listener),
    appliedIndex: () => host.appliedIndex(),
  };
  byName.set(name, runtime);
  return runtime;
}
