// The ipvs plugin's commands (what goes into the Raft log) and its YAML
// section. A command names services by id (tcp/10.0.0.1/80, fwmark/12) and
// carries the client's specs; apply checks and normalizes them again, so a
// command is valid however it was proposed.

import { Type, type Static } from "@sinclair/typebox";
import type { PluginRuntime } from "../../src/fsm/sdk.ts";
import { serverChanges, serverSpec, serviceChanges, serviceSpec } from "./model.ts";
import type { ServiceEntry } from "./store.ts";

export const ipvsConfig = Type.Object(
  {
    apply: Type.Union([Type.Boolean(), Type.Literal("dry-run")], {
      default: false,
      expected: 'true, false or "dry-run"',
      description: "make this node's kernel table match the replicated one with ipvsadm (dry-run: log the commands instead)",
    }),
    ipvsadm: Type.String({ minLength: 1, default: "ipvsadm", description: "the ipvsadm program: a name looked up on PATH, or a path" }),
    resyncMs: Type.Integer({ minimum: 1000, maximum: 86_400_000, default: 30_000, expected: "an integer 1000-86400000", description: "how often the reconciler also compares when nothing changed (someone may have edited the kernel's table)" }),
  },
  { additionalProperties: false, default: {} },
);
export type IpvsConfig = Static<typeof ipvsConfig>;

const id = Type.String({ maxLength: 128, description: "service id: tcp|udp|sctp/<address>/<port> or fwmark|fwmark6/<mark>" });
const serverKey = { serviceId: id, address: Type.String({ maxLength: 64 }), port: Type.Integer({ minimum: 0, maximum: 65535 }) };

/** One service and its real servers, as an import carries them. */
export const importedService = Type.Object({ service: serviceSpec, servers: Type.Array(serverSpec, { maxItems: 10_000 }) }, { additionalProperties: false });
export type ImportedService = Static<typeof importedService>;

export const ipvsCommands = {
  addService: Type.Object({ service: serviceSpec }),
  editService: Type.Object({ id, changes: serviceChanges }),
  deleteService: Type.Object({ id }),
  addServer: Type.Object({ serviceId: id, server: serverSpec }),
  editServer: Type.Object({ ...serverKey, changes: serverChanges }),
  deleteServer: Type.Object(serverKey),
  /** ipvsadm -C. */
  clear: Type.Object({}),
  /** Health checks' verdicts that changed, proposed by the leader; a server gone since, or without a check, is skipped. */
  setHealth: Type.Object({ changes: Type.Array(Type.Object({ ...serverKey, healthy: Type.Boolean() }), { minItems: 1, maxItems: 10_000 }) }),
  /** A whole table at once (ipvsadm-restore): every service and server, or none. `replace` clears the table first. */
  import: Type.Object({ replace: Type.Boolean(), services: Type.Array(importedService, { maxItems: 10_000 }) }),
};

export interface IpvsResults {
  addService: { index: number; service: ServiceEntry };
  editService: { index: number; service: ServiceEntry };
  deleteService: { index: number };
  addServer: { index: number; service: ServiceEntry };
  editServer: { index: number; service: ServiceEntry };
  deleteServer: { index: number; service: ServiceEntry };
  clear: { index: number; deleted: number };
  setHealth: { index: number; changed: number };
  import: { index: number; services: number; servers: number };
}

export type IpvsRuntime = PluginRuntime<typeof ipvsCommands, IpvsConfig, IpvsResults>;
