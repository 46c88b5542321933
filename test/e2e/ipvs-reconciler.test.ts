// The IPVS reconciler on real node processes, against a fake ipvsadm on PATH
// (test/e2e/fake-ipvsadm.ts: records its arguments, keeps a table in a file)
// and, where this machine's kernel has IPVS, against the real one.

import { afterEach, describe, expect, it } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { fakeBin, fakeKernel } from "./fake-ipvsadm-kit.ts";
import { ProcessCluster, waitUntil } from "./process-cluster.ts";

let cluster: ProcessCluster;
afterEach(async () => {
  await cluster?.shutdown();
});

interface Status {
  node: string;
  mode: string;
  lastAppliedIndex: number | null;
  lastCommands: string[];
  lastError: { code: string; message: string } | null;
}
const status = async (url: string): Promise<Status> => (await (await fetch(`${url}/v1/ipvs/status`)).json()) as Status;
const json = { "content-type": "application/json" };
async function write(url: string, method: string, path: string, body?: unknown): Promise<{ index: number }> {
  const r = await fetch(`${url}/v1/ipvs${path}`, { method, headers: json, body: body === undefined ? undefined : JSON.stringify(body) });
  expect(r.status).toBe(200);
  return (await r.json()) as { index: number };
}
const exportLines = async (url: string) => (await (await fetch(`${url}/v1/ipvs/export`)).text()).trim().split("\n").filter(Boolean).sort();

/**
 * Whether this machine can run the real thing: ipvsadm installed, the kernel
 * with IPVS, the right to change it, and an empty table (the reconciler owns
 * the whole table; a test must not wipe a real one).
 */
const REAL = (() => {
  const ipvsadm = Bun.which("ipvsadm");
  if (!ipvsadm) return { ipvsadm: null, works: false, why: "ipvsadm is not installed" };
  const probe = Bun.spawnSync([ipvsadm, "-Sn"]);
  if (probe.exitCode !== 0) return { ipvsadm, works: false, why: probe.stderr.toString().trim().split("\n")[0]! };
  if (probe.stdout.toString().trim() !== "") return { ipvsadm, works: false, why: "this machine's IPVS table is not empty, and the reconciler would replace it" };
  return { ipvsadm, works: true, why: "" };
})();

describe("the IPVS reconciler (ipvs.apply)", () => {
  it("brings every node's kernel to the replicated table with the fewest commands, and reports each node's status", async () => {
    cluster = new ProcessCluster();
    const ids = ["n1", "n2", "n3"];
    const bin = fakeBin(cluster.root);
    const kernels = Object.fromEntries(ids.map((id) => [id, fakeKernel(cluster.root, id)]));
    for (const id of ids) {
      await cluster.define(id, {
        PATH: `${bin}:${process.env.PATH}`,
        FAKE_IPVSADM_DIR: kernels[id]!.dir,
        // n2's kernel lacks the mh scheduler module.
        ...(id === "n2" ? { FAKE_IPVSADM_REFUSE_SCHEDULER: "mh" } : {}),
      });
    }
    for (const id of ids) await cluster.start(id, {}, ["--config", cluster.peersFile(ids, { name: `${id}.yaml`, before: "plugins: [kv, ipvs]\nipvs:\n  apply: true\n  resyncMs: 600000\n" })]);
    const leader = await cluster.leader();
    const follower = cluster.node(ids.find((id) => id !== leader)!).url;
    const urls = ids.map((id) => cluster.node(id).url);

    await write(follower, "POST", "/services", { protocol: "tcp", address: "10.0.0.1", port: 80, scheduler: "wrr" });
    await write(follower, "POST", "/services/tcp/10.0.0.1/80/servers", { address: "10.0.0.2", weight: 1 });
    await write(follower, "POST", "/services/tcp/10.0.0.1/80/servers", { address: "10.0.0.3", weight: 1 });
    const { index } = await write(follower, "POST", "/services", { protocol: "udp", address: "2001:db8::1", port: 53, scheduler: "rr" });

    const settled = async (at: number) => {
      for (const url of urls) {
        await waitUntil(`${url} to apply index ${at}`, async () => {
          const s = await status(url);
          return s.lastAppliedIndex !== null && s.lastAppliedIndex >= at && s.lastError === null ? s : undefined;
        });
      }
    };
    await settled(index);
    const wanted = await exportLines(follower);
    expect(wanted).toHaveLength(4);
    for (const id of ids) expect(kernels[id]!.lines()).toEqual(wanted);
    expect(await status(cluster.node("n1").url)).toMatchObject({ node: "n1", mode: "apply", lastError: null });

    // Someone edits n3's kernel by hand: a stray service, a changed weight. The next change puts it right with edits, not a rebuild
    // (resyncMs is long here, so no periodic run reads the table while the test rewrites it).
    const n3 = kernels.n3!;
    const edited = n3.read();
    const web = edited.find((r) => r.name === "-t 10.0.0.1:80")!;
    web.servers.find((s) => s.address === "10.0.0.2:80")!.options = "-g -w 9";
    edited.push({ name: "-t 192.0.2.9:80", options: "-s rr", servers: [] });
    n3.write(edited);
    const before = Object.fromEntries(ids.map((id) => [id, kernels[id]!.calls().length]));
    const change = await write(follower, "PATCH", "/services/tcp/10.0.0.1/80/servers/10.0.0.3/80", { weight: 4 });
    await settled(change.index);
    const changes = (id: string) => kernels[id]!.calls().slice(before[id]).filter((args) => args[0] !== "-Sn").map((args) => args.join(" "));
    expect(changes("n1")).toEqual(["-e -t 10.0.0.1:80 -r 10.0.0.3:80 -g -w 4"]);
    expect(changes("n3")).toEqual(["-D -t 192.0.2.9:80", "-e -t 10.0.0.1:80 -r 10.0.0.2:80 -g -w 1", "-e -t 10.0.0.1:80 -r 10.0.0.3:80 -g -w 4"]);
    for (const id of ids) expect(kernels[id]!.lines()).toEqual(await exportLines(follower));

    // A command the kernel refuses is n2's status, not a crash; n2 serves on, and recovers with the next change.
    const mh = await write(follower, "PATCH", "/services/tcp/10.0.0.1/80", { scheduler: "mh" });
    const refused = await waitUntil("n2 to report the refused command", async () => {
      const s = await status(cluster.node("n2").url);
      return s.lastError ? s : undefined;
    });
    expect(refused.lastError).toMatchObject({ code: "COMMAND_FAILED" });
    expect(refused.lastError!.message).toBe("ipvsadm -E -t 10.0.0.1:80 -s mh failed: Scheduler not found");
    expect(refused.lastAppliedIndex!).toBeLessThan(mh.index);
    expect((await fetch(`${cluster.node("n2").url}/v1/ipvs/services/tcp/10.0.0.1/80`)).status).toBe(200);
    const back = await write(follower, "PATCH", "/services/tcp/10.0.0.1/80", { scheduler: "wrr" });
    await settled(back.index);
  }, 90_000);

  it("a node without ipvsadm or without IPVS keeps serving and says exactly that; dry-run only logs", async () => {
    cluster = new ProcessCluster();
    const ids = ["n1", "n2", "n3"];
    const bin = fakeBin(cluster.root);
    const kernels = Object.fromEntries(ids.map((id) => [id, fakeKernel(cluster.root, id)]));
    const sections: Record<string, string> = {
      n1: "ipvs:\n  apply: true\n  ipvsadm: ipvsadm-not-installed\n",
      n2: "ipvs:\n  apply: true\n",
      n3: 'ipvs:\n  apply: "dry-run"\n',
    };
    for (const id of ids) {
      await cluster.define(id, { PATH: `${bin}:${process.env.PATH}`, FAKE_IPVSADM_DIR: kernels[id]!.dir, ...(id === "n2" ? { FAKE_IPVSADM_NO_KERNEL: "1" } : {}) });
    }
    for (const id of ids) await cluster.start(id, {}, ["--config", cluster.peersFile(ids, { name: `${id}.yaml`, before: `plugins: [kv, ipvs]\n${sections[id]}` })]);
    await cluster.leader();
    const { index } = await write(cluster.node("n1").url, "POST", "/services", { protocol: "tcp", address: "10.0.0.1", port: 80, scheduler: "rr" });
    await write(cluster.node("n2").url, "POST", "/services/tcp/10.0.0.1/80/servers", { address: "10.0.0.2" });

    const missing = await waitUntil("n1 to report ipvsadm missing", async () => ((await status(cluster.node("n1").url)).lastError ? status(cluster.node("n1").url) : undefined));
    expect(missing.lastError).toMatchObject({ code: "IPVSADM_MISSING", message: 'ipvsadm is not installed: no "ipvsadm-not-installed" on PATH (install ipvsadm, or set ipvs.ipvsadm to its path)' });
    const noIpvs = await waitUntil("n2 to report no IPVS", async () => ((await status(cluster.node("n2").url)).lastError ? status(cluster.node("n2").url) : undefined));
    expect(noIpvs.lastError!.code).toBe("NO_IPVS");
    expect(noIpvs.lastError!.message).toBe("the kernel has no IPVS (ip_vs module not loaded or not available here): ipvsadm -Sn: Can't initialize ipvs: Protocol not available");
    expect(noIpvs.lastAppliedIndex).toBeNull();

    const n3 = cluster.node("n3").url;
    const dry = await waitUntil("n3 to plan the table", async () => {
      const s = await status(n3);
      return s.lastCommands.length === 2 ? s : undefined;
    });
    expect(dry).toMatchObject({ mode: "dry-run", lastError: null, lastCommands: ["ipvsadm -A -t 10.0.0.1:80 -s rr", "ipvsadm -a -t 10.0.0.1:80 -r 10.0.0.2:80 -g -w 1"] });
    expect(dry.lastAppliedIndex!).toBeGreaterThan(index);
    expect(cluster.logs("n3")).toContain("dry-run: would run ipvsadm -a -t 10.0.0.1:80 -r 10.0.0.2:80 -g -w 1");
    expect(new Set(kernels.n3!.calls().map((args) => args[0]))).toEqual(new Set(["-Sn"]));
    expect(kernels.n3!.lines()).toEqual([]);

    // Every node still serves reads and writes.
    for (const id of ids) expect((await fetch(`${cluster.node(id).url}/v1/ipvs/services/tcp/10.0.0.1/80`)).status).toBe(200);
    await write(cluster.node("n1").url, "DELETE", "/services/tcp/10.0.0.1/80");
  }, 90_000);

  it.skipIf(!REAL.ipvsadm || REAL.works)(`with the real ipvsadm on a kernel without IPVS, the status carries ipvsadm's own words${!REAL.ipvsadm || REAL.works ? ` (skipped: ${REAL.why})` : ""}`, async () => {
    cluster = new ProcessCluster();
    await cluster.define("n1");
    const file = join(cluster.root, "real.yaml");
    writeFileSync(file, "plugins: [kv, ipvs]\nipvs:\n  apply: true\n");
    await cluster.start("n1", {}, ["--config", file]);
    await cluster.leader();
    const url = cluster.node("n1").url;
    await write(url, "POST", "/services", { protocol: "tcp", address: "198.51.100.10", port: 80 });
    const s = await waitUntil("the status to carry the error", async () => ((await status(url)).lastError ? status(url) : undefined));
    expect(s.lastError!.code).toBe(REAL.why.includes("initialize ipvs") ? "NO_IPVS" : "NOT_PERMITTED");
    expect(s.lastError!.message).toEndWith(`ipvsadm -Sn: ${REAL.why}`);
    expect((await fetch(`${url}/v1/ipvs/services/tcp/198.51.100.10/80`)).status).toBe(200);
  }, 30_000);

  it.skipIf(!REAL.works)(`against the real kernel: the table reaches it and leaves it${REAL.works ? "" : ` (skipped: ${REAL.why})`}`, async () => {
    cluster = new ProcessCluster();
    await cluster.define("n1");
    const file = join(cluster.root, "real.yaml");
    writeFileSync(file, "plugins: [kv, ipvs]\nipvs:\n  apply: true\n");
    await cluster.start("n1", {}, ["--config", file]);
    await cluster.leader();
    const url = cluster.node("n1").url;
    const kernel = () => Bun.spawnSync([REAL.ipvsadm!, "-Sn"]).stdout.toString();
    try {
      // TEST-NET-2 addresses: nothing routes there.
      await write(url, "POST", "/services", { protocol: "tcp", address: "198.51.100.10", port: 80, scheduler: "wrr" });
      await write(url, "POST", "/services/tcp/198.51.100.10/80/servers", { address: "198.51.100.11", forwarding: "masq", port: 8080, weight: 3 });
      await waitUntil("the kernel to hold the service", () => (kernel().includes("-a -t 198.51.100.10:80 -r 198.51.100.11:8080 -m -w 3") ? true : undefined));
      expect(kernel()).toContain("-A -t 198.51.100.10:80 -s wrr");
      await write(url, "DELETE", "/services/tcp/198.51.100.10/80");
      await waitUntil("the kernel to drop the service", () => (kernel().includes("198.51.100.10") ? undefined : true));
    } finally {
      Bun.spawnSync([REAL.ipvsadm!, "-D", "-t", "198.51.100.10:80"]);
    }
  }, 30_000);
});
