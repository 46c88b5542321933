// The naming plugin: a service registry with TTL heartbeats, active health
// checks, routing rules (subsets by tags and metadata, with weights), a
// resolve call, Consul's catalog shape (src/api/consul-compat.ts) and DNS.

import { PluginError, definePlugin, type ApplyContext } from "../../src/fsm/sdk.ts";
import { namingCommands, namingConfig, type NamingConfig, type NamingEvent } from "./commands.ts";
import { namingNodeService } from "./node-service.ts";
import { sweep } from "./sweep.ts";
import { namingRoutes } from "./routes.ts";
import { deleteInstance, deleteRules, instanceModifyIndex, migrations, putInstance, putRules, setCheckStatus, setTtlStatus, touchService } from "./store.ts";

export default definePlugin({
  name: "naming",
  description: "Service registry: instances with TTL heartbeats and health checks, routing rules, Consul catalog and DNS views",
  config: namingConfig,
  migrations,
  commands: namingCommands,
  apply: {
    register: (ctx, args): { index: number; created: boolean } => {
      const created = putInstance(
        ctx.db,
        {
          service: args.service,
          id: args.id,
          address: args.address,
          port: args.port,
          weight: args.weight,
          tags: args.tags,
          meta: args.meta,
          ttlMs: args.ttlMs ?? null,
          deregisterAfterMs: args.deregisterAfterMs,
          check: args.check ?? null,
        },
        ctx.index,
        ctx.timestamp,
      );
      changed(ctx, args.service);
      return { index: ctx.index, created };
    },
    deregister: (ctx, args): { index: number } => {
      if (!deleteInstance(ctx.db, args.service, args.id, ctx.index)) {
        throw new PluginError("INSTANCE_NOT_FOUND", `service ${args.service} has no instance ${JSON.stringify(args.id)}`, 404);
      }
      changed(ctx, args.service);
      return { index: ctx.index };
    },
    transitions: (ctx, args): { index: number; applied: number } => {
      let applied = 0;
      const services = new Set<string>();
      for (const c of args.changes) {
        // Decided by the leader on the instance as it was at ifIndex; a later write (a re-registration) wins.
        if (instanceModifyIndex(ctx.db, c.service, c.id) !== c.ifIndex) continue;
        if (c.remove) deleteInstance(ctx.db, c.service, c.id, ctx.index);
        else {
          if (c.ttl) setTtlStatus(ctx.db, c.service, c.id, c.ttl, ctx.timestamp, ctx.index);
          if (c.check) setCheckStatus(ctx.db, c.service, c.id, c.check.status, c.check.output, ctx.index);
          touchService(ctx.db, c.service, ctx.index);
        }
        applied++;
        services.add(c.service);
      }
      for (const service of services) changed(ctx, service);
      return { index: ctx.index, applied };
    },
    setRules: (ctx, args): { index: number } => {
      putRules(ctx.db, args.service, args.rules, ctx.index);
      changed(ctx, args.service);
      return { index: ctx.index };
    },
    deleteRules: (ctx, args): { index: number; deleted: boolean } => {
      const deleted = deleteRules(ctx.db, args.service, ctx.index);
      if (deleted) changed(ctx, args.service);
      return { index: ctx.index, deleted };
    },
  },
  // A restored backup's indexes belong to another log: everything changed at the restore.
  restored: (ctx) => {
    ctx.db.query("UPDATE naming_instances SET create_index = ?1, modify_index = ?1").run(ctx.index);
    ctx.db.query("UPDATE naming_rules SET modify_index = ?1").run(ctx.index);
    ctx.db.query("UPDATE naming_services SET modify_index = ?1").run(ctx.index);
    for (const { service } of ctx.db.query<{ service: string }, []>("SELECT service FROM naming_services").all()) changed(ctx, service);
  },
  routes: namingRoutes,
  // Heartbeats are kept in the leader's memory: they must reach it.
  leaderRoutes: ["/v1/naming/heartbeat/"],
  leaderTask: { everyMs: 250, run: sweep },
  nodeService: namingNodeService,
});

function changed(ctx: ApplyContext<NamingConfig>, service: string): void {
  ctx.emit({ service } satisfies NamingEvent);
}

