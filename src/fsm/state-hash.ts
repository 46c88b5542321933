// A hash of the replicated state in fsm.db: every plugin table and the
// member records, row by row in primary-key order, so two nodes that applied
// the same entries get the same hash however their pages are laid out. SQLite
// checks its page structure (quick_check) but not the values in it: this is
// how a node finds that a value changed on its disk (etcd's corruption check
// compares a hash of the key-value store the same way).
//
// Hashing 100k keys takes a second or more, too long for the apply loop
// (heartbeats run on the same thread), so the host copies the database at
// the checked index (serialize: a memory copy) and a worker hashes the copy.

import { Database } from "bun:sqlite";

/** Tables that are not replicated state: the applied index and which migrations ran differ by node and by moment. */
const LOCAL_TABLES = new Set(["_pontoon_meta", "_pontoon_migrations"]);

/** The hash (hex, 16 digits) of the replicated tables in `db`. */
export function stateHash(db: Database): string {
  const tables = db
    .query<{ name: string }, []>("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
    .all()
    .map((row) => row.name)
    .filter((name) => !LOCAL_TABLES.has(name));
  let h = 0n;
  for (const table of tables) {
    const quoted = quote(table);
    const columns = db.query<{ name: string; pk: number }, []>(`PRAGMA table_info(${quoted})`).all();
    // Primary-key order is content order; without one, sort by every column (rowids may differ between nodes).
    const key = columns.filter((c) => c.pk > 0).sort((a, b) => a.pk - b.pk);
    const order = (key.length > 0 ? key : columns).map((c) => quote(c.name)).join(", ");
    h = Bun.hash.wyhash(`\u0000table ${table}`, h);
    for (const row of db.query<unknown[], []>(`SELECT * FROM ${quoted} ORDER BY ${order}`).values()) {
      for (const value of row) h = hashValue(value, h);
      h = Bun.hash.wyhash("\u0000row", h);
    }
  }
  return h.toString(16).padStart(16, "0");
}

/** The hash of a serialized fsm.db (as PluginHost takes it at a check); `owned`: the bytes may be changed (no copy). */
export function imageHash(image: Uint8Array, owned = false): string {
  // The image says WAL in its header (bytes 18-19), which an in-memory
  // database cannot open; as a rollback-journal file it reads the same pages.
  const copy = owned ? image : image.slice();
  copy[18] = 1;
  copy[19] = 1;
  const db = Database.deserialize(copy, true);
  try {
    return stateHash(db);
  } finally {
    db.close();
  }
}

/** imageHash on a worker thread, so the node keeps serving while it runs. */
export function imageHashInWorker(image: Uint8Array): Promise<string> {
  const worker = new Worker(new URL("./state-hash-worker.ts", import.meta.url));
  return new Promise<string>((resolve, reject) => {
    worker.onmessage = (event: MessageEvent<{ hash?: string; error?: string }>) => {
      if (event.data.hash !== undefined) resolve(event.data.hash);
      else reject(new Error(event.data.error ?? "the hashing worker failed"));
    };
    worker.onerror = (event) => reject(new Error(`the hashing worker failed: ${event.message}`));
    // Hand the copy over rather than cloning it, unless it shares its buffer with other data.
    const own = image.byteOffset === 0 && image.byteLength === image.buffer.byteLength;
    worker.postMessage(image, own ? [image.buffer as ArrayBuffer] : []);
  }).finally(() => worker.terminate());
}

function hashValue(value: unknown, h: bigint): bigint {
  // A type tag before each value: "1" the number and "1" the text must differ.
  if (value === null) return Bun.hash.wyhash("\u0000n", h);
  if (typeof value === "string") return Bun.hash.wyhash(value, Bun.hash.wyhash(`\u0000s${value.length}`, h));
  if (value instanceof Uint8Array) return Bun.hash.wyhash(value, Bun.hash.wyhash(`\u0000b${value.length}`, h));
  return Bun.hash.wyhash(String(value), Bun.hash.wyhash("\u0000i", h));
}

function quote(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
