// watchConfig on a real file: a saved edit is reloaded and reported as the
// settings applied live and those that need a restart; a broken edit is
// reported and the running config kept. Each test waits for the watcher's
// event; no test sleeps.

import { afterAll, afterEach, describe, expect, it } from "bun:test";
import { mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { configurePlugins } from "../../src/fsm/plugin-loader.ts";
import { changedPaths, watchConfig, type ConfigChange, type ConfigWatcher, type WatchOptions } from "../../src/config/watch.ts";

const root = mkdtempSync(join(tmpdir(), "pontoon-watch-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const BASE = `
node:
  id: node1
raft:
  port: 1111
snapshot:
  threshold: 8192
  interval: 30s
kv:
  maxValueBytes: 1024
log:
  level: info
`;

let watcher: ConfigWatcher | undefined;
afterEach(async () => {
  await watcher?.close();
  watcher = undefined;
});

let fileNumber = 0;
/** A config file with BASE in it, watched; `next()` resolves with the next reported change. */
async function watched(options: Omit<WatchOptions, "debounceMs"> = {}) {
  const file = join(root, `node-${++fileNumber}.yaml`);
  writeFileSync(file, BASE);
  const queue: ConfigChange[] = [];
  let wake: (() => void) | undefined;
  watcher = watchConfig(
    file,
    (change) => {
      queue.push(change);
      wake?.();
    },
    { env: {}, cwd: root, debounceMs: 20, ...options },
  );
  await watcher.ready;
  const next = async (): Promise<ConfigChange> => {
    while (queue.length === 0) await new Promise<void>((resolve) => (wake = resolve));
    return queue.shift()!;
  };
  const edit = (from: string, to: string): void => {
    const before = BASE.replace(from, to);
    if (before === BASE) throw new Error(`test bug: ${from} is not in the file`);
    writeFileSync(file, before);
  };
  return { file, next, edit };
}

describe("watchConfig", () => {
  it("reports log.level, auth.token and the snapshot policy as applied live, the Raft port as needing a restart", async () => {
    const { file, next } = await watched();
    writeFileSync(file, BASE.replace("level: info", "level: debug").replace("threshold: 8192", "threshold: 100").replace("interval: 30s", "interval: 1m").replace("port: 1111", "port: 1112") + "auth:\n  token: t0ken\n");
    const change = await next();
    expect(change.error).toBeUndefined();
    expect(change.live.sort()).toEqual(["auth.token", "log.level", "snapshot.interval", "snapshot.threshold"]);
    // raft.advertise follows the port when none is set.
    expect(change.restartNeeded.sort()).toEqual(["raft.advertise", "raft.port"]);
    expect(change.config!.log.level).toBe("debug");
    expect(change.config!.auth.token).toBe("t0ken");
  });

  it("lists every other changed setting as needing a restart, plugin sections included", async () => {
    const { next, edit } = await watched();
    edit("port: 1111", "port: 1200\n  tickMs: 20");
    const first = await next();
    // The advertised Raft address follows the port when none is set.
    expect(first.restartNeeded.sort()).toEqual(["raft.advertise", "raft.port", "raft.tickMs"]);
    expect(first.live).toEqual([]);
    edit("maxValueBytes: 1024", "maxValueBytes: 2048");
    const second = await next();
    // Compared with the config now running: the file is BASE again apart from kv.
    expect(second.restartNeeded.sort()).toEqual(["kv.maxValueBytes", "raft.advertise", "raft.port", "raft.tickMs"]);
  });

  it("reports a broken edit and keeps the running config, comparing the next good edit with it", async () => {
    const { file, next, edit } = await watched();
    edit("port: 1111", "port: abc");
    const broken = await next();
    expect(broken.config).toBeUndefined();
    expect(broken.error?.code).toBe("BAD_SETTING");
    expect(broken.error?.message).toBe(`raft.port: expected an integer 1-65535, got "abc" (${file.slice(root.length + 1)})`);

    writeFileSync(file, "raft:\n  port: [1111\n");
    const syntax = await next();
    expect(syntax.error?.code).toBe("BAD_YAML");
    expect(syntax.error?.message).toStartWith(`${file.slice(root.length + 1)}:3:1: invalid YAML`);

    edit("level: info", "level: warn");
    const fixed = await next();
    expect(fixed.error).toBeUndefined();
    expect(fixed.live).toEqual(["log.level"]);
    expect(fixed.restartNeeded).toEqual([]);
  });

  it("reports a removed file as an error and reloads it when it is back", async () => {
    const { file, next } = await watched();
    rmSync(file);
    const removed = await next();
    expect(removed.error?.code).toBe("CONFIG_NOT_FOUND");
    writeFileSync(file, BASE.replace("level: info", "level: error"));
    const back = await next();
    expect(back.live).toEqual(["log.level"]);
  });

  it("sees an editor's save-by-rename", async () => {
    const { file, next } = await watched();
    const temp = `${file}.swp`;
    writeFileSync(temp, BASE.replace("level: info", "level: debug"));
    renameSync(temp, file);
    const change = await next();
    expect(change.live).toEqual(["log.level"]);
  });

  it("reloads with the environment and flags of start-up, which still win over the file", async () => {
    const { file, next } = await watched({ env: { RAFT_PORT: "1300" }, flags: { logLevel: "debug" } });
    writeFileSync(file, BASE.replace("port: 1111", "port: 1400").replace("level: info", "level: warn").replace("threshold: 8192", "threshold: 9000"));
    const change = await next();
    // raft.port stays RAFT_PORT's and log.level stays --log-level's, so neither changed.
    expect(change.live).toEqual(["snapshot.threshold"]);
    expect(change.restartNeeded).toEqual([]);
    expect(change.config!.raft.port).toBe(1300);
    expect(change.config!.log.level).toBe("debug");
  });

  it("reports an edit its check rejects (main.ts checks plugin sections) and keeps the running config", async () => {
    const kv = (await import("../../plugins/kv/index.ts")).default;
    const { next, edit } = await watched({ check: (config) => void configurePlugins([kv], config, "node.yaml") });
    edit("maxValueBytes: 1024", "maxValueBytes: big");
    const rejected = await next();
    expect(rejected.config).toBeUndefined();
    expect(rejected.error?.code).toBe("BAD_SETTING");
    expect(rejected.error?.message).toStartWith("kv.maxValueBytes: expected ");
    expect(rejected.error?.message).toEndWith("(node.yaml)");
    edit("maxValueBytes: 1024", "maxValueBytes: 2048");
    expect((await next()).restartNeeded).toEqual(["kv.maxValueBytes"]);
  });
});

describe("changedPaths", () => {
  const table: { name: string; before: unknown; after: unknown; paths: string[] }[] = [
    { name: "nothing", before: { a: { b: 1 } }, after: { a: { b: 1 } }, paths: [] },
    { name: "a leaf", before: { raft: { port: 1 } }, after: { raft: { port: 2 } }, paths: ["raft.port"] },
    { name: "an added and a removed setting", before: { auth: {} , x: 1 }, after: { auth: { token: "t" } }, paths: ["auth.token", "x"] },
    { name: "a list, whole", before: { cluster: { peers: [{ id: "a" }] } }, after: { cluster: { peers: [{ id: "a" }, { id: "b" }] } }, paths: ["cluster.peers"] },
    { name: "a section replaced by a value", before: { kv: { max: 1 } }, after: { kv: 5 }, paths: ["kv"] },
  ];
  for (const c of table) it(`finds ${c.name}`, () => expect(changedPaths(c.before, c.after)).toEqual(c.paths));
});
