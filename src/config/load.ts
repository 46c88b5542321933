// YAML file + environment → one validated PontoonConfig. Every problem is a
// ConfigError whose message names the YAML path and file, or the variable.

import { Value } from "@sinclair/typebox/value";
import { existsSync, readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { parseDocument } from "yaml";
import { applyEnvironment } from "./env.ts";
import { ConfigError } from "./errors.ts";
import { CORE_SECTIONS, DEFAULTS, configSchema, type PontoonConfig } from "./schema.ts";
import { describeSchemaError } from "./sections.ts";

/** The project's default config, found from this file so `bun src/main.ts` works from any directory. */
export const DEFAULT_CONFIG_FILE = resolve(import.meta.dir, "../../config/pontoon.yaml");

export interface LoadOptions {
  argv: string[];
  env: Record<string, string | undefined>;
  cwd: string;
}

export interface LoadedConfig {
  config: PontoonConfig;
  /** Absolute path of the YAML file read. */
  file: string;
  /** Command-line flags, which a reload must apply again. */
  flags: Flags;
}

export interface Flags {
  config?: string;
  logFormat?: string;
  logLevel?: string;
}

export function parseFlags(argv: string[]): Flags {
  const flags: Flags = {};
  const names: Record<string, keyof Flags> = { "--config": "config", "--log-format": "logFormat", "--log-level": "logLevel" };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [name, inline] = arg.includes("=") ? [arg.slice(0, arg.indexOf("=")), arg.slice(arg.indexOf("=") + 1)] : [arg, undefined];
    const key = names[name];
    if (!key) throw new ConfigError("BAD_FLAG", `unknown argument ${JSON.stringify(arg)}; usage: bun src/main.ts [--config FILE.yaml] [--log-format text|json] [--log-level debug|info|warn|error]`);
    const value = inline ?? argv[++i];
    if (value === undefined || value === "") throw new ConfigError("BAD_FLAG", `${name} needs a value`);
    flags[key] = value;
  }
  return flags;
}

export function loadConfig(options: LoadOptions): LoadedConfig {
  const flags = parseFlags(options.argv);
  const file = flags.config ? resolve(options.cwd, flags.config) : DEFAULT_CONFIG_FILE;
  const fromFile = readYaml(file, flags.config !== undefined);
  return { config: buildConfig(fromFile, file, options.env, options.cwd, flags), file, flags };
}

/** The parsed YAML mapping (empty for an empty file). */
export function readYaml(file: string, mustExist = true): Record<string, unknown> {
  if (!existsSync(file)) {
    if (mustExist) throw new ConfigError("CONFIG_NOT_FOUND", `config file ${file} does not exist`);
    return {};
  }
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new ConfigError("CONFIG_UNREADABLE", `cannot read config file ${file}: ${(error as Error).message}`);
  }
  const doc = parseDocument(text, { prettyErrors: false, uniqueKeys: true });
  const problem = doc.errors[0];
  if (problem) {
    const at = problem.linePos?.[0];
    throw new ConfigError("BAD_YAML", `${file}${at ? `:${at.line}:${at.col}` : ""}: invalid YAML: ${problem.message.split("\n")[0]}`);
  }
  const value = doc.toJS() as unknown;
  if (value === null || value === undefined) return {};
  if (typeof value !== "object" || Array.isArray(value)) throw new ConfigError("BAD_YAML", `${file}: the top level must be a mapping of settings (node:, http:, raft:, ...)`);
  return value as Record<string, unknown>;
}

/** Defaults ← YAML ← flags ← environment, validated. Exported for the watcher and tests. */
export function buildConfig(fromFile: Record<string, unknown>, file: string, env: Record<string, string | undefined>, cwd: string, flags: Flags = {}): PontoonConfig {
  const merged = deepMerge(structuredClone(DEFAULTS) as Record<string, unknown>, structuredClone(fromFile));
  if (flags.logFormat || flags.logLevel) {
    const log = (merged.log ??= {}) as Record<string, unknown>;
    if (flags.logFormat) log.format = flags.logFormat;
    if (flags.logLevel) log.level = flags.logLevel;
  }
  const origins = applyEnvironment(merged, env);
  const plugins = Array.isArray(merged.plugins) ? (merged.plugins as unknown[]).filter((p): p is string => typeof p === "string") : [];
  for (const key of Object.keys(merged)) {
    if (CORE_SECTIONS.includes(key) || plugins.some((p) => pluginSectionName(p) === key)) continue;
    throw new ConfigError("UNKNOWN_SETTING", `${key}: unknown setting (${file}); known: ${[...CORE_SECTIONS, ...plugins.map(pluginSectionName)].join(", ")}`, key);
  }
  if (!Value.Check(configSchema, merged)) {
    const error = Value.Errors(configSchema, merged).First()!;
    const path = error.path.slice(1).replaceAll("/", ".");
    const variable = origins.get(path);
    const where = variable ? `${variable} (sets ${path})` : `${path || "(top level)"} (${file})`;
    throw new ConfigError("BAD_SETTING", `${where}: ${describeSchemaError(error)}`, variable ?? path);
  }
  const config = merged as PontoonConfig;
  checkConsistency(config, file, origins);
  config.node.dataDir = resolve(cwd, config.node.dataDir);
  return config;
}

/** A plugin given by path has its section under its file name's folder (./plugins/counter/index.ts → counter). */
export function pluginSectionName(entry: string): string {
  if (!entry.includes("/")) return entry;
  const parts = entry.replace(/\/index\.(ts|js)$/, "").replace(/\.(ts|js)$/, "").split("/");
  return parts.at(-1)!;
}

function checkConsistency(c: PontoonConfig, file: string, origins: Map<string, string>): void {
  const name = (path: string) => origins.get(path) ?? `${path} (${file})`;
  const peers = c.cluster.peers;
  if (peers) {
    const ids = new Set<string>();
    for (const [i, p] of peers.entries()) {
      if (ids.has(p.id)) throw new ConfigError("BAD_SETTING", `cluster.peers[${i}].id (${file}): peer id ${p.id} is listed twice`, `cluster.peers[${i}].id`);
      ids.add(p.id);
    }
    if (!ids.has(c.node.id)) {
      throw new ConfigError("BAD_SETTING", `cluster.peers (${file}): this node's id ${c.node.id} (${name("node.id")}) is not in the peer list [${[...ids].join(", ")}]`, "cluster.peers");
    }
    if (c.cluster.join) {
      throw new ConfigError("BAD_SETTING", `${name("cluster.join")} and cluster.peers (${file}) are both given: a node either bootstraps with the declared peers or joins an existing cluster; drop one`, "cluster.join");
    }
  }
  if (c.http.port === c.raft.port && c.http.host === c.raft.host) {
    throw new ConfigError("BAD_SETTING", `${name("http.port")} and ${name("raft.port")} are both ${c.http.port}: HTTP and Raft need different ports`, "http.port");
  }
  if (c.raft.heartbeatTicks >= c.raft.electionTicks) {
    throw new ConfigError("BAD_SETTING", `raft.heartbeatTicks (${file}): must be smaller than raft.electionTicks (${c.raft.electionTicks})`, "raft.heartbeatTicks");
  }
  if (c.cluster.joinRetry.maxMs < c.cluster.joinRetry.initialMs) {
    throw new ConfigError("BAD_SETTING", `cluster.joinRetry.maxMs (${file}): must be at least cluster.joinRetry.initialMs`, "cluster.joinRetry.maxMs");
  }
}

function deepMerge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  for (const [key, value] of Object.entries(over)) {
    const current = base[key];
    if (isPlainObject(current) && isPlainObject(value)) base[key] = deepMerge(current, value);
    else base[key] = value;
  }
  return base;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

export { dirname };
