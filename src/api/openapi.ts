// /openapi: an OpenAPI 3.1 document built from the routes' own TypeBox
// schemas (Elysia keeps them on each route), so it cannot drift from what the
// server validates.

import type { AnyElysia } from "elysia";

interface RouteHooks {
  body?: unknown;
  query?: unknown;
  params?: unknown;
  response?: unknown;
  detail?: { summary?: string; description?: string; tags?: string[] };
}

export function openApiDocument(app: AnyElysia, info: { title: string; version: string }): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of app.routes as { method: string; path: string; hooks?: RouteHooks }[]) {
    if (route.path === "/openapi" || route.method === "ALL") continue;
    const path = route.path.replace(/:(\w+)/g, "{$1}").replace(/\/\*$/, "/{key}");
    const hooks = route.hooks ?? {};
    const parameters: Record<string, unknown>[] = [];
    const params = schemaOf(hooks.params);
    for (const name of path.match(/\{(\w+)\}/g) ?? []) {
      const n = name.slice(1, -1);
      parameters.push({ name: n, in: "path", required: true, schema: (params?.properties as Record<string, unknown> | undefined)?.[n] ?? { type: "string" } });
    }
    const query = schemaOf(hooks.query);
    for (const [name, schema] of Object.entries((query?.properties as Record<string, Record<string, unknown>>) ?? {})) {
      parameters.push({ name, in: "query", required: ((query?.required as string[]) ?? []).includes(name), schema, description: schema.description });
    }
    const body = schemaOf(hooks.body);
    const tag = route.path.split("/")[2] ?? "pontoon";
    (paths[path] ??= {})[route.method.toLowerCase()] = {
      summary: hooks.detail?.summary,
      tags: hooks.detail?.tags ?? [tag],
      parameters: parameters.length ? parameters : undefined,
      requestBody: body ? { content: { "application/json": { schema: body } } } : route.method === "PUT" ? { content: { "application/octet-stream": { schema: { type: "string", format: "binary" } } } } : undefined,
      responses: {
        "200": { description: "OK", content: schemaOf(hooks.response) ? { "application/json": { schema: schemaOf(hooks.response) } } : undefined },
        default: { description: "An error", content: { "application/json": { schema: errorSchema } } },
      },
    };
  }
  return { openapi: "3.1.0", info, paths };
}

const errorSchema = {
  type: "object",
  required: ["error"],
  properties: { error: { type: "object", required: ["code", "message"], properties: { code: { type: "string" }, message: { type: "string" }, field: { type: "string" } } } },
};

function schemaOf(schema: unknown): Record<string, unknown> | undefined {
  if (!schema || typeof schema !== "object") return undefined;
  // A TypeBox schema is plain JSON Schema plus symbol keys, which JSON drops.
  return JSON.parse(JSON.stringify(schema)) as Record<string, unknown>;
}
