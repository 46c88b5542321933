// The HTTP API: one Elysia app made of the cluster routes and each plugin's
// routes under /v1/<plugin>, behind leader forwarding, with every error in one
// format. Auth, the body limit and request metrics are the front door's.

import { Elysia } from "elysia";
import type { HostedPlugin, PluginHost } from "../fsm/plugin-host.ts";
import { pluginRuntime } from "../fsm/plugin-runtime.ts";
import type { Proposer } from "../fsm/proposer.ts";
import type { Logger } from "../raft/logger.ts";
import type { ClusterNode } from "./cluster-node.ts";
import { clusterRoutes } from "./cluster-routes.ts";
import { ApiError, errorResponse, toApiError, validationError } from "./errors.ts";
import { forwardIfFollower, type LeaderLocator } from "./forward.ts";
import { labelRoute } from "./request-context.ts";
import type { Metrics } from "./metrics.ts";
import { openApiDocument } from "./openapi.ts";
import { headAsGet } from "./head.ts";
import { jsonDepthLimit } from "./json-depth.ts";
import { clusterEventsRoutes } from "../ui/cluster-events.ts";
import { consoleRoutes } from "../ui/routes.ts";

export interface ApiDeps {
  node: ClusterNode;
  host: PluginHost;
  proposer: Proposer;
  plugins: HostedPlugin[];
  locator: LeaderLocator;
  metrics: Metrics;
  logger: Logger;
  /** Deadline of a request that names none, ms. */
  timeoutMs: number;
  version: string;
  /** Filled here with the plugin each root route (e.g. /v1/watch) belongs to, for the front door's plugin scopes. */
  rootRouteOwners?: Map<string, string>;
}

/** Route label of requests forwarded to the leader (or refused because it cannot be reached). */
export const FORWARDED_ROUTE = "(forwarded)";

export function createApi(deps: ApiDeps) {
  const pluginNames = deps.plugins.map((p) => p.definition.name).sort();
  const localPaths = deps.plugins.flatMap((p) => (p.definition.localRoutes as string[] | undefined) ?? []);
  const leaderPaths = deps.plugins.flatMap((p) => (p.definition.leaderRoutes as string[] | undefined) ?? []);
  let app = new Elysia({ name: "pontoon-api" })
    .use(headAsGet)
    .use(jsonDepthLimit)
    .onError({ as: "global" }, ({ code, error, request, route }) => {
      if (route) labelRoute(route);
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
    // Every answer is counted by the front door under the route recorded here.
    .onTransform({ as: "global" }, ({ route }) => labelRoute(route))
    .onRequest(async ({ request }) => {
      const url = new URL(request.url);
      try {
        const forwarded = await forwardIfFollower(request, url, deps.locator, deps.timeoutMs, localPaths, leaderPaths);
        if (forwarded) labelRoute(FORWARDED_ROUTE);
        return forwarded ?? undefined;
      } catch (error) {
        labelRoute(FORWARDED_ROUTE);
        return errorResponse(toApiError(error, request.method !== "GET"));
      }
    })
    .get("/", ({ redirect }) => redirect("/ui/"))
    .get("/metrics", () => new Response(deps.metrics.render(deps.node), { headers: { "content-type": "text/plain; version=0.0.4" } }), { detail: { summary: "Prometheus metrics" } })
    .use(clusterRoutes({ node: deps.node, proposer: deps.proposer, host: deps.host, plugins: pluginNames, timeoutMs: deps.timeoutMs }))
    .use(clusterEventsRoutes({ node: deps.node, proposer: deps.proposer, ...(deps.locator.peerHttp ? { peers: deps.locator.peerHttp } : {}) }));
  for (const plugin of deps.plugins) {
    const runtime = pluginRuntime(plugin.definition.name, deps.host, deps.proposer);
    const routes = plugin.definition.routes?.(runtime);
    if (routes) app = app.group(`/v1/${plugin.definition.name}`, (group) => group.use(routes)) as unknown as typeof app;
    const rootRoutes = plugin.definition.rootRoutes?.(runtime);
    if (rootRoutes) {
      for (const route of rootRoutes.routes) deps.rootRouteOwners?.set(route.path, plugin.definition.name);
      app = app.use(rootRoutes) as unknown as typeof app;
    }
  }
  const document = openApiDocument(app, { title: "Pontoon", version: deps.version });
  // The console's files come after the document: they are not part of the API.
  const pages = deps.plugins.flatMap(({ definition: d }) => (d.consolePage ? [{ plugin: d.name, title: d.consolePage.title as string, module: d.consolePage.module as string }] : []));
  return app.get("/openapi", () => document, { detail: { summary: "This API as an OpenAPI 3.1 document" } }).use(consoleRoutes(pages));
}
