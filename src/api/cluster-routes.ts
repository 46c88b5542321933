// Cluster membership and status (CONTRACT.md "Cluster membership").

import { Elysia, t } from "elysia";
import { BackupError, decodeBackup, encodeBackup, imageMismatch, pluginRows, type BackupHeader } from "../fsm/backup.ts";
import { HOST_PLUGIN, recordSays } from "../fsm/host-commands.ts";
import type { PluginHost } from "../fsm/plugin-host.ts";
import type { Proposer } from "../fsm/proposer.ts";
import { HOST_PORT_FORMAT } from "../config/address.ts";
import { ApiError } from "./errors.ts";
import type { ClusterNode } from "./cluster-node.ts";

export interface ClusterRoutesDeps {
  node: ClusterNode;
  proposer: Proposer;
  /** The state machine, for backups. */
  host: Pick<PluginHost, "snapshot" | "database" | "plugin">;
  /** This node's plugins, recorded with its member entry. */
  plugins: string[];
  /** How long membership calls may take. */
  timeoutMs: number;
}

const member = t.Object({ id: t.String(), raft: t.String(), http: t.Union([t.String(), t.Null()]), voter: t.Boolean() });
const nodeId = t.String({ minLength: 1, maxLength: 64, pattern: "^[A-Za-z0-9._-]+$", description: "node id" });
// The same check as the YAML's addresses (IPv6 as "[::1]:2221").
const hostPort = t.String({ maxLength: 300, format: HOST_PORT_FORMAT, description: "host:port" });

export function clusterStatus(node: ClusterNode, proposer: Proposer) {
  const stats = node.stats();
  const records = proposer.memberRecords();
  const http = (id: string) => records.get(id)?.http ?? null;
  const leader = stats.leader === null ? null : { id: stats.leader.id, raft: stats.leader.address, http: http(stats.leader.id) };
  const members = stats.configuration.servers.map((s) => ({ id: s.id, raft: s.address, http: http(s.id), voter: s.suffrage === "voter" }));
  const plugins = Object.fromEntries([...records].map(([id, r]) => [id, r.plugins]));
  return {
    id: stats.id,
    state: stats.state,
    term: stats.term,
    leader,
    commitIndex: stats.commitIndex,
    appliedIndex: stats.appliedIndex,
    members,
    lastIndex: stats.lastIndex,
    snapshotIndex: stats.snapshotIndex,
    lastContactMs: stats.lastContactMs,
    plugins,
    replication: stats.peers.map((p) => ({ id: p.id, match: p.match, lag: Math.max(0, stats.lastIndex - p.match), state: p.state, lastContactMs: p.lastContactMs })),
  };
}

export function clusterRoutes(deps: ClusterRoutesDeps) {
  const { node, proposer } = deps;
  return new Elysia({ name: "cluster-routes" })
    .get("/v1/health", () => ({ ok: true }), { detail: { summary: "Liveness: 200 while the process serves (no auth)" } })
    .get("/v1/cluster", () => clusterStatus(node, proposer), {
      detail: { summary: "This node's view: role, term, leader, indexes, members" },
      response: t.Object({ id: t.String(), state: t.String(), term: t.Integer(), leader: t.Union([t.Object({ id: t.String(), raft: t.String(), http: t.Union([t.String(), t.Null()]) }), t.Null()]), commitIndex: t.Integer(), appliedIndex: t.Integer(), members: t.Array(member) }, { additionalProperties: true }),
    })
    .post(
      "/v1/cluster/join",
      async ({ body }) => {
        const voter = body.voter ?? true;
        const current = node.getConfiguration().configuration.servers.find((s) => s.id === body.id);
        if (current && current.address !== body.raft) {
          throw new ApiError(409, "MEMBER_CONFLICT", `a member with id ${body.id} already exists at ${current.address}; remove it first (DELETE /v1/cluster/members/${body.id}) or pick another id`, { field: "body.id" });
        }
        // Configuration first, then the record: the leader forgets records of servers not in the configuration.
        const already = current !== undefined && (current.suffrage === "voter") === voter;
        const { index } = already
          ? { index: node.getConfiguration().index }
          : voter
            ? await node.addVoter(body.id, body.raft, 0, deps.timeoutMs)
            : await node.addNonvoter(body.id, body.raft, 0, deps.timeoutMs);
        const record = proposer.memberRecords().get(body.id);
        const plugins = [...(body.plugins ?? record?.plugins ?? deps.plugins)].sort();
        if (!recordSays(record, body.http, plugins)) {
          await proposer.propose(HOST_PLUGIN, "member", { id: body.id, http: body.http, plugins }, { timeoutMs: deps.timeoutMs });
        }
        if (already) return { index, joined: false };
        return { index, joined: true };
      },
      {
        body: t.Object({ id: nodeId, raft: hostPort, http: hostPort, voter: t.Optional(t.Boolean()), plugins: t.Optional(t.Array(t.String())) }),
        detail: { summary: "Add a voter (or a non-voter with voter: false); joining again with the same id and address is a no-op" },
      },
    )
    .put(
      "/v1/cluster/members/:id",
      async ({ params, body }) => {
        const { index } = await proposer.propose(HOST_PLUGIN, "member", { id: params.id, http: body.http, plugins: body.plugins }, { timeoutMs: deps.timeoutMs });
        return { index };
      },
      { params: t.Object({ id: nodeId }), body: t.Object({ http: hostPort, plugins: t.Array(t.String()) }), detail: { summary: "Record a member's HTTP address and plugins (nodes do this for themselves)" } },
    )
    .delete(
      "/v1/cluster/members/:id",
      async ({ params }) => {
        const known = node.getConfiguration().configuration.servers.some((s) => s.id === params.id);
        if (!known) throw new ApiError(404, "MEMBER_NOT_FOUND", `no member with id ${params.id}`, { field: "id" });
        const removingSelf = params.id === node.id;
        if (!removingSelf) await proposer.propose(HOST_PLUGIN, "forget", { id: params.id }, { timeoutMs: deps.timeoutMs });
        const { index } = await node.removeServer(params.id, 0, deps.timeoutMs);
        return { index, removed: params.id };
      },
      { params: t.Object({ id: nodeId }), detail: { summary: "Remove a member; removing the leader makes it step down once the change commits" } },
    )
    .post(
      "/v1/cluster/check-hash",
      async () => {
        // The corruption check (src/server/corruption-check.ts): each node hashes its state at this entry; one that differs from the majority stops.
        const voters = node.getConfiguration().configuration.servers.filter((s) => s.suffrage === "voter").length;
        const { index } = await proposer.propose(HOST_PLUGIN, "checkHash", { voters }, { timeoutMs: deps.timeoutMs });
        return { index };
      },
      { detail: { summary: "Start a corruption check now: every member hashes its state at the returned index; a member whose hash differs from the majority's stops (RELIABILITY.md)" } },
    )
    .post(
      "/v1/cluster/transfer-leadership",
      async ({ body }) => {
        const leader = (await node.leadershipTransfer(body?.id, { timeoutMs: deps.timeoutMs })) as { id: string; address: string };
        return { leader: { id: leader.id, raft: leader.address, http: proposer.memberRecords().get(leader.id)?.http ?? null } };
      },
      { body: t.Optional(t.Object({ id: t.Optional(nodeId) })), detail: { summary: "Hand leadership to the named voter, or the most up-to-date one" } },
    )
    .get(
      "/v1/cluster/backup",
      async () => {
        // Everything committed before the call is applied here first, then the image is taken at once.
        await node.barrier({ timeoutMs: deps.timeoutMs });
        const backup = encodeBackup(deps.host.snapshot());
        return new Response(backup, { headers: { "content-type": "application/octet-stream", "content-disposition": 'attachment; filename="pontoon.backup"' } });
      },
      { detail: { summary: "A consistent backup of every plugin's state, taken on the leader (pontoon snapshot save)" } },
    )
    .post(
      "/v1/cluster/restore",
      async ({ request, query }) => {
        let image: Uint8Array;
        let header: BackupHeader;
        try {
          ({ image, header } = decodeBackup(new Uint8Array(await request.arrayBuffer())));
        } catch (error) {
          if (error instanceof BackupError) throw new ApiError(400, error.code, error.message, { field: "body" });
          throw error;
        }
        const ours = [...deps.plugins].sort().join(", ");
        if ([...header.plugins].sort().join(", ") !== ours) {
          throw new ApiError(409, "PLUGIN_MISMATCH", `the backup holds plugins [${header.plugins.join(", ")}] but this cluster runs [${ours}]`);
        }
        const mismatch = imageMismatch(deps.host.database, image);
        if (mismatch) throw new ApiError(409, "SCHEMA_MISMATCH", mismatch);
        const migrations = deps.plugins.flatMap((name) => (deps.host.plugin(name)?.definition.migrations as string[] | undefined) ?? []);
        const rows = pluginRows(deps.host.database, migrations);
        if (rows > 0 && query.force === undefined) {
          throw new ApiError(409, "CLUSTER_NOT_EMPTY", `this cluster already holds ${rows} rows of plugin state; restoring replaces all of it: add ?force (pontoon snapshot restore --force) if that is what you want`);
        }
        const { index } = await proposer.propose(HOST_PLUGIN, "restore", { image }, { timeoutMs: deps.timeoutMs });
        return { index, restoredFrom: { appliedIndex: header.appliedIndex, createdAt: header.createdAt, bytes: header.bytes } };
      },
      {
        parse: "none",
        query: t.Object({ force: t.Optional(t.String({ description: "present: replace a cluster that already holds data" })) }),
        detail: { summary: "Load a backup (pontoon snapshot save) into this cluster, replacing every plugin's state, in one Raft entry" },
      },
    )
    .get(
      "/v1/cluster/read-index",
      async () => ({ index: await proposer.readable("linearizable", { timeoutMs: deps.timeoutMs }) }),
      { detail: { summary: "The leader's commit index, confirmed by a quorum (ReadIndex): a node that has applied it may serve a linearizable read" } },
    )
    .post(
      "/v1/cluster/snapshot",
      async () => ({ snapshot: await node.snapshot() }),
      { detail: { summary: "Take a snapshot now and compact the log behind it" } },
    );
}
