// YAML file + command-line flags + environment → one validated PontoonConfig.
// Precedence: schema defaults < YAML < flags (--log-level, --log-format) <
// environment variables (CONTRACT.md). Every problem is a ConfigError whose
// one-line message names the YAML path and file, the flag, or the variable:
//   raft.port: expected an integer 1-65535, got "abc" (config/pontoon.yaml)
// Nothing wrong is replaced by a default in silence.

import { Value } from "@sinclair/typebox/value";
import { readFileSync } from "node:fs";
import { isAbsolute, relative, resolve } from "node:path";
import { LineCounter, parseDocument } from "yaml";
import { applyEnvironment } from "./env.ts";
import { ConfigError } from "./errors.ts";
import { checkConsistency, fillAdvertisedAddresses } from "./consistency.ts";
import { findMisshapenMapping, findSchemaProblem } from "./schema-problem.ts";
import { CORE_SECTIONS, configSchema, type PontoonConfig } from "./schema.ts";

/** The project's default config, found from this file so `bun src/main.ts` works from any directory. */
export const DEFAULT_CONFIG_FILE = resolve(import.meta.dir, "../../config/pontoon.yaml");

export interface LoadOptions {
  /** Command-line arguments after the script name. */
  argv: readonly string[];
  env: Readonly<Record<string, string | undefined>>;
  /** Resolves --config and node.dataDir. */
  cwd: string;
  /** Read this file instead of --config's (the watcher re-reads the file it watches). */
  file?: string;
}

export interface LoadedConfig {
  config: PontoonConfig;
  /** Absolute path of the YAML file read. */
  file: string;
  /** The flags given, so a reload applies them again. */
  flags: Flags;
}

export interface Flags {
  config?: string;
  logFormat?: string;
  logLevel?: string;
}

const FLAGS: Record<string, { key: keyof Flags; setting?: readonly [string, string] }> = {
  "--config": { key: "config" },
  "--log-format": { key: "logFormat", setting: ["log", "format"] },
  "--log-level": { key: "logLevel", setting: ["log", "level"] },
};
const USAGE = "usage: bun src/main.ts [--config FILE.yaml] [--log-format text|json] [--log-level debug|info|warn|error]";

/** `--name value` or `--name=value`; anything else is an error rather than ignored. */
export function parseFlags(argv: readonly string[]): Flags {
  const flags: Flags = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const equals = arg.indexOf("=");
    const name = equals > 0 ? arg.slice(0, equals) : arg;
    const flag = FLAGS[name];
    if (!flag) throw new ConfigError("BAD_FLAG", `unknown argument ${JSON.stringify(arg)}; ${USAGE}`, arg);
    const value = equals > 0 ? arg.slice(equals + 1) : argv[++i];
    if (value === undefined || value === "" || (equals < 0 && value.startsWith("--"))) {
      throw new ConfigError("BAD_FLAG", `${name}: needs a value; ${USAGE}`, name);
    }
    flags[flag.key] = value;
  }
  return flags;
}

export function loadConfig(options: LoadOptions): LoadedConfig {
  const flags = parseFlags(options.argv);
  const file = options.file ?? (flags.config !== undefined ? resolve(options.cwd, flags.config) : DEFAULT_CONFIG_FILE);
  const fromFile = readYaml(file, options.cwd);
  return { config: buildConfig(fromFile, file, options.env, options.cwd, flags), file, flags };
}

/** How an error names the file: relative to the working directory when it is inside it. */
export function shownPath(file: string, cwd: string): string {
  const rel = relative(cwd, file);
  return rel !== "" && !rel.startsWith("..") && !isAbsolute(rel) ? rel : file;
}

/** The YAML file's top-level mapping (empty for an empty file). */
export function readYaml(file: string, cwd: string): Record<string, unknown> {
  const shown = shownPath(file, cwd);
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === "ENOENT") throw new ConfigError("CONFIG_NOT_FOUND", `${shown}: config file does not exist; give an existing file with --config`, shown);
    throw new ConfigError("CONFIG_UNREADABLE", `${shown}: cannot read the config file: ${(error as Error).message}`, shown);
  }
  // uniqueKeys: a key written twice is an error, not "the last one wins".
  const lines = new LineCounter();
  const document = parseDocument(text, { prettyErrors: false, uniqueKeys: true, lineCounter: lines });
  const problem = document.errors[0];
  if (problem) {
    const position = lines.linePos(problem.pos[0]);
    const where = `${shown}:${position.line}:${position.col}`;
    throw new ConfigError("BAD_YAML", `${where}: invalid YAML: ${problem.message.split("\n")[0]}`, shown);
  }
  const value: unknown = document.toJS();
  if (value === null || value === undefined) return {};
  if (typeof value !== "object" || Array.isArray(value)) {
    throw new ConfigError("BAD_YAML", `${shown}: the top level must be a mapping of settings (node:, http:, raft:, ...), not ${Array.isArray(value) ? "a list" : "a single value"}`, shown);
  }
  return value as Record<string, unknown>;
}

/**
 * Defaults < YAML < flags < environment, validated and checked across
 * settings; node.dataDir resolved against `cwd`. Plugin sections are kept as
 * written (each plugin validates its own with validateSection).
 */
export function buildConfig(
  fromFile: Readonly<Record<string, unknown>>,
  file: string,
  env: Readonly<Record<string, string | undefined>>,
  cwd: string,
  flags: Flags = {},
): PontoonConfig {
  const shown = shownPath(file, cwd);
  const pluginSections = checkTopLevelKeys(fromFile, shown);

  const core: Record<string, unknown> = {};
  for (const name of CORE_SECTIONS) {
    if (!(name in fromFile)) continue;
    // `raft:` with every line under it commented out is YAML null: an empty section, not a mistake.
    core[name] = fromFile[name] === null && name !== "plugins" ? {} : structuredClone(fromFile[name]);
  }
  const flagOrigins = applyFlags(core, flags);

  const misshapen = findMisshapenMapping(configSchema, core, "");
  if (misshapen) throw new ConfigError("BAD_SETTING", `${misshapen.path}: ${misshapen.problem} (${shown})`, misshapen.path);
  const withDefaults = Value.Default(configSchema, core) as Record<string, unknown>;
  const problem = findSchemaProblem(configSchema, withDefaults);
  if (problem) {
    const flag = flagOrigins.get(problem.path);
    if (flag) throw new ConfigError("BAD_FLAG", `${flag}: ${problem.problem}`, flag);
    const code = problem.unknownKey ? "UNKNOWN_SETTING" : "BAD_SETTING";
    throw new ConfigError(code, `${problem.path}: ${problem.problem} (${shown})`, problem.path);
  }

  const origins = applyEnvironment(withDefaults, env);
  for (const [path, flag] of flagOrigins) origins.set(path, flag);
  // The variables were checked one by one; this catches a variable the schema is stricter about.
  const afterEnv = findSchemaProblem(configSchema, withDefaults);
  if (afterEnv) {
    const variable = origins.get(afterEnv.path) ?? afterEnv.path;
    throw new ConfigError("BAD_ENV", `${variable}: ${afterEnv.problem}`, variable);
  }

  const config = withDefaults as PontoonConfig;
  checkConsistency(config, { origins, file: shown });
  fillAdvertisedAddresses(config);
  config.node.dataDir = resolve(cwd, config.node.dataDir);
  for (const file of ["cert", "key", "ca"] as const) {
    const path = config.tls[file];
    if (path !== undefined) config.tls[file] = resolve(cwd, path);
  }
  for (const name of pluginSections) (config as Record<string, unknown>)[name] = structuredClone(fromFile[name]);
  return config;
}

/** Every top-level key is a built-in section or the section of a listed plugin; returns the plugin sections present. */
function checkTopLevelKeys(fromFile: Readonly<Record<string, unknown>>, shown: string): string[] {
  const listed = Array.isArray(fromFile.plugins) ? fromFile.plugins.filter((p): p is string => typeof p === "string") : ["kv"];
  const pluginNames = listed.map(pluginSectionName);
  const present: string[] = [];
  for (const key of Object.keys(fromFile)) {
    if (CORE_SECTIONS.includes(key)) continue;
    if (pluginNames.includes(key)) {
      present.push(key);
      continue;
    }
    const known = [...CORE_SECTIONS, ...pluginNames].join(", ");
    throw new ConfigError(
      "UNKNOWN_SETTING",
      `${key}: unknown setting (${shown}); known: ${known}; a plugin's section is allowed only when the plugin is in plugins`,
      key,
    );
  }
  return present;
}

/**
 * The section a `plugins:` entry configures: a built-in's name (`kv`), or for a
 * module path its file name, or its folder's for an index file
 * (`./plugins/counter/index.ts` → `counter`, `./my-plugin.ts` → `my-plugin`).
 */
export function pluginSectionName(entry: string): string {
  if (!/[/\\]|\.[cm]?[jt]s$/.test(entry)) return entry;
  const parts = entry.replace(/[/\\]index\.[cm]?[jt]s$/, "").replace(/\.[cm]?[jt]s$/, "").split(/[/\\]/);
  return parts.filter(Boolean).at(-1) ?? entry;
}

/** Flags go over the YAML; returns which YAML path each flag set. */
function applyFlags(core: Record<string, unknown>, flags: Flags): Map<string, string> {
  const origins = new Map<string, string>();
  for (const [name, flag] of Object.entries(FLAGS)) {
    const value = flags[flag.key];
    if (value === undefined || !flag.setting) continue;
    const [sectionName, key] = flag.setting;
    const current = core[sectionName];
    // A section that is not a mapping is left for the schema to report against the YAML.
    if (current !== undefined && (current === null || typeof current !== "object" || Array.isArray(current))) continue;
    core[sectionName] = { ...(current as Record<string, unknown> | undefined), [key]: value };
    origins.set(`${sectionName}.${key}`, name);
  }
  return origins;
}
