// How a plugin tests itself with the SDK's test kit: three real nodes in this
// process, a write on one, the same rows on every node.

import { afterEach, describe, expect, it } from "bun:test";
import { startPluginCluster, type PluginCluster } from "../../../src/fsm/testing.ts";
import flags from "./index.ts";

let cluster: PluginCluster;
afterEach(() => cluster?.stop());

const rows = (db: import("bun:sqlite").Database) => db.query("SELECT name, enabled, rollout, version FROM flags_flags ORDER BY name").all();

describe("feature flags", () => {
  it("a flag set through a follower is on every node, versioned by its index", async () => {
    cluster = await startPluginCluster(flags);
    const { index, value } = await cluster.follower().write("set", { name: "dark-mode", enabled: true, rollout: 50 });
    expect(value).toMatchObject({ name: "dark-mode", enabled: true, rollout: 50, version: index });
    await cluster.applied(index);
    expect(cluster.peekAll(rows)).toEqual(Array(3).fill([{ name: "dark-mode", enabled: 1, rollout: 50, version: index }]));
  }, 30_000);

  it("refuses a flag over maxFlags with a 409, on every node alike", async () => {
    cluster = await startPluginCluster(flags, { config: { flags: { maxFlags: 1 } } });
    await cluster.leader().write("set", { name: "a", enabled: true });
    await expect(cluster.follower().write("set", { name: "b", enabled: true })).rejects.toMatchObject({ code: "TOO_MANY_FLAGS", status: 409 });
    const { index } = await cluster.follower().write("set", { name: "a", enabled: false });
    await cluster.applied(index);
    expect(cluster.peekAll(rows).map((r) => (r as unknown[]).length)).toEqual([1, 1, 1]);
  }, 30_000);

  it("answers over HTTP on every node, the routes' schemas checking the input", async () => {
    cluster = await startPluginCluster(flags, { nodes: 1 });
    const put = await fetch(`${cluster.url(0)}/v1/flags/beta`, { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ enabled: true, rollout: 200 }) });
    expect(put.status).toBe(400);
  }, 30_000);
});
