// Backups: the state of every plugin at one applied index, as a file an
// operator keeps (`pontoon snapshot save`), and loading one into a cluster
// (`pontoon snapshot restore`), replicated as one host command so every node
// loads the same rows at the same point of its log.
//
//   file = "PNTNBKP1" | u32 header length | header JSON | state machine image
//   header = { version, sha256 (hex, of the image), bytes, appliedIndex, plugins, createdAt }

import { Database } from "bun:sqlite";
import { createHash } from "node:crypto";
import { decodeSnapshotImage, SnapshotImageError } from "./snapshot-image.ts";

const MAGIC = new TextEncoder().encode("PNTNBKP1");

export interface BackupHeader {
  version: 1;
  sha256: string;
  bytes: number;
  appliedIndex: number;
  plugins: string[];
  createdAt: string;
}

export class BackupError extends Error {
  readonly code = "BACKUP_UNUSABLE";
  constructor(detail: string) {
    super(`the backup cannot be used: ${detail}`);
    this.name = "BackupError";
  }
}

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

/** A backup file around a state machine image (PluginHost.snapshot()). */
export function encodeBackup(image: Uint8Array, now = new Date()): Uint8Array {
  const { header } = decodeSnapshotImage(image);
  const json = new TextEncoder().encode(
    JSON.stringify({ version: 1, sha256: sha256(image), bytes: image.length, appliedIndex: header.appliedIndex, plugins: header.plugins, createdAt: now.toISOString() } satisfies BackupHeader),
  );
  const out = new Uint8Array(MAGIC.length + 4 + json.length + image.length);
  out.set(MAGIC, 0);
  new DataView(out.buffer).setUint32(MAGIC.length, json.length);
  out.set(json, MAGIC.length + 4);
  out.set(image, MAGIC.length + 4 + json.length);
  return out;
}

/** The header and the image, checked: magic, lengths, checksum, and an image that opens. */
export function decodeBackup(file: Uint8Array): { header: BackupHeader; image: Uint8Array } {
  if (file.length < MAGIC.length + 4 || !MAGIC.every((b, i) => file[i] === b)) throw new BackupError("it is not a Pontoon backup (pontoon snapshot save writes one)");
  const length = new DataView(file.buffer, file.byteOffset, file.byteLength).getUint32(MAGIC.length);
  const start = MAGIC.length + 4;
  if (start + length > file.length) throw new BackupError("its header is truncated");
  let header: BackupHeader;
  try {
    header = JSON.parse(new TextDecoder().decode(file.subarray(start, start + length))) as BackupHeader;
  } catch {
    throw new BackupError("its header is not JSON");
  }
  if (header.version !== 1) throw new BackupError(`format version ${header.version}; this build reads 1`);
  const image = file.subarray(start + length);
  if (image.length !== header.bytes) throw new BackupError(`it holds ${image.length} bytes of state where its header says ${header.bytes}: truncated or padded`);
  if (sha256(image) !== header.sha256) throw new BackupError("its checksum does not match: the file is damaged");
  try {
    decodeSnapshotImage(image);
  } catch (error) {
    throw new BackupError(error instanceof SnapshotImageError ? error.message : String(error));
  }
  return { header, image };
}

/** Plugin tables: every table but SQLite's and the host's own (which stay the cluster's: members, applied index). */
export function pluginTables(db: Database): string[] {
  return db
    .query<{ name: string }, []>("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '\\_pontoon\\_%' ESCAPE '\\' ORDER BY name")
    .all()
    .map((r) => r.name);
}

/**
 * Rows in the plugin tables beyond what their migrations put there (kv's
 * bookkeeping row, say): 0 for a cluster nothing was ever written to.
 */
export function pluginRows(db: Database, migrations: readonly string[]): number {
  const fresh = new Database(":memory:");
  try {
    for (const sql of migrations) fresh.exec(sql);
    const count = (d: Database, t: string) => d.query<{ n: number }, []>(`SELECT count(*) AS n FROM "${t}"`).get()!.n;
    const baseline = new Map(pluginTables(fresh).map((t) => [t, count(fresh, t)]));
    return pluginTables(db).reduce((sum, t) => sum + Math.max(0, count(db, t) - (baseline.get(t) ?? 0)), 0);
  } finally {
    fresh.close();
  }
}

/**
 * Replaces the rows of every plugin table with the image's, inside the
 * caller's transaction. Tables are matched by name and column list; the
 * leader checks they all match before proposing, so this never has to
 * choose, and every node does the same.
 */
export function loadImage(db: Database, image: Uint8Array): number {
  const source = openImage(image);
  try {
    let rows = 0;
    for (const table of pluginTables(source)) {
      const columns = columnsOf(source, table);
      if (columnsOf(db, table).join() !== columns.join()) continue;
      db.exec(`DELETE FROM "${table}"`);
      const list = columns.map((c) => `"${c}"`).join(", ");
      const insert = db.query(`INSERT INTO "${table}" (${list}) VALUES (${columns.map(() => "?").join(", ")})`);
      for (const row of source.query<Record<string, unknown>, []>(`SELECT ${list} FROM "${table}"`).values()) {
        insert.run(...(row as never[]));
        rows++;
      }
    }
    return rows;
  } finally {
    source.close();
  }
}

/** Why the image does not fit this node's tables, or null when every table matches. */
export function imageMismatch(db: Database, image: Uint8Array): string | null {
  const source = openImage(image);
  try {
    for (const table of pluginTables(source)) {
      const theirs = columnsOf(source, table).join(", ");
      const ours = columnsOf(db, table).join(", ");
      if (theirs !== ours) return `table ${table} has columns (${theirs}) in the backup but (${ours}) here: back up and restore with the same Pontoon version`;
    }
    return null;
  } finally {
    source.close();
  }
}

/**
 * The image's database, in memory. fsm.db runs in WAL mode, and SQLite will
 * not open a WAL-mode image without a file beside it: bytes 18 and 19 of the
 * header (the write and read format versions, 2 for WAL) are set back to 1,
 * the rollback-journal mode, on a copy.
 */
function openImage(image: Uint8Array): Database {
  const bytes = new Uint8Array(decodeSnapshotImage(image).database);
  if (bytes.length > 19) bytes[18] = bytes[19] = 1;
  return Database.deserialize(bytes);
}

function columnsOf(db: Database, table: string): string[] {
  return db.query<{ name: string }, []>(`SELECT name FROM pragma_table_info('${table.replaceAll("'", "''")}') ORDER BY cid`).all().map((r) => r.name);
}
