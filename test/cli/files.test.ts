// pontoon sync and render: a directory of config files into keys and back,
// byte for byte; bad YAML or JSON refused with its file and line, nothing
// written; and both kept in step while they run.

import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { resolve } from "node:path";
import { connect } from "../../src/client/index.ts";
import { renderPrefix } from "../../src/cli/render.ts";
import { syncDirectory } from "../../src/cli/sync.ts";
import { waitUntil } from "../e2e/process-cluster.ts";
import { startOneNode, type OneNode } from "../server/one-node.ts";

const CLI = resolve(import.meta.dir, "../../src/cli/main.ts");
let one: OneNode;
let root: string;

beforeAll(async () => {
  one = await startOneNode();
  root = mkdtempSync(join(tmpdir(), "pontoon-files-"));
});
afterAll(async () => {
  await one.stop();
  rmSync(root, { recursive: true, force: true });
});

async function pontoon(args: string[]): Promise<{ code: number; err: string }> {
  const proc = Bun.spawn([process.execPath, CLI, ...args], { env: { ...process.env, PONTOON_ENDPOINTS: one.base }, stdout: "pipe", stderr: "pipe" });
  const [err, code] = await Promise.all([new Response(proc.stderr).text(), proc.exited]);
  return { code, err };
}

/** Every file under `dir`, relative path to bytes (hex). */
function tree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (at: string) => {
    for (const e of readdirSync(at, { withFileTypes: true })) {
      const full = join(at, e.name);
      if (e.isDirectory()) walk(full);
      else out[relative(dir, full)] = readFileSync(full).toString("hex");
    }
  };
  walk(dir);
  return out;
}

function write(dir: string, files: Record<string, string | Uint8Array>): void {
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(join(dir, name, ".."), { recursive: true });
    writeFileSync(join(dir, name), content);
  }
}

describe("pontoon sync and render", () => {
  it("round-trips a directory byte for byte: sync --once, then render --once", async () => {
    const src = join(root, "src");
    const binary = new Uint8Array([0, 255, 254, 10, 13, 0xc3, 0x28, 7]);
    write(src, {
      "app.yaml": "db:\n  url: postgres://db/shop\n  pool: 5\n",
      "conf/feature.json": '{"flags": {"beta": true}}\n',
      "conf/app.properties": "greeting=hello\nempty=\n",
      "notes.txt": "no trailing newline",
      "bin/blob.bin": binary,
    });
    expect(await pontoon(["sync", src, "--prefix", "rt/", "--once"])).toMatchObject({ code: 0 });
    const out = join(root, "out");
    expect(await pontoon(["render", "--prefix", "rt/", "--out", out, "--once"])).toMatchObject({ code: 0 });
    expect(tree(out)).toEqual(tree(src));
  });

  it("refuses a directory with bad YAML or JSON, naming file and line, and writes nothing", async () => {
    const bad = join(root, "bad");
    write(bad, { "ok.yaml": "a: 1\n", "broken.yaml": "a: 1\nb:\n  - x\n - y\n", "broken.json": '{"a": 1,\n "b": }\n' });
    const result = await pontoon(["sync", bad, "--prefix", "bad/", "--once"]);
    expect(result.code).toBe(1);
    expect(result.err).toContain("broken.yaml:4:");
    expect(result.err).toContain("invalid YAML");
    expect(result.err).toContain("broken.json");
    expect(result.err).toContain("invalid JSON");
    expect((await connect({ endpoints: [one.base] }).list("bad/")).items).toEqual([]);
  });

  it("keeps keys in step with the directory, and files in step with the keys, while they run", async () => {
    const client = connect({ endpoints: [one.base] });
    const dir = join(root, "live");
    const out = join(root, "live-out");
    const marker = join(root, "reloads");
    write(dir, { "a.yaml": "v: 1\n" });
    const logs: string[] = [];
    const sync = await syncDirectory(client, dir, { prefix: "live/", watch: true, log: (l) => logs.push(l) });
    await sync.ready;
    const render = await renderPrefix(client, out, { prefix: "live/", watch: true, exec: `echo x >> ${marker}`, log: (l) => logs.push(l) });
    expect(readFileSync(join(out, "a.yaml"), "utf8")).toBe("v: 1\n");

    writeFileSync(join(dir, "a.yaml"), "v: 2\n");
    await waitUntil("the change to reach the rendered file", () => (readFileSync(join(out, "a.yaml"), "utf8") === "v: 2\n" ? true : undefined), 10_000);
    // A broken edit is refused: the key and the rendered file keep the last good value.
    writeFileSync(join(dir, "a.yaml"), "v: [2\n");
    await waitUntil("the refusal to be logged", () => (logs.some((l) => l.startsWith("refused a.yaml:")) ? true : undefined), 10_000);
    expect((await client.get("live/a.yaml"))?.value).toBe("v: 2\n");
    write(dir, { "sub/b.json": '{"b": true}' });
    await waitUntil("a new file to be rendered", () => (existsSync(join(out, "sub/b.json")) ? true : undefined), 10_000);
    unlinkSync(join(dir, "sub/b.json"));
    await waitUntil("a deleted file to be removed", () => (!existsSync(join(out, "sub/b.json")) ? true : undefined), 10_000);
    expect(await client.get("live/sub/b.json")).toBeNull();
    await sync.close();
    await render.close();
    // One reload at start, then one per change rendered (v: 2, b.json added, b.json deleted).
    expect(readFileSync(marker, "utf8").trim().split("\n").length).toBe(4);
  }, 40_000);
});
