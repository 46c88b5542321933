// Plugins' own console pages (definePlugin's consolePage), each bundled by
// Bun.build on its own, on the first request for it: a page that does not
// build answers its own request with why, and the console and every other
// page are untouched. A page that built is kept for the life of the process
// (as the console is); one that failed is tried again on the next request,
// so fixing the file and reopening the tab is enough.

import { ApiError } from "../api/errors.ts";

export interface ShippedPage {
  /** The plugin's name: the page is /ui/plugins/<plugin>.js. */
  plugin: string;
  title: string;
  /** Absolute path of the page's module (the plugin loader resolved it). */
  module: string;
}

const built = new Map<string, Promise<Uint8Array>>();

/** The page's bundle (an ES module), or an ApiError 500 PLUGIN_PAGE_BUILD whose message is the bundler's. */
export function pageBundle(page: ShippedPage): Promise<Uint8Array> {
  let bundle = built.get(page.module);
  if (!bundle) {
    bundle = build(page).catch((error: unknown) => {
      built.delete(page.module);
      throw error;
    });
    built.set(page.module, bundle);
  }
  return bundle;
}

async function build(page: ShippedPage): Promise<Uint8Array> {
  const failed = (why: string) => new ApiError(500, "PLUGIN_PAGE_BUILD", `plugin ${page.plugin}'s console page (${page.module}) did not build: ${why}`, { plugin: page.plugin });
  let result: Bun.BuildOutput;
  try {
    // One file out: a page imports the console only for types (page-api.ts), which vanish.
    result = await Bun.build({ entrypoints: [page.module], target: "browser", format: "esm", minify: true, throw: false });
  } catch (error) {
    throw failed(messageOf(error));
  }
  if (!result.success) throw failed(result.logs.map(messageOf).join("; ") || "the bundler gave no reason");
  const entry = result.outputs.find((o) => o.kind === "entry-point");
  if (!entry) throw failed("the bundler produced no module");
  return new Uint8Array(await entry.arrayBuffer());
}

function messageOf(error: unknown): string {
  const e = error as { message?: string; position?: { file?: string; line?: number; column?: number } | null };
  const at = e?.position?.file ? ` (${e.position.file}:${e.position.line}:${e.position.column})` : "";
  return `${e?.message ?? String(error)}${at}`;
}
