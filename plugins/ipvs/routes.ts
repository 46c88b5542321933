// The ipvs HTTP routes, mounted at /v1/ipvs. A service is named in the path
// as ipvsadm names it, protocol, address and port or a firewall mark:
//   /v1/ipvs/services/tcp/10.0.0.1/80      /v1/ipvs/services/udp/2001:db8::1/53
//   /v1/ipvs/services/fwmark/12            /v1/ipvs/services/fwmark6/12 (IPv6)
// and a real server after it: .../servers/10.0.0.2/8080.

import { Elysia, t } from "elysia";
import { CONSISTENCY_LEVELS, PluginError } from "../../src/fsm/sdk.ts";
import type { IpvsRuntime } from "./commands.ts";
import { parsePort, parseServiceId, serverChanges, serverSpec, serviceChanges, serviceSpec } from "./model.ts";
import { reconcilerStatus } from "./reconciler.ts";
import { formatSave, parseSave } from "./save-format.ts";
import { getService, listServices } from "./store.ts";
import { parseAddress } from "./address.ts";

const consistency = t.Optional(
  t.Union(CONSISTENCY_LEVELS.map((level) => t.Literal(level)), { description: "linearizable (default): never stale; leader: under the leader's lease; stale: whatever this node has" }),
);

/** The service the path names: `:kind/:a/:b` (tcp/10.0.0.1/80) or `:kind/:a` (fwmark/12). */
function serviceOf(params: Record<string, string>): string {
  const address = params.a!.startsWith("[") && params.a!.endsWith("]") ? params.a!.slice(1, -1) : params.a!;
  return parseServiceId(params.b === undefined ? [params.kind!, address] : [params.kind!, address, params.b]).id;
}

function serverOf(params: Record<string, string>): { address: string; port: number } {
  const raw = params.server!.startsWith("[") && params.server!.endsWith("]") ? params.server!.slice(1, -1) : params.server!;
  const parsed = parseAddress(raw);
  if (!parsed) throw new PluginError("INVALID_ADDRESS", `address: ${JSON.stringify(raw)} is not an IPv4 or IPv6 address`, 400, { field: "address" });
  return { address: parsed.address, port: parsePort(params.serverPort!, "port") };
}

/** The routes of one shape of service path (`/:kind/:a/:b` or `/:kind/:a`). */
function oneService(ipvs: IpvsRuntime, shape: string) {
  const path = `/services${shape}`;
  return new Elysia({ name: `ipvs-service${shape}` })
    .get(
      path,
      async ({ params, query }) => {
        const id = serviceOf(params);
        const { value } = await ipvs.read(query.consistency ?? "linearizable", (db) => getService(db, id));
        if (!value) throw new PluginError("SERVICE_NOT_FOUND", `no virtual service ${id}`, 404, { service: id });
        return value;
      },
      { query: t.Object({ consistency }), detail: { summary: "One virtual service and its real servers" } },
    )
    .patch(path, async ({ params, body }) => (await ipvs.write("editService", { id: serviceOf(params), changes: body })).value, {
      body: serviceChanges,
      detail: { summary: "Edit a virtual service's scheduling (ipvsadm -E); settings left out are kept" },
    })
    .delete(path, async ({ params }) => (await ipvs.write("deleteService", { id: serviceOf(params) })).value, {
      detail: { summary: "Delete a virtual service and its real servers (ipvsadm -D)" },
    })
    .post(`${path}/servers`, async ({ params, body }) => (await ipvs.write("addServer", { serviceId: serviceOf(params), server: body })).value, {
      body: serverSpec,
      detail: { summary: "Add a real server to a virtual service (ipvsadm -a)" },
    })
    .patch(`${path}/servers/:server/:serverPort`, async ({ params, body }) => (await ipvs.write("editServer", { serviceId: serviceOf(params), ...serverOf(params), changes: body })).value, {
      body: serverChanges,
      detail: { summary: "Edit a real server (ipvsadm -e); settings left out are kept" },
    })
    .delete(`${path}/servers/:server/:serverPort`, async ({ params }) => (await ipvs.write("deleteServer", { serviceId: serviceOf(params), ...serverOf(params) })).value, {
      detail: { summary: "Remove a real server from a virtual service (ipvsadm -d)" },
    });
}

export function ipvsRoutes(ipvs: IpvsRuntime) {
  return new Elysia({ name: "ipvs-routes" })
    .get(
      "/services",
      async ({ query }) => {
        const { index, value } = await ipvs.read(query.consistency ?? "linearizable", listServices);
        return { index, services: value };
      },
      { query: t.Object({ consistency }), detail: { summary: "Every virtual service with its real servers" } },
    )
    .post("/services", async ({ body }) => (await ipvs.write("addService", { service: body })).value, {
      body: serviceSpec,
      detail: { summary: "Add a virtual service (ipvsadm -A): protocol, address and port, or fwmark" },
    })
    .delete("/services", async () => (await ipvs.write("clear", {})).value, { detail: { summary: "Delete every virtual service (ipvsadm -C)" } })
    .get("/status", () => reconcilerStatus(ipvs), { detail: { summary: "This node's reconciler: mode, the last table index its kernel was made to match, the last commands and error (answered by the node asked)" } })
    .use(oneService(ipvs, "/:kind/:a/:b"))
    .use(oneService(ipvs, "/:kind/:a"))
    .get(
      "/export",
      async ({ query }) => {
        const { index, value } = await ipvs.read(query.consistency ?? "linearizable", listServices);
        return new Response(formatSave(value.map((service) => ({ service, servers: service.servers }))), { headers: { "content-type": "text/plain; charset=utf-8", "x-pontoon-index": String(index) } });
      },
      { query: t.Object({ consistency }), detail: { summary: "The table as `ipvsadm-save -n` prints it (text), for ipvsadm-restore" } },
    )
    .post(
      "/import",
      async ({ body, query }) => {
        const services = parseSave(body);
        return (await ipvs.write("import", { replace: query.replace !== "false", services })).value;
      },
      {
        parse: "text",
        body: t.String({ description: "`ipvsadm-save -n` text" }),
        query: t.Object({ replace: t.Optional(t.Union([t.Literal("true"), t.Literal("false")], { description: "true (default): the table becomes exactly the text; false: add it to the table (a service already there is a 409)" })) }),
        detail: { summary: "Load `ipvsadm-save -n` text in one replicated command: all of it applies, or none" },
      },
    );
}
