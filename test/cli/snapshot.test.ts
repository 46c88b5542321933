// pontoon snapshot save / restore: a consistent backup from one 3-node
// cluster, checksum verified, restored into a new 3-node cluster where every
// key matches on every node; a cluster holding data is not overwritten
// without --force; a damaged file is refused before anything is sent.

import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { connect, type Entry } from "../../src/client/index.ts";
import { ProcessCluster, waitUntil } from "../e2e/process-cluster.ts";

const CLI = resolve(import.meta.dir, "../../src/cli/main.ts");
let from: ProcessCluster;
let to: ProcessCluster;
let dir: string;

async function cluster(): Promise<ProcessCluster> {
  const c = new ProcessCluster();
  await c.startPeers(["n1", "n2", "n3"]);
  return c;
}
const endpoints = (c: ProcessCluster) => ["n1", "n2", "n3"].map((id) => c.node(id).url).join(",");

async function pontoon(c: ProcessCluster, args: string[]): Promise<{ code: number; out: string; err: string }> {
  const proc = Bun.spawn([process.execPath, CLI, ...args], { env: { ...process.env, PONTOON_ENDPOINTS: endpoints(c) }, stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, out, err };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "pontoon-backup-"));
  [from, to] = [await cluster(), await cluster()];
}, 90_000);
afterAll(async () => {
  await Promise.all([from.shutdown(), to.shutdown()]);
  rmSync(dir, { recursive: true, force: true });
});

describe("pontoon snapshot save and restore", () => {
  it("restores a backup into a new cluster: every key, on every node; then refuses to overwrite it without --force", async () => {
    const source = connect({ endpoints: endpoints(from).split(",") });
    for (let i = 0; i < 50; i++) await source.put(`app/k${String(i).padStart(2, "0")}`, `value ${i}`);
    await source.put("bin/blob", new Uint8Array([0, 255, 1, 254]));
    const file = join(dir, "pontoon.backup");
    const saved = await pontoon(from, ["snapshot", "save", file]);
    expect(saved.err).toBe("");
    expect(saved.code).toBe(0);
    expect(saved.out).toMatch(/^saved \d+ bytes to .*pontoon\.backup: state at index \d+ of plugins \[kv\], sha256 [0-9a-f]{16}\.\.\.\n$/);

    const restored = await pontoon(to, ["snapshot", "restore", file, "--json"]);
    expect(restored.err).toBe("");
    expect(restored.code).toBe(0);
    const { index } = JSON.parse(restored.out) as { index: number };
    const expected = (await source.list("")).items.map((e: Entry) => `${e.key}=${e.value}`);
    for (const id of ["n1", "n2", "n3"]) {
      const node = connect({ endpoints: [to.node(id).url] });
      await waitUntil(`${id} to apply the restore`, async () => ((await to.status(id)).appliedIndex >= index ? true : undefined));
      const items = (await node.list("", { consistency: "stale" })).items;
      expect(items.map((e) => `${e.key}=${e.value}`)).toEqual(expected);
      // A restored key's version is the restore: the backup's indexes belong to another log.
      expect(items.every((e) => e.createIndex === index && e.modifyIndex === index)).toBe(true);
      expect(await node.getBytes("bin/blob", { consistency: "stale" })).toEqual(new Uint8Array([0, 255, 1, 254]));
    }
    // Writes go on from there, with later indexes.
    const target = connect({ endpoints: endpoints(to).split(",") });
    expect(await target.put("app/k00", "changed")).toBeGreaterThan(index);

    const again = await pontoon(to, ["snapshot", "restore", file]);
    expect(again.code).toBe(1);
    expect(again.err).toContain("CLUSTER_NOT_EMPTY");
    expect((await target.get("app/k00"))?.value).toBe("changed");
    expect((await pontoon(to, ["snapshot", "restore", file, "--force"])).code).toBe(0);
    expect((await target.get("app/k00"))?.value).toBe("value 0");
  }, 60_000);

  it("refuses a damaged backup before sending it, saying why", async () => {
    const file = join(dir, "damaged.backup");
    expect((await pontoon(from, ["snapshot", "save", file])).code).toBe(0);
    const bytes = readFileSync(file);
    bytes[bytes.length - 10] ^= 0xff;
    writeFileSync(file, bytes);
    const result = await pontoon(to, ["snapshot", "restore", file, "--force"]);
    expect(result.code).toBe(1);
    expect(result.err).toContain("its checksum does not match: the file is damaged");
    expect((await pontoon(to, ["snapshot", "restore", join(dir, "missing.backup")])).code).toBe(4);
  }, 30_000);
});
