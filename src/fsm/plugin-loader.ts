// The YAML `plugins:` list into plugin definitions: a built-in name, or a path
// to a user's module whose default export is definePlugin({...}).

import { dirname, isAbsolute, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { pluginSectionName } from "../config/load.ts";
import { validateSection } from "../config/sections.ts";
import type { HostedPlugin } from "./plugin-host.ts";
import type { AnyPluginDefinition } from "./sdk.ts";

/** Built-in plugins by name, loaded lazily so a node pays only for what it runs. */
const BUILT_IN: Record<string, () => Promise<{ default: AnyPluginDefinition }>> = {
  kv: () => import("../../plugins/kv/index.ts"),
  ipvs: () => import("../../plugins/ipvs/index.ts"),
  naming: () => import("../../plugins/naming/index.ts"),
};

export class PluginLoadError extends Error {
  readonly code = "PLUGIN_LOAD";
  constructor(message: string) {
    super(message);
    this.name = "PluginLoadError";
  }
}

export const builtInPlugins = (): string[] => Object.keys(BUILT_IN);

/** Loads each entry; `at(i)` names the YAML path of entry i for errors. `baseDir` resolves relative paths (the YAML file's folder). */
export async function loadPlugins(entries: string[], baseDir: string, at: (i: number) => string): Promise<AnyPluginDefinition[]> {
  const out: AnyPluginDefinition[] = [];
  for (const [i, entry] of entries.entries()) {
    const builtIn = BUILT_IN[entry];
    let definition: unknown;
    let file = join(import.meta.dir, "../../plugins", entry, "index.ts");
    if (builtIn) {
      definition = (await builtIn()).default;
    } else if (entry.includes("/") || entry.endsWith(".ts") || entry.endsWith(".js")) {
      file = isAbsolute(entry) ? entry : resolve(baseDir, entry);
      try {
        definition = ((await import(pathToFileURL(file).href)) as { default?: unknown }).default;
      } catch (error) {
        throw new PluginLoadError(`${at(i)}: cannot load plugin module ${file}: ${(error as Error).message ?? String(error)}`);
      }
    } else {
      throw new PluginLoadError(`${at(i)}: no built-in plugin "${entry}" (built in: ${builtInPlugins().join(", ")}); a plugin of your own is a path to its module, e.g. ./plugins/mine/index.ts`);
    }
    const d = definition as Partial<AnyPluginDefinition> | undefined;
    if (!d || typeof d !== "object" || typeof d.name !== "string" || typeof d.apply !== "object" || typeof d.commands !== "object") {
      throw new PluginLoadError(`${at(i)}: ${entry} does not export a plugin as its default export (export default definePlugin({...}))`);
    }
    if (out.some((p) => p.name === d.name)) throw new PluginLoadError(`${at(i)}: plugin "${d.name}" is listed twice`);
    out.push(withPageResolved(d as AnyPluginDefinition, file, at(i)));
  }
  return out;
}

/** The plugin with its console page's module as an absolute path (it is written relative to the plugin's file). */
function withPageResolved(definition: AnyPluginDefinition, file: string, at: string): AnyPluginDefinition {
  const page = definition.consolePage as unknown;
  if (page === undefined) return definition;
  const { title, module } = (page ?? {}) as { title?: unknown; module?: unknown };
  if (typeof title !== "string" || title.trim() === "" || title.length > 40) throw new PluginLoadError(`${at}: plugin "${definition.name}": consolePage.title must be a string of 1-40 characters`);
  if (typeof module !== "string" || module === "") throw new PluginLoadError(`${at}: plugin "${definition.name}": consolePage.module must be the path of the page's module, relative to the plugin's file`);
  return { ...definition, consolePage: { title, module: resolve(dirname(file), module) } };
}

/**
 * Pairs each plugin with its YAML section (`kv:`), checked against the
 * plugin's schema with its defaults filled in. Throws a ConfigError naming
 * the path, at start-up and when the watched file is edited alike.
 */
export function configurePlugins(definitions: readonly AnyPluginDefinition[], config: object, shownFile: string): HostedPlugin[] {
  const entries = (config as { plugins?: unknown }).plugins;
  return definitions.map((definition, i) => {
    // The section is the one the config loader let through for this plugins: entry
    // (a module's file or folder name), which is not always the plugin's own name.
    const entry = Array.isArray(entries) && typeof entries[i] === "string" ? (entries[i] as string) : definition.name;
    const name = pluginSectionName(entry);
    const section = (config as Record<string, unknown>)[name];
    return { definition, config: definition.config ? validateSection(definition.config, section ?? {}, name, shownFile) : {} };
  });
}
