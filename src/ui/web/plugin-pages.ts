// The plugins that have a console page of their own, by plugin name. A page
// is a View built from the route after #/<name>/ (its tab); a plugin without
// one is shown by plugins-view.ts from /openapi. The built-in plugins' pages
// live in this bundle: they are written against the console's own helpers
// (dom.ts, api.ts, widgets.ts), which are no stable API for plugins, and
// ipvs's page must not touch plugins/ipvs/. Any other plugin ships its page
// (definePlugin's consolePage, written against page-api.ts): the node lists
// those at /ui/plugins.json and each is bundled and loaded on its own
// (shipped-page.ts), so one that fails cannot take the console down.

import type { View } from "./widgets.ts";
import { ipvsPage } from "./pages/ipvs-page.ts";
import { namingPage } from "./pages/naming-page.ts";
import { shippedPage } from "./shipped-page.ts";

export interface PluginPage {
  /** The tab's text. */
  title: string;
  /** `rest`: the route's parts after #/<name>/ (naming: the service). */
  open(rest: string[]): View;
}

export const PLUGIN_PAGES: Readonly<Record<string, PluginPage>> = {
  naming: { title: "Naming", open: (rest) => namingPage(rest[0] ?? null) },
  ipvs: { title: "IPVS", open: () => ipvsPage() },
};

/** The pages this node's plugins ship, from /ui/plugins.json. */
const shipped = new Map<string, PluginPage>();

export function addShippedPages(pages: Record<string, { title: string }>): void {
  for (const [plugin, { title }] of Object.entries(pages)) shipped.set(plugin, shippedPage(plugin, title));
}

/** A page the plugin ships comes first: it is the page of the plugin this node runs under that name. */
export function pageOf(plugin: string): PluginPage | null {
  return shipped.get(plugin) ?? (Object.hasOwn(PLUGIN_PAGES, plugin) ? PLUGIN_PAGES[plugin]! : null);
}
