// Watching the YAML file (chokidar): when it changes, load it again the way
// start-up did (same environment and flags) and say which settings changed,
// split into those the node applies live and those that need a restart. A
// broken edit is reported and the running config kept, so a typo saved in an
// editor never takes a node down.

import { watch } from "chokidar";
import { ConfigError } from "./errors.ts";
import { buildConfig, readYaml, shownPath, type Flags } from "./load.ts";
import type { PontoonConfig } from "./schema.ts";

/** Settings the node applies without a restart (YAML paths). Every other change needs one. */
export const LIVE_SETTINGS: readonly string[] = ["log.level", "auth.token", "auth.tokens", "auth.joinSecret", "limits.requestsPerSecond", "limits.burst", "limits.watchersPerClient", "snapshot.threshold", "snapshot.interval", "snapshot.trailingLogs"];

export interface ConfigChange {
  /** The new config, when the edited file is valid. */
  config?: PontoonConfig;
  /** Why the edited file was not used; the previous config stays in force. */
  error?: ConfigError;
  /** Changed settings that apply live (YAML paths, e.g. `log.level`). */
  live: string[];
  /** Changed settings that take effect after a restart (e.g. `raft.port`, `cluster.peers`, `kv.maxValueBytes`). */
  restartNeeded: string[];
}

export interface WatchOptions {
  /** The environment laid over the file, as at start-up (default: process.env). */
  env?: Readonly<Record<string, string | undefined>>;
  /** Resolves node.dataDir, as at start-up (default: process.cwd()). */
  cwd?: string;
  /** The flags loadConfig returned, so --log-level keeps winning over the file (default: none). */
  flags?: Flags;
  /** The config in force now; loaded from the file when not given. */
  initial?: PontoonConfig;
  /**
   * Further checks of a reloaded config, throwing a ConfigError (main.ts
   * checks the plugin sections here, so a bad `kv:` edit is reported now
   * rather than at the next restart).
   */
  check?: (config: PontoonConfig) => void;
  /** How long the file must stay unchanged before it is reloaded (default 100 ms): editors write a file in several steps. */
  debounceMs?: number;
}

export interface ConfigWatcher {
  /** Resolves once the file is being watched: edits before that may be missed. */
  readonly ready: Promise<void>;
  close(): Promise<void>;
}

type OnChange = (change: ConfigChange) => void;

export function watchConfig(file: string, onChange: OnChange, options: WatchOptions = {}): ConfigWatcher {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const flags = options.flags ?? {};
  const load = (): PontoonConfig => {
    const config = buildConfig(readYaml(file, cwd), file, env, cwd, flags);
    options.check?.(config);
    return config;
  };
  let running = options.initial ?? load();
  let closed = false;
  let timer: ReturnType<typeof setTimeout> | undefined;

  const reload = (): void => {
    if (closed) return;
    let next: PontoonConfig;
    try {
      next = load();
    } catch (error) {
      onChange({ error: asConfigError(error, shownPath(file, cwd)), live: [], restartNeeded: [] });
      return;
    }
    const changed = changedPaths(running, next);
    // A saved file with only comments or formatting changed is not news.
    if (changed.length === 0) return;
    running = next;
    onChange({
      config: next,
      live: changed.filter((path) => LIVE_SETTINGS.includes(path)),
      restartNeeded: changed.filter((path) => !LIVE_SETTINGS.includes(path)),
    });
  };
  const schedule = (): void => {
    // Events that arrive together (an unlink and an add, say) make one reload.
    clearTimeout(timer);
    timer = setTimeout(reload, 0);
  };

  const quietMs = options.debounceMs ?? 100;
  const watcher = watch(file, {
    ignoreInitial: true,
    // A save by writing a new file and renaming it over the old one shows up as unlink + add; atomic folds them into one change.
    atomic: true,
    // The debounce: report a change once the file has stopped changing for quietMs. Without it chokidar
    // drops a second change that comes within 50 ms of the first, and that edit would go unnoticed.
    awaitWriteFinish: { stabilityThreshold: quietMs, pollInterval: Math.max(5, Math.floor(quietMs / 4)) },
  });
  watcher.on("change", schedule);
  watcher.on("add", schedule);
  watcher.on("unlink", schedule);
  watcher.on("error", (error) => {
    if (!closed) onChange({ error: new ConfigError("CONFIG_UNREADABLE", `${shownPath(file, cwd)}: cannot watch the config file: ${String(error)}`), live: [], restartNeeded: [] });
  });
  const ready = new Promise<void>((resolve) => watcher.once("ready", () => resolve()));

  return {
    ready,
    async close() {
      closed = true;
      clearTimeout(timer);
      await watcher.close();
    },
  };
}

function asConfigError(error: unknown, shown: string): ConfigError {
  if (error instanceof ConfigError) return error;
  return new ConfigError("CONFIG_UNREADABLE", `${shown}: cannot reload the config: ${error instanceof Error ? error.message : String(error)}`, shown);
}

/** YAML paths of the settings whose values differ (`raft.port`, `kv.maxValueBytes`); lists compare whole (`cluster.peers`). */
export function changedPaths(before: unknown, after: unknown, prefix = ""): string[] {
  if (isMapping(before) && isMapping(after)) {
    const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
    return [...keys].flatMap((key) => changedPaths(before[key], after[key], prefix === "" ? key : `${prefix}.${key}`));
  }
  return JSON.stringify(before) === JSON.stringify(after) ? [] : [prefix];
}

function isMapping(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}
