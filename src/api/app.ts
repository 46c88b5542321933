// The HTTP API: one Elysia app made of the cluster routes and each plugin's
// routes under /v1/<plugin>, behind auth and leader forwarding, with every
// error in one format.

import { Elysia } from "elysia";
import type { HostedPlugin, PluginHost } from "../fsm/plugin-host.ts";
import { pluginRuntime } from "../fsm/plugin-runtime.ts";
import type { Proposer } from "../fsm/proposer.ts";
import type { Logger } from "../raft/logger.ts";
import { checkAuth } from "./auth.ts";
import type { ClusterNode } from "./cluster-node.ts";
import { clusterRoutes } from "./cluster-routes.ts";
import { ApiError, errorResponse, toApiError, validationError } from "./errors.ts";
import { forwardIfFollower, type LeaderLocator } from "./forward.ts";
import type { Metrics } from "./metrics.ts";
import { openApiDocument } from "./openapi.ts";

export interface ApiDeps {
  node: ClusterNode;
  host: PluginHost;
  proposer: Proposer;
  plugins: HostedPlugin[];
  locator: LeaderLocator;
  metrics: Metrics;
  logger: Logger;
  /** Read per request, so a token changed in the YAML applies at once. */
  token: () => string | undefined;
  /** Deadline of a request that names none, ms. */
  timeoutMs: number;
  /** Largest request body accepted (http.maxBodyBytes). */
  maxBodyBytes: number;
  version: string;
}

export function createApi(deps: ApiDeps) {
  const pluginNames = deps.plugins.map((p) => p.definition.name).sort();
  const localPaths = deps.plugins.flatMap((p) => (p.definition.localRoutes as string[] | undefined) ?? []);
  let app = new Elysia({ name: "pontoon-api" })
    .onError({ as: "global" }, ({ code, error, request }) => {
      const apiError =
        code === "VALIDATION"
          ? validationError(error)
          : code === "NOT_FOUND"
            ? new ApiError(404, "ROUTE_NOT_FOUND", `no route ${request.method} ${new URL(request.url).pathname}; see GET /openapi for the routes`)
            : code === "PARSE"
              ? new ApiError(400, "MALFORMED_BODY", `the request body could not be parsed: ${(error as Error).message}`, { field: "body" })
              : toApiError(error, request.method !== "GET" && request.method !== "HEAD");
      if (apiError.status >= 500 && apiError.code === "INTERNAL") deps.logger.error("request failed", { method: request.method, url: request.url, error: String(error) });
      return errorResponse(apiError);
    })
    .onRequest(async ({ request }) => {
      const url = new URL(request.url);
      const denied = checkAuth(request, url.pathname, deps.token);
      if (denied) return errorResponse(denied);
      // Bun refuses a larger body too, but with an empty answer: say why here, in our format.
      const length = Number(request.headers.get("content-length") ?? 0);
      if (length > deps.maxBodyBytes) {
        return errorResponse(new ApiError(413, "BODY_TOO_LARGE", `the request body is ${length} bytes; this node accepts at most ${deps.maxBodyBytes} (http.maxBodyBytes)`, { field: "body" }));
      }
      try {
        return (await forwardIfFollower(request, url, deps.locator, deps.timeoutMs, localPaths)) ?? undefined;
      } catch (error) {
        return errorResponse(toApiError(error, request.method !== "GET"));
      }
    })
    .onAfterResponse({ as: "global" }, ({ request, route, set }) => {
      const status = typeof set.status === "number" ? set.status : 200;
      deps.metrics.observeRequest(request.method, route || "unmatched", status);
    })
    .get("/", ({ redirect }) => redirect("/v1/cluster"))
    .get("/metrics", () => new Response(deps.metrics.render(deps.node), { headers: { "content-type": "text/plain; version=0.0.4" } }), { detail: { summary: "Prometheus metrics" } })
    .use(clusterRoutes({ node: deps.node, proposer: deps.proposer, plugins: pluginNames, timeoutMs: deps.timeoutMs }));
  for (const plugin of deps.plugins) {
    const runtime = pluginRuntime(plugin.definition.name, deps.host, deps.proposer);
    const routes = plugin.definition.routes?.(runtime);
    if (routes) app = app.group(`/v1/${plugin.definition.name}`, (group) => group.use(routes)) as unknown as typeof app;
    const rootRoutes = plugin.definition.rootRoutes?.(runtime);
    if (rootRoutes) app = app.use(rootRoutes) as unknown as typeof app;
  }
  const document = openApiDocument(app, { title: "Pontoon", version: deps.version });
  return app.get("/openapi", () => document, { detail: { summary: "This API as an OpenAPI 3.1 document" } });
}
