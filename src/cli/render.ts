// `pontoon render --prefix P --out DIR`: the keys under P written out as
// files (key P + "a/b.yaml" is DIR/a/b.yaml, its exact bytes), each replaced
// atomically (written beside it, renamed over it) so an app never reads half
// a file, and kept in step with a watch: a put rewrites its file, a delete
// removes it. After each change, `--exec` runs a reload command.

import { mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { PontoonClient, Watch } from "../client/index.ts";

export interface RenderOptions {
  prefix: string;
  /** Keep the files in step (otherwise write them once and return). */
  watch: boolean;
  /** A shell command run after each change (sh -c), e.g. "nginx -s reload". */
  exec?: string;
  log: (line: string) => void;
}

export interface RenderHandle {
  close(): Promise<void>;
}

/** The file a key becomes, or null for a key that cannot be a safe path ("." or ".." segments). */
function fileFor(out: string, prefix: string, key: string): string | null {
  const rest = key.slice(prefix.length);
  const parts = rest.split("/");
  if (rest === "" || parts.some((p) => p === "." || p === ".." || p === "")) return null;
  return join(out, ...parts);
}

function writeAtomically(file: string, bytes: Uint8Array): void {
  mkdirSync(dirname(file), { recursive: true });
  const temp = `${file}.${process.pid}.tmp`;
  writeFileSync(temp, bytes);
  renameSync(temp, file);
}

export async function renderPrefix(client: PontoonClient, out: string, options: RenderOptions): Promise<RenderHandle> {
  const { prefix } = options;
  const list = await client.list(prefix);
  for (const entry of list.items) {
    const file = fileFor(out, prefix, entry.key);
    if (!file) {
      options.log(`skipped ${entry.key}: not a safe file name`);
      continue;
    }
    writeAtomically(file, (await client.getBytes(entry.key))!);
  }
  options.log(`rendered ${list.items.length} keys under ${prefix || "(every key)"} into ${out} at index ${list.index}`);
  await reload(options);
  if (!options.watch) return { close: async () => {} };

  let queue = Promise.resolve();
  const w: Watch = client.watch(
    prefix,
    (event) => {
      queue = queue
        .then(async () => {
          if (event.type === "reset") {
            // Changes were lost to history: write everything as it is now.
            for (const item of event.items) {
              const file = fileFor(out, prefix, item.key);
              const bytes = file ? await client.getBytes(item.key) : null;
              if (file && bytes) writeAtomically(file, bytes);
            }
          } else {
            const file = fileFor(out, prefix, event.key);
            if (!file) return options.log(`skipped ${event.key}: not a safe file name`);
            if (event.type === "delete") rmSync(file, { force: true });
            else {
              // The event carries the value as text; the file gets the stored bytes (read
              // linearizably: the client may ask another node than the one watched).
              const bytes = await client.getBytes(event.key);
              if (bytes === null) return; // deleted since: its delete event follows
              writeAtomically(file, bytes);
            }
            options.log(`${event.type} ${event.key} -> ${file} (index ${event.index})`);
          }
          await reload(options);
        })
        .catch((error: unknown) => options.log(`render: ${error instanceof Error ? error.message : String(error)}`));
    },
    { after: list.index },
  );
  return {
    close: async () => {
      w.close();
      await w.closed;
      await queue;
    },
  };
}

async function reload(options: RenderOptions): Promise<void> {
  if (!options.exec) return;
  const proc = Bun.spawn(["sh", "-c", options.exec], { stdout: "inherit", stderr: "inherit" });
  const code = await proc.exited;
  if (code !== 0) options.log(`--exec ${JSON.stringify(options.exec)} exited with ${code}`);
}
