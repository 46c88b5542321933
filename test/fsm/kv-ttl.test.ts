// Key TTLs are decided deterministically: the expiry is the put's leader
// timestamp plus its TTL, and an expire command deletes a key only if that
// expiry has passed by the command's own leader timestamp. Replaying the same
// entries on any node gives the same state.

import { afterEach, beforeEach, describe, expect, it } from "bun:test";
import { getEntry, keyHistory } from "../../plugins/kv/store.ts";
import type { PluginEvent } from "../../src/fsm/sdk.ts";
import { bytes, entry, fsmDir, stateBytes } from "./fixtures.ts";

let tmp: ReturnType<typeof fsmDir>;
beforeEach(() => {
  tmp = fsmDir("kv-ttl");
});
afterEach(() => tmp.cleanup());

const T = 1_700_000_000_000;
const putTtl = (index: number, key: string, ttlMs: number | undefined, at: number) => entry(index, "kv", "put", { key, value: bytes("v"), ...(ttlMs === undefined ? {} : { ttlMs }) }, 1, at);
const expire = (index: number, keys: string[], at: number) => entry(index, "kv", "expire", { keys }, 1, at);

describe("kv TTLs", () => {
  it("expires a key only once its TTL has passed by the expire command's timestamp, as a recorded delete", async () => {
    const host = tmp.open();
    const events: PluginEvent[] = [];
    host.onEvents("kv", (e) => events.push(...e));
    host.applyBatch([putTtl(1, "lease/a", 10_000, T), putTtl(2, "plain", undefined, T)]);
    expect(host.applyBatch([expire(3, ["lease/a", "plain"], T + 9_999)])[0]).toEqual({ ok: true, value: { index: 3, expired: 0 } });
    expect(getEntry(host.database, "lease/a")).not.toBeNull();
    expect(host.applyBatch([expire(4, ["lease/a", "plain"], T + 10_000)])[0]).toEqual({ ok: true, value: { index: 4, expired: 1 } });
    expect(getEntry(host.database, "lease/a")).toBeNull();
    expect(getEntry(host.database, "plain")).not.toBeNull();
    expect(keyHistory(host.database, "lease/a").map((c) => c.op)).toEqual(["delete", "put"]);
    expect(events.map((e) => `${e.index} ${(e.event as { op: string; key: string }).op} ${(e.event as { key: string }).key}`)).toEqual(["1 put lease/a", "2 put plain", "4 delete lease/a"]);
  });

  it("keeps a key written again without a TTL after the sweep looked, and one whose TTL was renewed", async () => {
    const host = tmp.open();
    host.applyBatch([putTtl(1, "a", 1_000, T), putTtl(2, "b", 1_000, T)]);
    // Between the leader's sweep and its expire command: a is rewritten without TTL, b with a fresh one.
    host.applyBatch([putTtl(3, "a", undefined, T + 500), putTtl(4, "b", 1_000, T + 900)]);
    expect(host.applyBatch([expire(5, ["a", "b"], T + 1_500)])[0]).toEqual({ ok: true, value: { index: 5, expired: 0 } });
    expect(host.applyBatch([expire(6, ["a", "b"], T + 1_900)])[0]).toEqual({ ok: true, value: { index: 6, expired: 1 } });
    expect(getEntry(host.database, "a")).not.toBeNull();
    expect(getEntry(host.database, "b")).toBeNull();
  });

  it("is deterministic: two hosts applying the same entries, in different batches, end byte-identical", async () => {
    const entries = [putTtl(1, "x", 5_000, T), putTtl(2, "y", 1_000, T), expire(3, ["x", "y"], T + 2_000), putTtl(4, "x", 100, T + 3_000), expire(5, ["x"], T + 3_100)];
    const one = tmp.open("one.db");
    one.applyBatch(entries);
    const two = tmp.open("two.db");
    for (const e of entries) two.applyBatch([e]);
    expect(stateBytes(two.database)).toEqual(stateBytes(one.database));
    expect(getEntry(one.database, "x")).toBeNull();
    expect(getEntry(one.database, "y")).toBeNull();
  });
});
