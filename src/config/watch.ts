// Watching the YAML file (chokidar): on a change, reload it and say which
// settings took effect live and which need a restart. A broken edit is
// reported and the running config kept.

import { watch } from "chokidar";
import { ConfigError } from "./errors.ts";
import { buildConfig, readYaml, type Flags } from "./load.ts";
import { LIVE_SETTINGS, type PontoonConfig } from "./schema.ts";

export interface ConfigChange {
  /** The new config, when it is valid. */
  config?: PontoonConfig;
  /** Why the edited file was not used. */
  error?: string;
  /** Changed settings applied without a restart (YAML paths). */
  live: string[];
  /** Changed settings that take effect after a restart. */
  restartNeeded: string[];
}

export interface ConfigWatcher {
  close(): Promise<void>;
}

export function watchConfig(
  file: string,
  current: PontoonConfig,
  env: Record<string, string | undefined>,
  cwd: string,
  flags: Flags,
  onChange: (change: ConfigChange) => void,
): ConfigWatcher {
  let running = current;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const watcher = watch(file, { ignoreInitial: true, awaitWriteFinish: { stabilityThreshold: 100, pollInterval: 20 } });
  const reload = (): void => {
    let next: PontoonConfig;
    try {
      next = buildConfig(readYaml(file), file, env, cwd, flags);
    } catch (error) {
      onChange({ error: error instanceof ConfigError ? error.message : String(error), live: [], restartNeeded: [] });
      return;
    }
    const changed = changedPaths(running, next);
    if (changed.length === 0) return;
    running = next;
    onChange({ config: next, live: changed.filter((p) => LIVE_SETTINGS.includes(p)), restartNeeded: changed.filter((p) => !LIVE_SETTINGS.includes(p)) });
  };
  watcher.on("change", () => {
    clearTimeout(timer);
    timer = setTimeout(reload, 50);
  });
  watcher.on("add", () => {
    clearTimeout(timer);
    timer = setTimeout(reload, 50);
  });
  return {
    async close() {
      clearTimeout(timer);
      await watcher.close();
    },
  };
}

/** Leaf paths whose values differ ("raft.port", "cluster.peers"); arrays compare whole. */
export function changedPaths(a: unknown, b: unknown, prefix = ""): string[] {
  if (isObject(a) && isObject(b)) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    return [...keys].flatMap((k) => changedPaths(a[k], b[k], prefix ? `${prefix}.${k}` : k));
  }
  return JSON.stringify(a) === JSON.stringify(b) ? [] : [prefix];
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}
