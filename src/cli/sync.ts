// `pontoon sync DIR --prefix P`: a directory of config files mirrored into
// the keys under P (file a/b.yaml is key P + "a/b.yaml", its bytes the
// value), then kept in step with chokidar: a changed file is one write, a
// deleted file deletes its key. A YAML or JSON file that does not parse is
// refused with its file and line, and nothing is written for it; at start-up
// one bad file means nothing is written at all.

import { watch } from "chokidar";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative, sep } from "node:path";
import { LineCounter, parseDocument } from "yaml";
import type { PontoonClient } from "../client/index.ts";

export interface SyncOptions {
  prefix: string;
  /** Keep watching the directory (otherwise sync once and return). */
  watch: boolean;
  log: (line: string) => void;
}

export interface SyncHandle {
  /** Resolves once the directory is watched (or at once when not watching). */
  readonly ready: Promise<void>;
  close(): Promise<void>;
}

export class SyncRefused extends Error {
  constructor(readonly problems: string[]) {
    super(`nothing was written: ${problems.length} file(s) are not valid:\n${problems.join("\n")}`);
    this.name = "SyncRefused";
  }
}

/** Files under `dir`, as paths relative to it with `/` separators; editor leftovers skipped. */
function filesUnder(dir: string): string[] {
  const out: string[] = [];
  const walk = (at: string): void => {
    for (const entry of readdirSync(at, { withFileTypes: true })) {
      const full = join(at, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.isFile() && !ignored(entry.name)) out.push(relative(dir, full).split(sep).join("/"));
    }
  };
  walk(dir);
  return out.sort();
}

/** Swap files and backups that editors leave beside the file being edited. */
function ignored(name: string): boolean {
  return name.startsWith(".") || name.endsWith("~") || name.endsWith(".swp") || name.endsWith(".tmp");
}

/** Why `bytes` is not a valid file of its kind (by extension), with its line; null when it is. */
export function fileProblem(file: string, bytes: Uint8Array): string | null {
  const lower = file.toLowerCase();
  const isYaml = lower.endsWith(".yaml") || lower.endsWith(".yml");
  const isJson = lower.endsWith(".json");
  if (!isYaml && !isJson) return null;
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return `${file}: not valid UTF-8`;
  }
  if (isJson) {
    try {
      JSON.parse(text);
      return null;
    } catch (error) {
      // JSON.parse names no line; YAML's parser, reading the same text, usually does.
      const where = yamlProblem(text);
      return `${file}${where ? `:${where.line}:${where.col}` : ""}: invalid JSON: ${(error as Error).message}`;
    }
  }
  const problem = yamlProblem(text);
  return problem ? `${file}:${problem.line}:${problem.col}: invalid YAML: ${problem.message}` : null;
}

function yamlProblem(text: string): { line: number; col: number; message: string } | null {
  const lines = new LineCounter();
  const doc = parseDocument(text, { prettyErrors: false, lineCounter: lines, uniqueKeys: true });
  const error = doc.errors[0];
  if (!error) return null;
  const at = lines.linePos(error.pos[0]);
  return { line: at.line, col: at.col, message: error.message.split("\n")[0]! };
}

export async function syncDirectory(client: PontoonClient, dir: string, options: SyncOptions): Promise<SyncHandle> {
  if (!statSync(dir).isDirectory()) throw new Error(`${dir} is not a directory`);
  const prefix = options.prefix;
  const keyOf = (file: string) => prefix + file;

  // Start-up: every file checked first; one bad file and nothing is written.
  const files = filesUnder(dir).map((file) => ({ file, bytes: new Uint8Array(readFileSync(join(dir, file))) }));
  const problems = files.map((f) => fileProblem(f.file, f.bytes)).filter((p): p is string => p !== null);
  if (problems.length > 0) throw new SyncRefused(problems);
  const stored = new Map((await client.list(prefix)).items.map((e) => [e.key, e]));
  let written = 0;
  for (const { file, bytes } of files) {
    const current = stored.get(keyOf(file));
    stored.delete(keyOf(file));
    const storedBytes = current ? await client.getBytes(keyOf(file)) : null;
    if (storedBytes && Buffer.from(storedBytes).equals(bytes)) continue;
    await client.put(keyOf(file), bytes);
    written++;
  }
  // Keys under the prefix with no file: the directory is the source, so they go.
  for (const key of stored.keys()) await client.delete(key);
  options.log(`synced ${files.length} files from ${dir} into ${prefix || "(every key)"}: ${written} written, ${stored.size} deleted`);
  if (!options.watch) return { ready: Promise.resolve(), close: async () => {} };

  const watcher = watch(dir, { ignoreInitial: true, awaitWriteFinish: { stabilityThreshold: 100, pollInterval: 20 }, ignored: (path) => ignored(path.split(sep).at(-1) ?? "") });
  // One change at a time, in the order they happened.
  let queue = Promise.resolve();
  const later = (what: () => Promise<void>) => {
    queue = queue.then(what).catch((error: unknown) => options.log(`sync: ${error instanceof Error ? error.message : String(error)}`));
  };
  const changed = (path: string) =>
    later(async () => {
      const file = relative(dir, path).split(sep).join("/");
      const bytes = new Uint8Array(readFileSync(path));
      const problem = fileProblem(file, bytes);
      if (problem) return options.log(`refused ${problem}; ${keyOf(file)} keeps its value`);
      const index = await client.put(keyOf(file), bytes);
      options.log(`${file} -> ${keyOf(file)} at index ${index}`);
    });
  watcher.on("add", changed);
  watcher.on("change", changed);
  watcher.on("unlink", (path) =>
    later(async () => {
      const file = relative(dir, path).split(sep).join("/");
      const result = await client.delete(keyOf(file));
      options.log(`${file} deleted -> ${keyOf(file)} ${result.deleted ? `deleted at index ${result.index}` : "was not there"}`);
    }),
  );
  return {
    ready: new Promise((resolve) => watcher.once("ready", () => resolve())),
    close: async () => {
      await watcher.close();
      await queue;
    },
  };
}
