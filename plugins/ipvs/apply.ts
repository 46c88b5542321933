// What each ipvs command does to the table, with ipvsadm's semantics: add
// refuses a duplicate (409), edit and delete refuse a missing record (404).
// Deterministic: a function of the tables and the command alone.

import { PluginError, type ApplyContext } from "../../src/fsm/sdk.ts";
import type { ImportedService, IpvsConfig, IpvsResults } from "./commands.ts";
import { editServer, editService, normalizeServer, normalizeService, parseServiceId, type RealServer, type ServerChanges, type ServerSpec, type ServiceChanges, type ServiceSpec } from "./model.ts";
import { clearTable, deleteServer, deleteService, getServer, getService, putServer, putService, setHealthy, setTableVersion, touchService, type ServiceEntry } from "./store.ts";
import { parseAddress } from "./address.ts";

type Ctx = ApplyContext<IpvsConfig>;

/** Announced to the plugin's subscribers (the reconciler) after every change. */
export interface IpvsEvent {
  op: string;
  serviceId?: string;
}

function existing(ctx: Ctx, id: string): ServiceEntry {
  const canonical = parseServiceId(id.split("/")).id;
  const service = getService(ctx.db, canonical);
  if (!service) throw new PluginError("SERVICE_NOT_FOUND", `no virtual service ${canonical}`, 404, { service: canonical });
  return service;
}

function serverKey(address: string, port: number): { address: string; port: number } {
  const parsed = parseAddress(address);
  if (!parsed) throw new PluginError("INVALID_ADDRESS", `address: ${JSON.stringify(address)} is not an IPv4 or IPv6 address`, 400, { field: "address" });
  return { address: parsed.address, port };
}

function addService(ctx: Ctx, spec: ServiceSpec): ServiceEntry {
  const service = normalizeService(spec);
  if (getService(ctx.db, service.id)) throw new PluginError("SERVICE_EXISTS", `virtual service ${service.id} already exists (edit it, or delete it first)`, 409, { service: service.id });
  putService(ctx.db, service, ctx.index);
  return getService(ctx.db, service.id)!;
}

function addServer(ctx: Ctx, service: ServiceEntry, spec: ServerSpec): RealServer {
  const server = normalizeServer(service, spec);
  if (getServer(ctx.db, service.id, server.address, server.port)) {
    throw new PluginError("SERVER_EXISTS", `real server ${server.address} port ${server.port} is already in ${service.id} (edit it, or delete it first)`, 409, { service: service.id });
  }
  putServer(ctx.db, service.id, server);
  touchService(ctx.db, service.id, ctx.index);
  return server;
}

function existingServer(ctx: Ctx, service: ServiceEntry, address: string, port: number): RealServer {
  const key = serverKey(address, port);
  const server = getServer(ctx.db, service.id, key.address, key.port);
  if (!server) throw new PluginError("SERVER_NOT_FOUND", `no real server ${key.address} port ${key.port} in ${service.id}`, 404, { service: service.id });
  return server;
}

const handlers = {
  addService: (ctx: Ctx, args: { service: ServiceSpec }): IpvsResults["addService"] => {
    const service = addService(ctx, args.service);
    ctx.emit({ op: "addService", serviceId: service.id } satisfies IpvsEvent);
    return { index: ctx.index, service };
  },
  editService: (ctx: Ctx, args: { id: string; changes: ServiceChanges }): IpvsResults["editService"] => {
    const current = existing(ctx, args.id);
    const { createIndex: _c, modifyIndex: _m, servers: _s, ...service } = current;
    putService(ctx.db, editService(service, args.changes), ctx.index);
    ctx.emit({ op: "editService", serviceId: current.id } satisfies IpvsEvent);
    return { index: ctx.index, service: getService(ctx.db, current.id)! };
  },
  deleteService: (ctx: Ctx, args: { id: string }): IpvsResults["deleteService"] => {
    const current = existing(ctx, args.id);
    deleteService(ctx.db, current.id);
    ctx.emit({ op: "deleteService", serviceId: current.id } satisfies IpvsEvent);
    return { index: ctx.index };
  },
  addServer: (ctx: Ctx, args: { serviceId: string; server: ServerSpec }): IpvsResults["addServer"] => {
    const service = existing(ctx, args.serviceId);
    addServer(ctx, service, args.server);
    ctx.emit({ op: "addServer", serviceId: service.id } satisfies IpvsEvent);
    return { index: ctx.index, service: getService(ctx.db, service.id)! };
  },
  editServer: (ctx: Ctx, args: { serviceId: string; address: string; port: number; changes: ServerChanges }): IpvsResults["editServer"] => {
    const service = existing(ctx, args.serviceId);
    const current = existingServer(ctx, service, args.address, args.port);
    putServer(ctx.db, service.id, editServer(service, current, args.changes));
    // Without a check there is nothing to say it is down.
    if (args.changes.check === null) setHealthy(ctx.db, service.id, current.address, current.port, true);
    touchService(ctx.db, service.id, ctx.index);
    ctx.emit({ op: "editServer", serviceId: service.id } satisfies IpvsEvent);
    return { index: ctx.index, service: getService(ctx.db, service.id)! };
  },
  deleteServer: (ctx: Ctx, args: { serviceId: string; address: string; port: number }): IpvsResults["deleteServer"] => {
    const service = existing(ctx, args.serviceId);
    const current = existingServer(ctx, service, args.address, args.port);
    deleteServer(ctx.db, service.id, current.address, current.port);
    touchService(ctx.db, service.id, ctx.index);
    ctx.emit({ op: "deleteServer", serviceId: service.id } satisfies IpvsEvent);
    return { index: ctx.index, service: getService(ctx.db, service.id)! };
  },
  clear: (ctx: Ctx, _args: Record<string, never>): IpvsResults["clear"] => {
    const deleted = clearTable(ctx.db);
    ctx.emit({ op: "clear" } satisfies IpvsEvent);
    return { index: ctx.index, deleted };
  },
  setHealth: (ctx: Ctx, args: { changes: { serviceId: string; address: string; port: number; healthy: boolean }[] }): IpvsResults["setHealth"] => {
    let changed = 0;
    for (const c of args.changes) {
      // Decided again here: the server may have been deleted, or its check removed, since the leader looked.
      if (!getServer(ctx.db, c.serviceId, c.address, c.port)?.check) continue;
      if (!setHealthy(ctx.db, c.serviceId, c.address, c.port, c.healthy)) continue;
      touchService(ctx.db, c.serviceId, ctx.index);
      ctx.emit({ op: "setHealth", serviceId: c.serviceId } satisfies IpvsEvent);
      changed++;
    }
    return { index: ctx.index, changed };
  },
  /** One command, so one transaction: an error anywhere rolls back every row it wrote, the clear included. */
  import: (ctx: Ctx, args: { replace: boolean; services: ImportedService[] }): IpvsResults["import"] => {
    if (args.replace) clearTable(ctx.db);
    let servers = 0;
    for (const [i, imported] of args.services.entries()) {
      const service = within(`services[${i}]`, () => addService(ctx, imported.service));
      for (const [j, spec] of imported.servers.entries()) {
        within(`services[${i}].servers[${j}]`, () => addServer(ctx, service, spec));
        servers++;
      }
    }
    ctx.emit({ op: "import" } satisfies IpvsEvent);
    return { index: ctx.index, services: args.services.length, servers };
  },
};

/** Every handler, recording its index as the table's version (rolled back with the command if it fails). */
export const applyIpvs = Object.fromEntries(
  Object.entries(handlers).map(([name, handler]) => [
    name,
    (ctx: Ctx, args: never) => {
      const result = (handler as (ctx: Ctx, args: never) => unknown)(ctx, args);
      setTableVersion(ctx.db, ctx.index);
      return result;
    },
  ]),
) as typeof handlers;

/** Runs `f`, prefixing the field of a PluginError it throws with `where` (services[2].servers[0].address). */
function within<T>(where: string, f: () => T): T {
  try {
    return f();
  } catch (error) {
    if (!(error instanceof PluginError)) throw error;
    const field = typeof error.details?.field === "string" ? `${where}.${error.details.field}` : where;
    const message = typeof error.details?.field === "string" && error.message.startsWith(`${error.details.field}: `) ? `${field}: ${error.message.slice(String(error.details.field).length + 2)}` : `${where}: ${error.message}`;
    throw new PluginError(error.code, message, error.status, { ...error.details, field });
  }
}
