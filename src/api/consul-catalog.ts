// Consul's catalog and health endpoints, answered from the naming plugin's
// registry, in the shapes Consul gives them, so tools that discover services
// through Consul (Prometheus consul_sd_configs, Traefik, the consul npm
// client) find Pontoon's:
//   GET /v1/catalog/services           {"web": ["v1", "v2"], ...}
//   GET /v1/catalog/service/<name>     [{Node, Address, ServiceID, ServiceName, ServicePort, ...}]  (?tag=)
//   GET /v1/health/service/<name>      [{Node, Service, Checks}]                                    (?passing, ?tag=)
// Consul models instances as services on nodes (agents); Pontoon has no
// agents, so each instance is shown on a node named after its address, as
// Consul shows services registered for external nodes.

import { waitForServiceChange } from "../../plugins/naming/blocking.ts";
import { SERVICE_NAME } from "../../plugins/naming/commands.ts";
import { catalogIndex, listInstances, listServices, serviceIndex, type Instance } from "../../plugins/naming/store.ts";
import { blockingWaitMs, PluginError, type Consistency, type Database, type PluginRuntime } from "../fsm/sdk.ts";

export const DATACENTER = "dc1";

/** What a catalog answer needs: the naming runtime, and the read level the caller's consistency flags came to. */
export interface CatalogRead {
  naming: PluginRuntime<any, any, any>;
  consistency: Consistency;
  knownLeader: boolean;
}

const json = (body: unknown, headers: Record<string, string>) => new Response(JSON.stringify(body), { headers: { "content-type": "application/json", ...headers } });

/** The answer for a catalog or health path, or null when the path is not one. */
export async function catalogRoute(read: CatalogRead, request: Request, url: URL): Promise<Response | null> {
  const path = url.pathname;
  if (path === "/v1/catalog/services") {
    return answer(read, request, url, () => true, catalogIndex, (db) => Object.fromEntries(listServices(db).map((s) => [s.name, s.tags])));
  }
  const shapes: [string, (i: Instance) => unknown][] = [
    ["/v1/catalog/service/", catalogEntry],
    ["/v1/health/service/", healthEntry],
  ];
  for (const [prefix, shape] of shapes) {
    if (!path.startsWith(prefix)) continue;
    const service = decodeURIComponent(path.slice(prefix.length));
    if (!new RegExp(SERVICE_NAME).test(service)) throw new PluginError("INVALID_SERVICE", `invalid service name ${JSON.stringify(service)}`, 400, { field: "service" });
    const tags = url.searchParams.getAll("tag");
    const passing = prefix === "/v1/health/service/" && isTrue(url.searchParams.get("passing"));
    return answer(
      read,
      request,
      url,
      (s) => s === service,
      (db) => serviceIndex(db, service),
      (db) => listInstances(db, service, passing).filter((i) => tags.every((t) => i.tags.includes(t))).map(shape),
    );
  }
  return null;
}

/** Consul's flags: `?passing` alone or `?passing=true`; `=false` turns it off. */
const isTrue = (raw: string | null) => raw !== null && raw !== "false" && raw !== "0";

async function answer(read: CatalogRead, request: Request, url: URL, matches: (service: string) => boolean, changed: (db: Database) => number, body: (db: Database) => unknown): Promise<Response> {
  const { naming } = read;
  const index = url.searchParams.get("index");
  if (index !== null && /^\d+$/.test(index)) {
    await waitForServiceChange(naming, matches, Number(index), () => naming.peek(changed), blockingWaitMs(url.searchParams.get("wait")), request.signal);
  }
  const { value } = await naming.read(read.consistency, (db) => ({ changed: changed(db), body: body(db) }));
  // Consul's index is never 0: clients treat 0 as "no index".
  return json(value.body, { "x-consul-index": String(Math.max(1, value.changed)), "x-consul-knownleader": String(read.knownLeader), "x-consul-lastcontact": "0" });
}

function node(i: Instance) {
  return { ID: "", Node: i.address, Address: i.address, Datacenter: DATACENTER, TaggedAddresses: { lan: i.address, wan: i.address }, Meta: { "external-source": "pontoon" }, CreateIndex: i.createIndex, ModifyIndex: i.modifyIndex };
}

function catalogEntry(i: Instance) {
  const n = node(i);
  return {
    ID: n.ID,
    Node: n.Node,
    Address: n.Address,
    Datacenter: DATACENTER,
    TaggedAddresses: n.TaggedAddresses,
    NodeMeta: n.Meta,
    ServiceKind: "",
    ServiceID: i.id,
    ServiceName: i.service,
    ServiceTags: i.tags,
    ServiceAddress: i.address,
    ServiceTaggedAddresses: {},
    ServiceWeights: { Passing: i.weight, Warning: i.weight },
    ServiceMeta: i.meta,
    ServicePort: i.port,
    ServiceEnableTagOverride: false,
    ServiceProxy: {},
    ServiceConnect: {},
    CreateIndex: i.createIndex,
    ModifyIndex: i.modifyIndex,
  };
}

function healthEntry(i: Instance) {
  const check = (CheckID: string, Name: string, Status: string, Output: string, Type: string) => ({
    Node: i.address,
    CheckID,
    Name,
    Status,
    Notes: "",
    Output,
    ServiceID: i.id,
    ServiceName: i.service,
    ServiceTags: i.tags,
    Type,
    Definition: {},
    CreateIndex: i.createIndex,
    ModifyIndex: i.modifyIndex,
  });
  const checks = [];
  if (i.ttlMs !== null) checks.push(check(`service:${i.id}:ttl`, `Service '${i.service}' TTL`, i.ttlStatus, i.ttlStatus === "passing" ? "heartbeats within the TTL" : `no heartbeat within ${i.ttlMs} ms`, "ttl"));
  if (i.check !== null) checks.push(check(`service:${i.id}`, `Service '${i.service}' check`, i.checkStatus, i.checkOutput, i.check.type));
  // Consul always lists the node's own health; instances without a TTL or a check are passing by registration.
  checks.unshift({ ...check("serfHealth", "Serf Health Status", "passing", "", ""), ServiceID: "", ServiceName: "", ServiceTags: [] });
  return {
    Node: node(i),
    Service: {
      ID: i.id,
      Service: i.service,
      Tags: i.tags,
      Address: i.address,
      TaggedAddresses: {},
      Meta: i.meta,
      Port: i.port,
      Weights: { Passing: i.weight, Warning: i.weight },
      EnableTagOverride: false,
      Proxy: {},
      Connect: {},
      CreateIndex: i.createIndex,
      ModifyIndex: i.modifyIndex,
    },
    Checks: checks,
  };
}
