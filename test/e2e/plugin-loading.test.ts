// Loading a plugin fails clearly: a node told to run a plugin it cannot load
// does not start, and says in one line which `plugins:` entry and why; a
// cluster whose nodes run different plugins refuses what some cannot apply.

import { afterEach, describe, expect, it } from "bun:test";
import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { ProcessCluster, freePort, waitUntil } from "./process-cluster.ts";

const ROOT = resolve(import.meta.dir, "../..");
let cluster: ProcessCluster;
afterEach(async () => {
  await cluster?.shutdown();
});

async function refusedStart(dir: string, yaml: string): Promise<{ code: number; stderr: string }> {
  const file = join(dir, `${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, yaml);
  const env = { RAFT_VOL_DIR: join(dir, "data"), SERVER_PORT: String(await freePort()), RAFT_PORT: String(await freePort()) };
  const proc = Bun.spawn([process.execPath, "src/main.ts", "--config", file], { cwd: ROOT, env: { ...process.env, ...env }, stdout: "pipe", stderr: "pipe" });
  const code = await proc.exited;
  return { code, stderr: await new Response(proc.stderr as ReadableStream).text() };
}

describe("loading plugins", () => {
  it("a missing module, a module that is not a plugin, a bad definition, a name twice and a bad section each stop the node with one line", async () => {
    cluster = new ProcessCluster();
    const dir = cluster.root;
    symlinkSync(join(ROOT, "plugins"), join(dir, "plugins"));
    const module = (name: string, source: string) => {
      mkdirSync(join(dir, name), { recursive: true });
      writeFileSync(join(dir, name, "index.ts"), source);
    };
    module("notplugin", "export default { hello: 1 };\n");
    module("badname", `import { definePlugin } from "${ROOT}/src/fsm/sdk.ts";\nexport default definePlugin({ name: "Bad-Name", migrations: [], commands: {}, apply: {} });\n`);
    module("twin", `export { default } from "${ROOT}/plugins/examples/feature-flags/index.ts";\n`);
    const cases: [string, string, RegExp][] = [
      ["a missing file", "plugins: [kv, ./nope/index.ts]\n", /^pontoon: plugins\[1\] \(.*\.yaml\): cannot load plugin module .*nope\/index\.ts/],
      ["a module that exports no plugin", "plugins: [kv, ./notplugin/index.ts]\n", /^pontoon: plugins\[1\] \(.*\.yaml\): \.\/notplugin\/index\.ts does not export a plugin as its default export/],
      ["a definition that fails definePlugin's checks", "plugins: [kv, ./badname/index.ts]\n", /^pontoon: plugins\[1\] \(.*\.yaml\): cannot load plugin module .*plugin name "Bad-Name" must be lower-case/],
      ["two plugins with one name", "plugins: [kv, ./plugins/examples/feature-flags/index.ts, ./twin/index.ts]\n", /^pontoon: plugins\[2\] \(.*\.yaml\): plugin "flags" is listed twice/],
      ["a built-in listed twice", "plugins: [kv, ipvs, ipvs]\n", /^pontoon: plugins\[2\] \(.*\.yaml\): plugin "ipvs" is listed twice/],
      ["a section its plugin's schema refuses", "plugins: [kv, ipvs]\nipvs:\n  apply: sometimes\n", /^pontoon: ipvs\.apply: expected true, false or "dry-run"/],
    ];
    for (const [what, yaml, message] of cases) {
      const { code, stderr } = await refusedStart(dir, yaml);
      expect([what, code !== 0]).toEqual([what, true]);
      expect(stderr.trim().split("\n")).toHaveLength(1);
      expect(stderr.trim()).toMatch(message);
    }
  }, 60_000);

  it("a cluster whose nodes run different plugins refuses writes to the plugin one lacks, naming it, and keeps serving the others", async () => {
    cluster = new ProcessCluster();
    const ids = ["n1", "n2", "n3"];
    for (const id of ids) await cluster.define(id);
    for (const id of ids) {
      const plugins = id === "n3" ? "plugins: [kv]\n" : "plugins: [kv, ipvs]\n";
      await cluster.start(id, {}, ["--config", cluster.peersFile(ids, { name: `${id}.yaml`, before: plugins })]);
    }
    const leader = await cluster.leader();
    // The leader learns each member's plugins from its member record; until then it cannot know whom to refuse for.
    await waitUntil("the leader to know n3's plugins", async () => ((await cluster.status(leader)) as unknown as { plugins?: Record<string, unknown> }).plugins?.n3 ? true : undefined);
    const url = cluster.node("n1").url;
    const r = await fetch(`${url}/v1/ipvs/services`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ protocol: "tcp", address: "10.0.0.1", port: 80 }) });
    const body = (await r.json()) as { error: { code: string; message: string } };
    expect([r.status, body.error.code]).toEqual([503, "PLUGIN_NOT_ON_ALL_MEMBERS"]);
    expect(body.error.message).toBe('member n3 does not run plugin "ipvs" (it runs [kv]); start every node with the same plugins: list');
    expect((await fetch(`${url}/v1/kv/still`, { method: "PUT", body: "works" })).status).toBe(200);
  }, 60_000);
});
