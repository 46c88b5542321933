// The ipvs plugin's tables in fsm.db. A record is kept as its canonical JSON
// (the table is small: hundreds of services, not millions) beside the columns
// that identify it, so adding a setting needs no migration.

import type { Database } from "../../src/fsm/sdk.ts";
import type { RealServer, Service } from "./model.ts";

export const migrations = [
  `CREATE TABLE ipvs_services (
     id TEXT PRIMARY KEY,
     spec TEXT NOT NULL,
     create_index INTEGER NOT NULL,
     modify_index INTEGER NOT NULL
   ) WITHOUT ROWID`,
  `CREATE TABLE ipvs_servers (
     service_id TEXT NOT NULL,
     address TEXT NOT NULL,
     port INTEGER NOT NULL,
     spec TEXT NOT NULL,
     PRIMARY KEY (service_id, address, port)
   ) WITHOUT ROWID`,
  // Set by the leader's health checks (setHealth), apart from the configured spec, so an edit keeps it.
  "ALTER TABLE ipvs_servers ADD COLUMN down INTEGER NOT NULL DEFAULT 0",
  // The index of the last command that touched the table: what each node's reconciler polls, one row instead of the whole table.
  "CREATE TABLE ipvs_meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID",
  "INSERT INTO ipvs_meta (name, value) VALUES ('version', 0)",
];

export function tableVersion(db: Database): number {
  return db.query<{ value: number }, []>("SELECT value FROM ipvs_meta WHERE name = 'version'").get()?.value ?? 0;
}

export function setTableVersion(db: Database, index: number): void {
  db.query("UPDATE ipvs_meta SET value = ? WHERE name = 'version'").run(index);
}

/** A real server as reads answer it: whether its health check passes (always true without one). */
export interface ServerEntry extends RealServer {
  healthy: boolean;
}

/** A service with its real servers, as reads answer it. */
export interface ServiceEntry extends Service {
  createIndex: number;
  modifyIndex: number;
  servers: ServerEntry[];
}

/** The weight the kernel gets: 0 while the server's health check fails, the configured weight otherwise. */
export const effectiveWeight = (server: ServerEntry): number => (server.healthy ? server.weight : 0);

type ServiceRow = { spec: string; create_index: number; modify_index: number };

export function getService(db: Database, id: string): ServiceEntry | null {
  const row = db.query<ServiceRow, [string]>("SELECT spec, create_index, modify_index FROM ipvs_services WHERE id = ?").get(id);
  return row ? entryOf(db, row) : null;
}

export function listServices(db: Database): ServiceEntry[] {
  return db.query<ServiceRow, []>("SELECT spec, create_index, modify_index FROM ipvs_services ORDER BY id").all().map((row) => entryOf(db, row));
}

function entryOf(db: Database, row: ServiceRow): ServiceEntry {
  const service = JSON.parse(row.spec) as Service;
  return { ...service, createIndex: row.create_index, modifyIndex: row.modify_index, servers: listServers(db, service.id) };
}

export function listServers(db: Database, serviceId: string): ServerEntry[] {
  return db
    .query<{ spec: string; down: number }, [string]>("SELECT spec, down FROM ipvs_servers WHERE service_id = ? ORDER BY address, port")
    .all(serviceId)
    .map((r) => ({ ...(JSON.parse(r.spec) as RealServer), healthy: r.down === 0 }));
}

export function getServer(db: Database, serviceId: string, address: string, port: number): RealServer | null {
  const row = db.query<{ spec: string }, [string, string, number]>("SELECT spec FROM ipvs_servers WHERE service_id = ? AND address = ? AND port = ?").get(serviceId, address, port);
  return row ? (JSON.parse(row.spec) as RealServer) : null;
}

/** Inserts or replaces the service; a replaced one keeps its createIndex and real servers. */
export function putService(db: Database, service: Service, index: number): void {
  db.query("INSERT INTO ipvs_services (id, spec, create_index, modify_index) VALUES (?1, ?2, ?3, ?3) ON CONFLICT (id) DO UPDATE SET spec = excluded.spec, modify_index = excluded.modify_index").run(
    service.id,
    JSON.stringify(service),
    index,
  );
}

/** A change to a real server is a change to its service: its modifyIndex moves. */
export function touchService(db: Database, serviceId: string, index: number): void {
  db.query("UPDATE ipvs_services SET modify_index = ? WHERE id = ?").run(index, serviceId);
}

export function deleteService(db: Database, id: string): void {
  db.query("DELETE FROM ipvs_servers WHERE service_id = ?").run(id);
  db.query("DELETE FROM ipvs_services WHERE id = ?").run(id);
}

export function putServer(db: Database, serviceId: string, server: RealServer): void {
  db.query("INSERT INTO ipvs_servers (service_id, address, port, spec) VALUES (?1, ?2, ?3, ?4) ON CONFLICT (service_id, address, port) DO UPDATE SET spec = excluded.spec").run(
    serviceId,
    server.address,
    server.port,
    JSON.stringify(server),
  );
}

/** Records a health check's verdict; false when the server is gone or already so. */
export function setHealthy(db: Database, serviceId: string, address: string, port: number, healthy: boolean): boolean {
  return db.query("UPDATE ipvs_servers SET down = ?4 WHERE service_id = ?1 AND address = ?2 AND port = ?3 AND down != ?4").run(serviceId, address, port, healthy ? 0 : 1).changes > 0;
}

export function deleteServer(db: Database, serviceId: string, address: string, port: number): void {
  db.query("DELETE FROM ipvs_servers WHERE service_id = ? AND address = ? AND port = ?").run(serviceId, address, port);
}

/** ipvsadm -C. Returns how many services there were. */
export function clearTable(db: Database): number {
  const n = db.query<{ n: number }, []>("SELECT count(*) AS n FROM ipvs_services").get()!.n;
  db.exec("DELETE FROM ipvs_servers");
  db.exec("DELETE FROM ipvs_services");
  return n;
}
