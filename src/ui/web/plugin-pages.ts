// The plugins that have a console page of their own, by plugin name. A page
// is a View built from the route after #/<name>/ (its tab); a plugin without
// one is shown by plugins-view.ts from /openapi. Pages live in this bundle
// rather than ship with their plugin: they are written against the console's
// own helpers (dom.ts, api.ts, widgets.ts), which are no stable API for
// plugins; one Bun.build of fixed files cannot fail on a plugin's page and
// take the console down with it; and ipvs's page must not touch plugins/ipvs/.

import type { View } from "./widgets.ts";
import { ipvsPage } from "./pages/ipvs-page.ts";
import { namingPage } from "./pages/naming-page.ts";

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

export function pageOf(plugin: string): PluginPage | null {
  return Object.hasOwn(PLUGIN_PAGES, plugin) ? PLUGIN_PAGES[plugin]! : null;
}
