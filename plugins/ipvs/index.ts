// The ipvs plugin: the IPVS virtual service table (what `ipvsadm` manages on
// one LVS box) kept in Raft, so every node holds the same table, a node that
// joins late gets it by snapshot, and each node can make its kernel match it.

import { definePlugin } from "../../src/fsm/sdk.ts";
import { applyIpvs } from "./apply.ts";
import { ipvsCommands, ipvsConfig } from "./commands.ts";
import { HEALTH_TICK_MS, runHealthChecks } from "./health.ts";
import { startReconciler } from "./reconciler.ts";
import { ipvsRoutes } from "./routes.ts";
import { migrations, setTableVersion } from "./store.ts";

export default definePlugin({
  name: "ipvs",
  description: "The IPVS virtual service table (ipvsadm's services and real servers), replicated",
  config: ipvsConfig,
  migrations,
  commands: ipvsCommands,
  apply: applyIpvs,
  // A restored backup's indexes come from another log: every service becomes one version, at the restore.
  restored: (ctx) => {
    ctx.db.query("UPDATE ipvs_services SET create_index = ?1, modify_index = ?1").run(ctx.index);
    setTableVersion(ctx.db, ctx.index);
    ctx.emit({ op: "restored" });
  },
  routes: ipvsRoutes,
  // The status is this node's own, so a follower answers it instead of forwarding to the leader.
  localRoutes: ["/v1/ipvs/status"],
  nodeService: startReconciler,
  // Health checks: only the leader probes, and replicates a verdict only when it changes.
  leaderTask: { everyMs: HEALTH_TICK_MS, run: runHealthChecks },
});
