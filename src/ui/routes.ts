// /ui/: the web console, served by every node itself (never forwarded: the
// paths are outside /v1/). The page asks for a token when the API needs one;
// its assets carry none. The Content-Security-Policy keeps the page to its
// own node: no script, style or connection elsewhere.

import { Elysia, type AnyElysia } from "elysia";
import { ApiError } from "../api/errors.ts";
import { consoleAssets } from "./bundle.ts";
import { pageBundle, type ShippedPage } from "./page-bundle.ts";

const SECURITY_HEADERS = {
  "content-security-policy": "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  // Assets are rebuilt when the node restarts (perhaps upgraded): always revalidate.
  "cache-control": "no-cache",
};

async function serve(name: string): Promise<Response> {
  const asset = (await consoleAssets()).get(name);
  if (!asset) throw new ApiError(404, "ROUTE_NOT_FOUND", `the console has no file ${JSON.stringify(name)}; open /ui/`);
  return new Response(asset.body, { headers: { "content-type": asset.type, ...SECURITY_HEADERS } });
}

// Typed loosely on purpose: the console adds no types to the API, and its full
// inferred type made the app's own type inference circular.
export function consoleRoutes(pages: readonly ShippedPage[] = []): AnyElysia {
  const byFile = new Map(pages.map((p) => [`${p.plugin}.js`, p]));
  return new Elysia({ name: "console" })
    // Elysia matches /ui and /ui/ alike; the page's relative asset paths need the slash.
    .get("/ui/", ({ request, redirect }) => (new URL(request.url).pathname === "/ui" ? redirect("/ui/") : serve("index.html")))
    .get("/ui/:file", ({ params }) => serve(params.file))
    // The plugins' own pages this node has, for the console's tabs; each one's code is fetched when its tab opens.
    .get("/ui/plugins.json", () => Response.json(Object.fromEntries(pages.map((p) => [p.plugin, { title: p.title }])), { headers: SECURITY_HEADERS }))
    .get("/ui/plugins/:file", async ({ params }) => {
      const page = byFile.get(params.file);
      if (!page) throw new ApiError(404, "ROUTE_NOT_FOUND", `no plugin of this node has a console page ${JSON.stringify(params.file)}; GET /ui/plugins.json lists them`);
      return new Response(await pageBundle(page), { headers: { "content-type": "text/javascript; charset=utf-8", ...SECURITY_HEADERS } });
    });
}
