// The console's static assets: index.html and style.css as written, and the
// TypeScript front end bundled by Bun.build in memory. Built once per process,
// on the first request for the console, so a node that nobody opens the
// console on never spends the time.

import { readFileSync } from "node:fs";
import { join } from "node:path";

export interface Asset {
  body: Uint8Array;
  type: string;
}

const WEB = join(import.meta.dir, "web");

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".png": "image/png",
};

let built: Promise<Map<string, Asset>> | undefined;

/** File name (as served under /ui/) to asset. A build error rejects, and the next request tries again. */
export function consoleAssets(): Promise<Map<string, Asset>> {
  built ??= build().catch((error: unknown) => {
    built = undefined;
    throw error;
  });
  return built;
}

async function build(): Promise<Map<string, Asset>> {
  const result = await Bun.build({
    entrypoints: [join(WEB, "main.ts")],
    target: "browser",
    format: "esm",
    minify: true,
    // The YAML parser is imported dynamically: its own chunk, fetched only when a YAML value is edited.
    splitting: true,
    naming: { entry: "[name].js", chunk: "chunk-[hash].js" },
  });
  if (!result.success) throw new Error(`the console's front end did not build: ${result.logs.map(String).join("; ")}`);
  const assets = new Map<string, Asset>();
  for (const output of result.outputs) {
    const name = output.path.replace(/^\.?\//, "");
    assets.set(name, { body: new Uint8Array(await output.arrayBuffer()), type: typeOf(name) });
  }
  for (const name of ["index.html", "style.css"]) assets.set(name, { body: readFileSync(join(WEB, name)), type: typeOf(name) });
  return assets;
}

function typeOf(name: string): string {
  return TYPES[name.slice(name.lastIndexOf("."))] ?? "application/octet-stream";
}
