// Damage to a node's files, the way a failing disk or an operator's mistake
// leaves it: bytes cut off the end, one byte flipped, a page header
// overwritten. Every injector checks that it really changed something, so a
// test cannot pass because the damage missed.

import { Database } from "bun:sqlite";
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Flips bits of the byte at `offset` (default: the 0x20 bit, which keeps ASCII printable). */
export function flipByte(path: string, offset: number, mask = 0x20): void {
  const bytes = readFileSync(path);
  if (offset < 0 || offset >= bytes.length) throw new Error(`offset ${offset} is outside ${path} (${bytes.length} bytes)`);
  bytes[offset]! ^= mask;
  writeFileSync(path, bytes);
}

/** Cuts the file to `size` bytes. */
export function truncateTo(path: string, size: number): void {
  const before = statSync(path).size;
  if (size >= before) throw new Error(`${path} is ${before} bytes; cutting it to ${size} would not shorten it`);
  truncateSync(path, size);
}

/** Where `text` first occurs in the file; throws when it does not (the fault would miss). */
export function offsetOf(path: string, text: string): number {
  const at = readFileSync(path).indexOf(Buffer.from(text));
  if (at < 0) throw new Error(`"${text}" is not in ${path}`);
  return at;
}

/** Overwrites every occurrence of `text` with `replacement` (same length); returns how many there were. */
export function replaceAll(path: string, text: string, replacement: string): number {
  if (Buffer.byteLength(text) !== Buffer.byteLength(replacement)) throw new Error("the replacement must keep the length");
  const bytes = readFileSync(path);
  const from = Buffer.from(text);
  let count = 0;
  for (let at = bytes.indexOf(from); at >= 0; at = bytes.indexOf(from, at + 1), count++) bytes.write(replacement, at);
  writeFileSync(path, bytes);
  return count;
}

/** Byte offset of the first page of `table`'s b-tree in a SQLite file (read from a copy, so the file is not touched). */
export function rootPageOffset(path: string, table: string): number {
  const dir = mkdtempSync(join(tmpdir(), "pontoon-page-"));
  try {
    const copy = join(dir, "copy.db");
    copyFileSync(path, copy);
    if (existsSync(`${path}-wal`)) copyFileSync(`${path}-wal`, `${copy}-wal`);
    const db = new Database(copy);
    try {
      const root = db.query<{ rootpage: number }, [string]>("SELECT rootpage FROM sqlite_master WHERE name = ?").get(table)?.rootpage;
      if (!root) throw new Error(`table ${table} is not in ${path}`);
      const pageSize = db.query<{ page_size: number }, []>("PRAGMA page_size").get()!.page_size;
      return (root - 1) * pageSize;
    } finally {
      db.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The newest snapshot file of a data directory. */
export function newestSnapshot(dataDir: string): string {
  const names = readdirSync(join(dataDir, "snapshots"))
    .filter((n) => n.endsWith(".snap"))
    .sort();
  if (names.length === 0) throw new Error(`${dataDir} has no snapshot`);
  return join(dataDir, "snapshots", names[names.length - 1]!);
}
