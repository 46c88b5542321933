// The naming tables and every statement on them: apply, the routes, the
// leader's sweep, the Consul and DNS views all read through here.

import type { Database } from "../../src/fsm/sdk.ts";
import type { CheckSpec, HealthStatus, Rules } from "./commands.ts";

export const migrations = [
  // One row per instance. Health is two parts, both replicated only when they
  // change: the TTL's (heartbeats) and the active check's; the instance is
  // passing when both are. Times are the leader's clock (ms).
  `CREATE TABLE naming_instances (
     service TEXT NOT NULL,
     id TEXT NOT NULL,
     address TEXT NOT NULL,
     port INTEGER NOT NULL,
     weight INTEGER NOT NULL,
     tags TEXT NOT NULL,
     meta TEXT NOT NULL,
     ttl_ms INTEGER,
     deregister_after_ms INTEGER NOT NULL,
     check_spec TEXT,
     ttl_status TEXT NOT NULL CHECK (ttl_status IN ('passing', 'critical')),
     check_status TEXT NOT NULL CHECK (check_status IN ('passing', 'critical')),
     check_output TEXT NOT NULL DEFAULT '',
     renewed_at INTEGER NOT NULL,
     ttl_critical_since INTEGER,
     create_index INTEGER NOT NULL,
     modify_index INTEGER NOT NULL,
     PRIMARY KEY (service, id)
   ) WITHOUT ROWID;
   CREATE INDEX naming_instances_with_ttl ON naming_instances (service, id) WHERE ttl_ms IS NOT NULL;
   CREATE INDEX naming_instances_with_check ON naming_instances (service, id) WHERE check_spec IS NOT NULL;`,
  // The index of the last change to each service (kept after its last
  // instance goes, so a blocking query's index never moves back).
  `CREATE TABLE naming_services (service TEXT PRIMARY KEY, modify_index INTEGER NOT NULL) WITHOUT ROWID`,
  `CREATE TABLE naming_rules (service TEXT PRIMARY KEY, rules TEXT NOT NULL, modify_index INTEGER NOT NULL) WITHOUT ROWID`,
];

/** What a registration says of an instance. */
export interface Registration {
  service: string;
  id: string;
  address: string;
  port: number;
  weight: number;
  tags: string[];
  meta: Record<string, string>;
  ttlMs: number | null;
  deregisterAfterMs: number;
  check: CheckSpec | null;
}

/** An instance as stored: its registration, its health, and its versions. */
export interface Instance extends Registration {
  status: HealthStatus;
  ttlStatus: HealthStatus;
  checkStatus: HealthStatus;
  checkOutput: string;
  createIndex: number;
  modifyIndex: number;
}

interface Row {
  service: string;
  id: string;
  address: string;
  port: number;
  weight: number;
  tags: string;
  meta: string;
  ttl_ms: number | null;
  deregister_after_ms: number;
  check_spec: string | null;
  ttl_status: HealthStatus;
  check_status: HealthStatus;
  check_output: string;
  create_index: number;
  modify_index: number;
}

const COLUMNS = "service, id, address, port, weight, tags, meta, ttl_ms, deregister_after_ms, check_spec, ttl_status, check_status, check_output, create_index, modify_index";

const toInstance = (r: Row): Instance => ({
  service: r.service,
  id: r.id,
  address: r.address,
  port: r.port,
  weight: r.weight,
  tags: JSON.parse(r.tags) as string[],
  meta: JSON.parse(r.meta) as Record<string, string>,
  ttlMs: r.ttl_ms,
  deregisterAfterMs: r.deregister_after_ms,
  check: r.check_spec === null ? null : (JSON.parse(r.check_spec) as CheckSpec),
  status: r.ttl_status === "passing" && r.check_status === "passing" ? "passing" : "critical",
  ttlStatus: r.ttl_status,
  checkStatus: r.check_status,
  checkOutput: r.check_output,
  createIndex: r.create_index,
  modifyIndex: r.modify_index,
});

export function getInstance(db: Database, service: string, id: string): Instance | null {
  const row = db.query<Row, [string, string]>(`SELECT ${COLUMNS} FROM naming_instances WHERE service = ? AND id = ?`).get(service, id);
  return row ? toInstance(row) : null;
}

/** The service's instances by id; only the passing ones with `passingOnly`. */
export function listInstances(db: Database, service: string, passingOnly = false): Instance[] {
  const where = passingOnly ? " AND ttl_status = 'passing' AND check_status = 'passing'" : "";
  return db.query<Row, [string]>(`SELECT ${COLUMNS} FROM naming_instances WHERE service = ?${where} ORDER BY id`).all(service).map(toInstance);
}

export interface ServiceSummary {
  name: string;
  instances: number;
  passing: number;
  tags: string[];
}

/** Every service that has instances, by name, with its tags (the union of its instances'). */
export function listServices(db: Database): ServiceSummary[] {
  const rows = db
    .query<{ service: string; tags: string; passing: number }, []>(
      "SELECT service, tags, (ttl_status = 'passing' AND check_status = 'passing') AS passing FROM naming_instances ORDER BY service",
    )
    .all();
  const out: ServiceSummary[] = [];
  let current: (ServiceSummary & { tagSet: Set<string> }) | undefined;
  for (const r of rows) {
    if (current?.name !== r.service) {
      if (current) out.push(summary(current));
      current = { name: r.service, instances: 0, passing: 0, tags: [], tagSet: new Set() };
    }
    current.instances++;
    current.passing += r.passing;
    if (r.tags !== "[]") for (const tag of JSON.parse(r.tags) as string[]) current.tagSet.add(tag);
  }
  if (current) out.push(summary(current));
  return out;
}

const summary = (s: ServiceSummary & { tagSet: Set<string> }): ServiceSummary => ({ name: s.name, instances: s.instances, passing: s.passing, tags: [...s.tagSet].sort() });

/** Index of the last change to the service's instances or rules (0: never). */
export function serviceIndex(db: Database, service: string): number {
  return db.query<{ modify_index: number }, [string]>("SELECT modify_index FROM naming_services WHERE service = ?").get(service)?.modify_index ?? 0;
}

/** Index of the last change to any service. */
export function catalogIndex(db: Database): number {
  return db.query<{ idx: number | null }, []>("SELECT max(modify_index) AS idx FROM naming_services").get()?.idx ?? 0;
}

export function touchService(db: Database, service: string, index: number): void {
  db.query("INSERT INTO naming_services (service, modify_index) VALUES (?1, ?2) ON CONFLICT(service) DO UPDATE SET modify_index = excluded.modify_index").run(service, index);
}


/**
 * Writes the instance. A registration counts as a sign of life: the TTL part
 * is passing and counted from `at`; the check part keeps its status while the
 * check is unchanged, and is passing until the leader's first probe says otherwise.
 */
export function putInstance(db: Database, r: Registration, index: number, at: number): boolean {
  const before = db.query<{ check_spec: string | null; check_status: HealthStatus; check_output: string }, [string, string]>(
    "SELECT check_spec, check_status, check_output FROM naming_instances WHERE service = ? AND id = ?",
  ).get(r.service, r.id);
  const spec = r.check === null ? null : JSON.stringify(r.check);
  const keepCheck = before !== null && before.check_spec === spec;
  db.query(
    `INSERT INTO naming_instances (service, id, address, port, weight, tags, meta, ttl_ms, deregister_after_ms, check_spec, ttl_status, check_status, check_output, renewed_at, ttl_critical_since, create_index, modify_index)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 'passing', ?11, ?12, ?13, NULL, ?14, ?14)
     ON CONFLICT(service, id) DO UPDATE SET address = excluded.address, port = excluded.port, weight = excluded.weight, tags = excluded.tags, meta = excluded.meta,
       ttl_ms = excluded.ttl_ms, deregister_after_ms = excluded.deregister_after_ms, check_spec = excluded.check_spec, ttl_status = 'passing',
       check_status = excluded.check_status, check_output = excluded.check_output, renewed_at = excluded.renewed_at, ttl_critical_since = NULL, modify_index = excluded.modify_index`,
  ).run(
    r.service,
    r.id,
    r.address,
    r.port,
    r.weight,
    JSON.stringify(r.tags),
    JSON.stringify(r.meta),
    r.ttlMs,
    r.deregisterAfterMs,
    spec,
    keepCheck ? before.check_status : "passing",
    keepCheck ? before.check_output : "",
    at,
    index,
  );
  touchService(db, r.service, index);
  return before === null;
}

export function deleteInstance(db: Database, service: string, id: string, index: number): boolean {
  const gone = db.query("DELETE FROM naming_instances WHERE service = ? AND id = ?").run(service, id).changes > 0;
  if (gone) touchService(db, service, index);
  return gone;
}

export function instanceModifyIndex(db: Database, service: string, id: string): number | null {
  return db.query<{ modify_index: number }, [string, string]>("SELECT modify_index FROM naming_instances WHERE service = ? AND id = ?").get(service, id)?.modify_index ?? null;
}

export function setTtlStatus(db: Database, service: string, id: string, status: HealthStatus, at: number, index: number): void {
  if (status === "passing") {
    db.query("UPDATE naming_instances SET ttl_status = 'passing', renewed_at = ?3, ttl_critical_since = NULL, modify_index = ?4 WHERE service = ?1 AND id = ?2").run(service, id, at, index);
  } else {
    db.query("UPDATE naming_instances SET ttl_status = 'critical', ttl_critical_since = ?3, modify_index = ?4 WHERE service = ?1 AND id = ?2").run(service, id, at, index);
  }
}

export function setCheckStatus(db: Database, service: string, id: string, status: HealthStatus, output: string, index: number): void {
  db.query("UPDATE naming_instances SET check_status = ?3, check_output = ?4, modify_index = ?5 WHERE service = ?1 AND id = ?2").run(service, id, status, output, index);
}

/** What the leader's TTL sweep needs of each instance with a TTL. */
export interface TtlRow {
  service: string;
  id: string;
  ttl_ms: number;
  ttl_status: HealthStatus;
  renewed_at: number;
  ttl_critical_since: number | null;
  deregister_after_ms: number;
  modify_index: number;
}

export function ttlRows(db: Database): TtlRow[] {
  return db
    .query<TtlRow, []>("SELECT service, id, ttl_ms, ttl_status, renewed_at, ttl_critical_since, deregister_after_ms, modify_index FROM naming_instances WHERE ttl_ms IS NOT NULL")
    .all();
}

/** The TTL rows of one service, for its listing's countdowns. */
export function serviceTtlRows(db: Database, service: string): TtlRow[] {
  return db
    .query<TtlRow, [string]>("SELECT service, id, ttl_ms, ttl_status, renewed_at, ttl_critical_since, deregister_after_ms, modify_index FROM naming_instances WHERE service = ? AND ttl_ms IS NOT NULL")
    .all(service);
}

/** What the leader's checker needs of each instance with an active check. */
export interface CheckRow {
  service: string;
  id: string;
  check_spec: string;
  check_status: HealthStatus;
  modify_index: number;
}

export function checkRows(db: Database): CheckRow[] {
  return db.query<CheckRow, []>("SELECT service, id, check_spec, check_status, modify_index FROM naming_instances WHERE check_spec IS NOT NULL").all();
}

export function getRules(db: Database, service: string): { rules: Rules; modifyIndex: number } | null {
  const row = db.query<{ rules: string; modify_index: number }, [string]>("SELECT rules, modify_index FROM naming_rules WHERE service = ?").get(service);
  return row ? { rules: JSON.parse(row.rules) as Rules, modifyIndex: row.modify_index } : null;
}

export function putRules(db: Database, service: string, rules: Rules, index: number): void {
  db.query("INSERT INTO naming_rules (service, rules, modify_index) VALUES (?1, ?2, ?3) ON CONFLICT(service) DO UPDATE SET rules = excluded.rules, modify_index = excluded.modify_index").run(
    service,
    JSON.stringify(rules),
    index,
  );
  touchService(db, service, index);
}

export function deleteRules(db: Database, service: string, index: number): boolean {
  const gone = db.query("DELETE FROM naming_rules WHERE service = ?").run(service).changes > 0;
  if (gone) touchService(db, service, index);
  return gone;
}
