// fast-check arbitraries for hostile HTTP requests, built from the node's own
// GET /openapi: real routes, mutations of them, and junk; odd methods,
// headers that lie, bodies of the wrong shape for each route's schema, query
// strings with junk values. Every request is valid HTTP/1.1 on the wire
// unless it says otherwise (`wireInvalid`): those are refused by Bun's parser
// before any of our code runs, with a bare status and no JSON.

import fc from "fast-check";
import type { RawRequest } from "./raw-http.ts";

export interface RouteSpec {
  method: string;
  /** OpenAPI path, e.g. /v1/kv/{key}. */
  path: string;
  query: string[];
  /** The JSON body schema, when the route takes one. */
  body?: JsonSchema;
}

export interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  const?: unknown;
  minimum?: number;
  maximum?: number;
  pattern?: string;
  format?: string;
}

export interface FuzzRequest extends RawRequest {
  /** Not valid HTTP/1.1 (over Bun's 16 KiB head limit, a bad Content-Length): Bun's parser answers, not ours. */
  wireInvalid: boolean;
}

/** The routes of an /openapi document. */
export function routesOf(openapi: { paths: Record<string, Record<string, { parameters?: { name: string; in: string }[]; requestBody?: { content?: Record<string, { schema?: JsonSchema }> } }>> }): RouteSpec[] {
  const routes: RouteSpec[] = [];
  for (const [path, methods] of Object.entries(openapi.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      routes.push({
        method: method.toUpperCase(),
        path,
        query: (op.parameters ?? []).filter((p) => p.in === "query").map((p) => p.name),
        body: op.requestBody?.content?.["application/json"]?.schema,
      });
    }
  }
  return routes;
}

// Bun's parser drops the connection, without an answer, on a method it does
// not know (lowercase ones included), so the property keeps to the ones it
// knows; api-properties.test.ts checks the others separately.
export const KNOWN_METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "TRACE", "CONNECT", "PROPFIND", "MKCOL", "COPY", "MOVE", "LOCK", "PURGE", "QUERY", "REPORT", "SUBSCRIBE", "M-SEARCH"];

/** Bun answers 431 once the request line and headers reach this many bytes. */
export const BUN_HEAD_LIMIT = 16 * 1024;

const SHORT_WAITS = ["20ms", "1ms", "1", "abc", "-5s", "0", "", "1e3"];
const QUERY_NAMES = ["consistency", "index", "wait", "prefix", "cas", "ttl", "raw", "history", "after", "force", "recurse", "keys", "separator", "dc", "flags", "acquire", "release", "stale", "consistent"];

/** A value for a query parameter or a key: mostly junk, some plausible. */
const junkValue: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom("", "0", "-1", "1", "1.5", "1e308", "-0", "NaN", "Infinity", "9007199254740993", "99999999999999999999999", "0x10", "true", "null", "[]", "{}", "linearizable", "leader", "stale", "LINEARIZABLE", "1ms", "10ms", "30s", "5m", "-5s", "1h", "10000000h", "1d", "%", "%zz", "%00", "%ff%fe", "..", "../..", "a/b", "/", "//", "\u00e9", "\u{1F600}", "\ud800"),
  fc.string({ maxLength: 20 }),
  fc.nat().map(String),
  fc.double().map(String),
  fc.string({ unit: "grapheme", maxLength: 10 }),
);

/** Percent-encodes what may not appear raw in a request target (and some of what may, since servers must decode both). */
function encodeForTarget(s: string, encodeSafe: boolean): string {
  let out = "";
  for (const ch of s) {
    if (/^[A-Za-z0-9\-._~!$&'()*+,;=:@/]$/.test(ch) && !(encodeSafe && /[.\-_~]/.test(ch))) out += ch;
    else if (ch === "%") out += encodeSafe ? "%25" : "%";
    else {
      try {
        out += encodeURIComponent(ch);
      } catch {
        out += "%ED%A0%80"; // a lone surrogate, as the bytes a broken client would send
      }
    }
  }
  return out;
}

const segment: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom("v1", "kv", "cluster", "members", "join", "txn", "watch", "health", "metrics", "openapi", "backup", "restore", "snapshot", "read-index", "transfer-leadership", "rollback", "..", ".", "%2e%2e", "%2F", "%00", "%", "%zz", "%C0%AF", "~", "*", "a", "config", "app"),
  fc.string({ minLength: 1, maxLength: 12 }),
  fc.string({ unit: "grapheme", minLength: 1, maxLength: 6 }),
);

/** The path of a real route with its parameters filled in. */
function filled(route: RouteSpec, nodeId: string): fc.Arbitrary<string> {
  const params = route.path.match(/\{\w+\}/g) ?? [];
  const value = fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom("config/app", "a", "fuzz/seed/1", "fuzz/seed/2", "x/y/z", "other-node") },
    { weight: 2, arbitrary: fc.array(segment, { minLength: 1, maxLength: 4 }).map((s) => s.join("/")) },
    { weight: 1, arbitrary: fc.string({ minLength: 0, maxLength: 600 }) },
  ).filter((v) => v !== nodeId);
  return fc.tuple(...params.map(() => value), fc.boolean()).map((values) => {
    let path = route.path;
    const encode = values.at(-1) as boolean;
    for (let i = 0; i < params.length; i++) path = path.replace(params[i]!, encodeForTarget(values[i] as string, encode));
    return path;
  });
}

function mutated(base: fc.Arbitrary<string>): fc.Arbitrary<string> {
  return fc.tuple(base, fc.constantFrom("dots", "double-slash", "trailing", "upper", "drop", "insert", "percent", "repeat"), segment).map(([path, how, extra]) => {
    const parts = path.split("/");
    switch (how) {
      case "dots":
        return `${path}/../${encodeForTarget(extra, false)}`;
      case "double-slash":
        return path.replace("/", "//");
      case "trailing":
        return `${path}/`;
      case "upper":
        return path.toUpperCase();
      case "drop":
        return parts.slice(0, -1).join("/") || "/";
      case "insert":
        return [...parts.slice(0, 2), encodeForTarget(extra, false), ...parts.slice(2)].join("/");
      case "percent":
        return path.replaceAll("/", "%2F").replace("%2F", "/");
      default:
        return `${path}/${path}`;
    }
  });
}

function pathArbitrary(routes: RouteSpec[], nodeId: string): fc.Arbitrary<{ path: string; route?: RouteSpec }> {
  const real = fc.constantFrom(...routes).chain((route) => filled(route, nodeId).map((path) => ({ path, route })));
  return fc.oneof(
    { weight: 5, arbitrary: real },
    { weight: 2, arbitrary: mutated(real.map((r) => r.path)).map((path) => ({ path })) },
    { weight: 2, arbitrary: fc.array(segment, { maxLength: 6 }).map((s) => ({ path: `/${s.map((x) => encodeForTarget(x, false)).join("/")}` })) },
    { weight: 1, arbitrary: fc.integer({ min: 512, max: 15_000 }).map((n) => ({ path: `/v1/kv/${"k".repeat(n)}` })) },
  );
}

function queryArbitrary(route: RouteSpec | undefined): fc.Arbitrary<string> {
  const names = [...new Set([...(route?.query ?? []), ...QUERY_NAMES])];
  const pair = fc.tuple(fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...names) }, { weight: 1, arbitrary: fc.string({ maxLength: 8 }) }), fc.option(junkValue, { nil: undefined }), fc.boolean());
  return fc.array(pair, { maxLength: 5 }).map((generated) => {
    let pairs = generated;
    // A blocking query holds its answer for its wait (5 minutes when it names none): keep them short, or junk.
    if (pairs.some(([n]) => n === "index")) {
      pairs = pairs.filter(([n]) => n !== "wait");
      pairs.push(["wait", SHORT_WAITS[pairs.length % SHORT_WAITS.length]!, false]);
    }
    if (pairs.length === 0) return "";
    return `?${pairs.map(([n, v, encode]) => (v === undefined ? encodeForTarget(n, encode) : `${encodeForTarget(n, encode)}=${encodeForTarget(v, encode)}`)).join("&")}`;
  });
}

/** A value of the wrong type for `schema` (or of the right type but out of range). */
function wrongFor(schema: JsonSchema | undefined): fc.Arbitrary<unknown> {
  const any = fc.oneof(fc.constant(null), fc.boolean(), fc.double(), fc.integer(), fc.string({ maxLength: 30 }), fc.constant([]), fc.constant({}), fc.constant(1e308), fc.constant(-1), fc.constant(2 ** 53 + 1), fc.constant("".padEnd(3000, "z")));
  const type = Array.isArray(schema?.type) ? schema?.type[0] : schema?.type;
  switch (type) {
    case "integer":
    case "number":
      return fc.oneof(any.filter((v) => typeof v !== "number" || !Number.isSafeInteger(v) || v < 0), fc.constantFrom(-1, 0.5, Number.MAX_SAFE_INTEGER + 2, -0, 1e21));
    case "string":
      return fc.oneof(any.filter((v) => typeof v !== "string"), fc.constantFrom("", "\u0000", "a".repeat(600), "::", "host:99999", "\ud800"));
    case "boolean":
      return any.filter((v) => typeof v !== "boolean");
    case "array":
      return fc.oneof(any.filter((v) => !Array.isArray(v)), fc.array(any, { maxLength: 3 }));
    default:
      return any;
  }
}

/** A plausible value for `schema`, so that one wrong field is the only fault. */
function plausibleFor(schema: JsonSchema | undefined): fc.Arbitrary<unknown> {
  if (!schema) return fc.constant(null);
  if (schema.const !== undefined) return fc.constant(schema.const);
  if (schema.anyOf?.length) return fc.oneof(...schema.anyOf.map(plausibleFor));
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  switch (type) {
    case "integer":
    case "number":
      return fc.nat({ max: 1000 }).map((n) => n + (schema.minimum ?? 0));
    case "boolean":
      return fc.boolean();
    case "array":
      return fc.array(plausibleFor(schema.items), { maxLength: 2 });
    case "object":
      return fc.record(Object.fromEntries(Object.entries(schema.properties ?? {}).map(([k, v]) => [k, plausibleFor(v)])));
    case "string":
      return fc.constantFrom("fuzz/plausible", "127.0.0.1:1", "x");
    default:
      return fc.constant(null);
  }
}

/** A JSON body shaped like the route's schema, wrong in exactly one field (or missing one). */
function schemaBody(schema: JsonSchema): fc.Arbitrary<unknown> {
  const fields = Object.keys(schema.properties ?? {});
  if (fields.length === 0) return fc.oneof(wrongFor(schema), fc.constant({}));
  return fc.tuple(plausibleFor(schema) as fc.Arbitrary<Record<string, unknown>>, fc.constantFrom(...fields), fc.boolean()).chain(([base, field, drop]) =>
    wrongFor(schema.properties![field]).map((wrong) => {
      const out = { ...base };
      if (drop && schema.required?.includes(field)) delete out[field];
      else out[field] = wrong;
      return out;
    }),
  );
}

const deepJson = fc.integer({ min: 100, max: 20_000 }).map((depth) => "[".repeat(depth) + "]".repeat(depth));

function bodyArbitrary(route: RouteSpec | undefined): fc.Arbitrary<Uint8Array> {
  const text = (a: fc.Arbitrary<string>) => a.map((s) => new TextEncoder().encode(s));
  const options: fc.Arbitrary<Uint8Array>[] = [
    fc.constant(new Uint8Array(0)),
    fc.uint8Array({ maxLength: 256 }),
    text(fc.json({ maxDepth: 4 })),
    text(deepJson),
    text(fc.constantFrom('{"toIndex": 1e400}', '{"toIndex": -1}', "123456789012345678901234567890", '{"id": "a", "raft": "1.2.3.4:5", "http": 7}', '{"compare": [], "success": [{"op": "put", "key": "", "value": "v"}], "failure": []}', "{", "null", "\"\\ud800\"", '{"__proto__": {"polluted": true}}', '{"constructor": {"prototype": {"x": 1}}}')),
  ];
  if (route?.body) options.push(text(schemaBody(route.body).map((v) => JSON.stringify(v))));
  return fc.oneof(...options);
}

const headerArbitrary: fc.Arbitrary<[string, string]> = fc.oneof(
  fc.tuple(fc.constant("Content-Type"), fc.constantFrom("application/json", "application/json; charset=utf-16", "text/plain", "application/octet-stream", "multipart/form-data", "multipart/form-data; boundary=x", "application/x-www-form-urlencoded", "application/xml", "", "*/*", "application/json;;;", "text/event-stream")),
  fc.tuple(fc.constant("Authorization"), fc.constantFrom("", "Bearer", "Bearer ", "Bearer x", "Basic Zm9vOmJhcg==", "bearer  spaced  ", `Bearer ${"t".repeat(8000)}`, "Negotiate abc")),
  fc.tuple(fc.constant("X-Pontoon-Timeout-Ms"), junkValue.map((v) => v.replace(/[^\x20-\x7e]/g, "?"))),
  fc.tuple(fc.constant("X-Pontoon-Forwarded-By"), fc.constantFrom("n2", "", "x".repeat(200))),
  fc.tuple(fc.constant("X-Pontoon-Index"), fc.constantFrom("1", "-1", "abc")),
  fc.tuple(fc.constant("Last-Event-ID"), fc.constantFrom("0", "-1", "abc", "99999999999999999999", "1.5")),
  fc.tuple(fc.constant("Accept"), fc.constantFrom("text/event-stream", "application/json", "*/*", "")),
  fc.tuple(fc.constant("Content-Encoding"), fc.constantFrom("gzip", "br", "deflate", "identity", "zstd")),
  fc.tuple(fc.constant("X-Filler"), fc.integer({ min: 1, max: 17_000 }).map((n) => "f".repeat(n))),
  fc.tuple(
    // Framing headers stay ours: the client sends Host, Connection and Content-Length itself.
    fc.stringMatching(/^[A-Za-z][A-Za-z0-9-]{0,15}$/).filter((n) => !/^(host|connection|content-length|transfer-encoding|expect|upgrade|te)$/i.test(n)),
    fc.string({ maxLength: 40 }).map((v) => v.replace(/[^\x20-\x7e]/g, "?").trim()),
  ),
);

/** One hostile request against the routes of `routes`; never names `nodeId` in a path (removing the only member ends the run). */
export function requestArbitrary(routes: RouteSpec[], nodeId: string, token?: string): fc.Arbitrary<FuzzRequest> {
  // With a token, most requests carry it, so they get past the door to the routes.
  const withToken: [string, string][] = token ? [["Authorization", `Bearer ${token}`]] : [];
  const auth = fc.oneof({ weight: 4, arbitrary: fc.constant(withToken) }, { weight: 1, arbitrary: fc.constant<[string, string][]>([]) });
  return pathArbitrary(routes, nodeId).chain(({ path, route }) =>
    fc
      .record({
        method: fc.oneof({ weight: 4, arbitrary: fc.constant(route?.method ?? "GET") }, { weight: 2, arbitrary: fc.constantFrom(...KNOWN_METHODS) }),
        query: queryArbitrary(route),
        headers: fc.tuple(auth, fc.array(headerArbitrary, { maxLength: 4 })).map(([a, h]) => [...a, ...h]),
        body: bodyArbitrary(route),
        length: fc.constantFrom("exact", "exact", "exact", "none", "short"),
      })
      .map(({ method, query, headers, body, length }) => {
        const all: [string, string][] = [...headers];
        // "short": a Content-Length below the bytes sent; the rest reads as the start of a next request on a closing connection.
        if (length === "exact") all.push(["Content-Length", String(body.length)]);
        else if (length === "short" && body.length > 0) all.push(["Content-Length", String(body.length - 1)]);
        const sentBody = length === "none" ? new Uint8Array(0) : body;
        const target = `${path}${query}`;
        const headBytes = target.length + all.reduce((n, [k, v]) => n + k.length + v.length + 4, 0) + 80;
        const request: FuzzRequest = { method, target, headers: all, body: sentBody, wireInvalid: headBytes >= BUN_HEAD_LIMIT - 256 };
        // A counterexample is printed short enough to read (a 16 KiB header is shown by its length).
        Object.defineProperty(request, fc.toStringMethod, { value: () => describeRequest(request), enumerable: false });
        return request;
      }),
  );
}

export function describeRequest(r: FuzzRequest): string {
  const clip = (s: string, n: number) => (s.length > n ? `${s.slice(0, n)}… (${s.length} chars)` : s);
  const body = new TextDecoder().decode(r.body.subarray(0, 200));
  return `${r.method} ${clip(r.target, 300)}${r.wireInvalid ? " [not valid HTTP/1.1]" : ""}\n  headers: ${JSON.stringify(r.headers.map(([k, v]) => [k, clip(v, 80)]))}\n  body (${r.body.length} bytes): ${JSON.stringify(body)}`;
}
