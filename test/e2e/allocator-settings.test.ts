// `bun src/main.ts` restarts itself once, in place, so that Bun's allocator
// keeps the memory it frees (src/allocator-settings.ts): the process that
// serves is the one that was started (same pid, so signals and supervisors
// see no difference), with MIMALLOC_PURGE_DELAY=-1 in its environment. An
// operator's own setting is kept, and then there is no restart.

import { afterEach, describe, expect, it } from "bun:test";
import { readFileSync } from "node:fs";
import { ProcessCluster } from "./process-cluster.ts";

let cluster: ProcessCluster;
afterEach(async () => {
  await cluster.shutdown();
});

/** The environment the process runs with now (after any execve). */
function environmentOf(pid: number): Map<string, string> {
  const pairs = readFileSync(`/proc/${pid}/environ`, "utf8").split("\0").filter(Boolean);
  return new Map(pairs.map((p) => [p.slice(0, p.indexOf("=")), p.slice(p.indexOf("=") + 1)]));
}

describe.skipIf(process.platform !== "linux")("the node's allocator settings", () => {
  it("the started process serves, with MIMALLOC_PURGE_DELAY=-1 set by its in-place restart", async () => {
    const saved = process.env.MIMALLOC_PURGE_DELAY;
    delete process.env.MIMALLOC_PURGE_DELAY;
    try {
      cluster = new ProcessCluster();
      await cluster.define("n1");
      const node = await cluster.start("n1");
      await cluster.leader(["n1"]);
      expect(environmentOf(node.proc!.pid).get("MIMALLOC_PURGE_DELAY")).toBe("-1");
      expect((await fetch(`${node.url}/v1/kv/a`, { method: "PUT", body: "1" })).status).toBe(200);
      // The pid the test holds is the node: SIGTERM reaches it and it exits cleanly.
      expect(await cluster.stop("n1")).toBe(0);
    } finally {
      if (saved !== undefined) process.env.MIMALLOC_PURGE_DELAY = saved;
    }
  });

  it("keeps an operator's own MIMALLOC_PURGE_DELAY", async () => {
    cluster = new ProcessCluster();
    await cluster.define("n1", { MIMALLOC_PURGE_DELAY: "25" });
    const node = await cluster.start("n1");
    expect(environmentOf(node.proc!.pid).get("MIMALLOC_PURGE_DELAY")).toBe("25");
  });
});
