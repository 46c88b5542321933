// A JSON body may nest at most MAX_JSON_DEPTH levels. Elysia builds the
// message of a failed body validation with JSON.stringify(body, null, 2),
// whose output grows with the square of the nesting: a 36 KB body of nested
// arrays held the event loop for 35 s (the node lost its Raft leadership
// meanwhile), and a 1 MiB one would have exhausted memory. Checked before the
// body is parsed, on a copy, in one pass; routes that take raw bytes (a kv
// value, a backup) are not JSON-parsed and not limited.

import type { AnyElysia } from "elysia";
import { ApiError, errorResponse } from "./errors.ts";

/** Far deeper than any body of this API (a txn nests 4 levels), far shallower than what hurts. */
export const MAX_JSON_DEPTH = 64;

const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** Whether `bytes`, read as JSON, nests deeper than `max` (strings skipped; malformed JSON is the parser's to refuse). */
export function nestsDeeperThan(bytes: Uint8Array, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    if (inString) {
      if (b === BACKSLASH) i++;
      else if (b === QUOTE) inString = false;
    } else if (b === QUOTE) {
      inString = true;
    } else if (b === OPEN_BRACE || b === OPEN_BRACKET) {
      if (++depth > max) return true;
    } else if (b === CLOSE_BRACE || b === CLOSE_BRACKET) {
      depth--;
    }
  }
  return false;
}

interface RouteInfo {
  method: string;
  path: string;
  /** Elysia keeps a route's `parse: "arrayBuffer"` as [{ fn: "arrayBuffer" }]. */
  hooks?: { parse?: string | { fn?: unknown }[] };
}

/** The route's named parser ("arrayBuffer", "none", "text", ...), if it names one. */
function parserOf(route: RouteInfo): string | undefined {
  const parse = route.hooks?.parse;
  if (typeof parse === "string") return parse;
  const named = Array.isArray(parse) ? parse.find((p) => typeof p?.fn === "string") : undefined;
  return named?.fn as string | undefined;
}

/** Matches a route path (`/v1/kv/*`, `/v1/cluster/members/:id`) against a request path. */
function pattern(path: string): RegExp {
  const source = path
    .split("/")
    .map((segment) => (segment === "*" ? ".*" : segment.startsWith(":") ? "[^/]+" : segment.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")))
    .join("/");
  return new RegExp(`^${source}$`);
}

/** Refuses a JSON body nested deeper than MAX_JSON_DEPTH with a 400, for every route that parses JSON. */
export function jsonDepthLimit<App extends AnyElysia>(app: App): App {
  // Built on the first request: the routes are all added by then.
  let raw: { method: string; path: RegExp }[] | null = null;
  const takesRawBytes = (method: string, path: string): boolean => {
    raw ??= (app.routes as RouteInfo[])
      .filter((r) => {
        const parser = parserOf(r);
        return parser !== undefined && !/json/i.test(parser);
      })
      .map((r) => ({ method: r.method, path: pattern(r.path) }));
    return raw.some((r) => (r.method === method || r.method === "ALL") && r.path.test(path));
  };
  return app.onRequest(async ({ request }) => {
    if (request.body === null || !/json/i.test(request.headers.get("content-type") ?? "")) return undefined;
    if (takesRawBytes(request.method, new URL(request.url).pathname)) return undefined;
    const body = new Uint8Array(await request.clone().arrayBuffer());
    if (!nestsDeeperThan(body, MAX_JSON_DEPTH)) return undefined;
    return errorResponse(new ApiError(400, "BODY_TOO_DEEP", `the JSON body nests more than ${MAX_JSON_DEPTH} levels deep; this API accepts at most ${MAX_JSON_DEPTH}`, { field: "body" }));
  }) as App;
}
