// Opening one of our SQLite files (the Raft log, fsm.db): exclusive WAL,
// the durability the caller asks for, its format and version checked, and
// its pages checked. Everything that can go wrong with the file itself is an
// error that names the file and tells the operator what to do, because
// SQLite's own wording ("file is not a database") gives no hint of the remedy.

import { Database, SQLiteError } from "bun:sqlite";
import { mkdirSync, statSync } from "node:fs";
import { dirname } from "node:path";
import { CorruptStorageError, StorageError, StorageIoError, UnsupportedFormatError } from "./errors.ts";

export interface SqliteFileFormat {
  /** The table holding `format` and `version` rows (key TEXT, value TEXT). */
  metaTable: string;
  format: string;
  version: number;
  /** What the file is, for errors: "a Pontoon Raft store". */
  what: string;
  /** Creates a new file's tables, meta table included; format and version are written after. */
  create(db: Database): void;
  /** Runs on an existing file of this format and version (e.g. CREATE TABLE IF NOT EXISTS). */
  upgrade?(db: Database): void;
}

export interface OpenSqliteOptions {
  /** PRAGMAs run after locking and WAL are set: the file's durability and checkpointing. */
  pragmas: readonly string[];
  /** Skip quick_check: the same bytes were checked a moment ago (a restored snapshot). */
  checked?: boolean;
}

/** Maps SQLite's damage and locking errors to ours; anything else passes through unchanged. */
export function translateSqliteError(file: string, error: unknown): unknown {
  if (error instanceof StorageError || !(error instanceof SQLiteError)) return error;
  const code = error.code ?? "";
  if (code.startsWith("SQLITE_NOTADB")) {
    return new CorruptStorageError(file, "it is not a SQLite database (garbage, truncated, or overwritten)");
  }
  if (code.startsWith("SQLITE_CORRUPT")) {
    return new CorruptStorageError(file, `SQLite reports the database is damaged (${error.message})`);
  }
  if (code.startsWith("SQLITE_FULL")) return new StorageIoError(file, `the disk is full (${code})`, true);
  // A file size limit (EFBIG) or a failing device: SQLite cannot tell which.
  if (code.startsWith("SQLITE_IOERR")) return new StorageIoError(file, `the operating system refused the I/O (${code}: ${error.message})`, false);
  if (code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED")) {
    return new StorageError("STORAGE_LOCKED", `${file} is locked by another process; is a second Pontoon node using the same data directory?`);
  }
  return error;
}

/** SQLite errors that come from the disk or the process, not from the statement: the same statement succeeds on a healthy node. */
const ENVIRONMENTAL = ["SQLITE_FULL", "SQLITE_IOERR", "SQLITE_CORRUPT", "SQLITE_NOTADB", "SQLITE_NOMEM", "SQLITE_CANTOPEN", "SQLITE_READONLY", "SQLITE_PERM", "SQLITE_BUSY"];

/**
 * Whether `error` says this node's storage failed rather than the command:
 * the state machine must then stop, not record the failure as the command's
 * outcome (which the other nodes would not share).
 */
export function isEnvironmentalSqliteError(error: unknown): boolean {
  if (!(error instanceof SQLiteError)) return false;
  const code = error.code ?? "";
  return ENVIRONMENTAL.some((prefix) => code.startsWith(prefix));
}

/** Opens (creating if absent) and validates the file; throws our errors, never SQLite's. */
export function openSqliteFile(file: string, format: SqliteFileFormat, options: OpenSqliteOptions): Database {
  if (file !== ":memory:") mkdirSync(dirname(file), { recursive: true });
  let db: Database | undefined;
  try {
    db = new Database(file, { create: true, strict: true });
    // EXCLUSIVE locking before entering WAL: the WAL index then lives in
    // process memory (no -shm file), and a second process pointed at the
    // same data directory fails at open instead of interleaving writes.
    db.exec("PRAGMA locking_mode = EXCLUSIVE");
    // The first statement that reads the header: garbage fails here.
    db.exec("PRAGMA journal_mode = WAL");
    for (const pragma of options.pragmas) db.exec(`PRAGMA ${pragma}`);
    checkFormat(db, file, format);
    if (!options.checked) checkPages(db, file);
    return db;
  } catch (error) {
    try {
      db?.close(true);
    } catch {
      // the original error is the one worth reporting
    }
    throw translateSqliteError(file, error);
  }
}

function checkFormat(db: Database, file: string, format: SqliteFileFormat): void {
  // IMMEDIATE: take the write lock before looking, so creation cannot race.
  db.transaction(() => {
    const tables = db
      .query<{ name: string }, []>("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
      .all()
      .map((row) => row.name);
    if (tables.length === 0) {
      format.create(db);
      const meta = db.query<unknown, [string, string]>(`INSERT INTO ${format.metaTable} (key, value) VALUES (?, ?)`);
      meta.run("format", format.format);
      meta.run("version", String(format.version));
      return;
    }
    if (!tables.includes(format.metaTable)) {
      throw new CorruptStorageError(file, `it is a SQLite database but not ${format.what} (tables: ${tables.join(", ")})`);
    }
    const read = (key: string) => db.query<{ value: string }, [string]>(`SELECT value FROM ${format.metaTable} WHERE key = ?`).get(key)?.value;
    const found = read("format");
    if (found !== format.format) throw new CorruptStorageError(file, `it is not ${format.what} (format is ${JSON.stringify(found)})`);
    const version = read("version") ?? "(none)";
    if (version !== String(format.version)) throw new UnsupportedFormatError(file, version, String(format.version));
    format.upgrade?.(db);
  }).immediate();
}

/**
 * quick_check reads every page and catches a truncated or overwritten file
 * now, at start-up, rather than in the middle of serving.
 */
function checkPages(db: Database, file: string): void {
  // SQLite reads a short last page as zeros and quick_check does not compare
  // the length, so a file cut inside its last page would pass unnoticed.
  // The main file only ever grows and shrinks by whole pages (the WAL holds
  // the rest), so any other length is a truncation.
  if (file !== ":memory:") {
    const pageSize = db.query<{ page_size: number }, []>("PRAGMA page_size").get()!.page_size;
    const size = statSync(file).size;
    if (size % pageSize !== 0) {
      throw new CorruptStorageError(file, `it is ${size} bytes, not a whole number of ${pageSize}-byte pages (truncated)`);
    }
  }
  const problems = db
    .query<{ quick_check: string }, []>("PRAGMA quick_check(5)")
    .all()
    .map((row) => row.quick_check);
  if (problems.length !== 1 || problems[0] !== "ok") {
    throw new CorruptStorageError(file, `SQLite integrity check failed: ${problems.join("; ")}`);
  }
}
