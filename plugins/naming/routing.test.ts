// Routing rules and picks, without a cluster: shares by subset and weight,
// weighted random, and consistent hashing that moves only the keys of an
// instance that goes away.

import { describe, expect, it } from "bun:test";
import { candidates, pickByHash, pickRandom } from "./routing.ts";
import type { Instance } from "./store.ts";

const instance = (id: string, weight: number, meta: Record<string, string> = {}, tags: string[] = []): Instance => ({
  service: "web",
  id,
  address: "10.0.0.1",
  port: 80,
  weight,
  tags,
  meta,
  ttlMs: null,
  deregisterAfterMs: 60_000,
  check: null,
  status: "passing",
  ttlStatus: "passing",
  checkStatus: "passing",
  checkOutput: "",
  createIndex: 1,
  modifyIndex: 1,
});

const shares = (list: ReturnType<typeof candidates>) => Object.fromEntries(list.map((c) => [`${c.subset}/${c.instance.id}`, Number(c.share.toFixed(4))]));
const canary = { subsets: [{ name: "stable", meta: { version: "v1" }, weight: 90 }, { name: "canary", meta: { version: "v2" }, weight: 10 }] };

describe("candidates", () => {
  const cases: { name: string; healthy: Instance[]; rules: Parameters<typeof candidates>[1]; expect: Record<string, number> }[] = [
    { name: "no rules: every instance by its weight", healthy: [instance("a", 1), instance("b", 3)], rules: null, expect: { "default/a": 0.25, "default/b": 0.75 } },
    { name: "weight 0 gets nothing", healthy: [instance("a", 1), instance("b", 0)], rules: null, expect: { "default/a": 1 } },
    {
      name: "a canary: 90 to v1 (split by weight), 10 to v2",
      healthy: [instance("a", 1, { version: "v1" }), instance("b", 2, { version: "v1" }), instance("c", 1, { version: "v2" })],
      rules: canary,
      expect: { "stable/a": 0.3, "stable/b": 0.6, "canary/c": 0.1 },
    },
    { name: "a subset with no healthy instance gives its share to the rest", healthy: [instance("a", 1, { version: "v1" })], rules: canary, expect: { "stable/a": 1 } },
    {
      name: "tags select too",
      healthy: [instance("a", 1, {}, ["blue"]), instance("b", 1, {}, ["green"])],
      rules: { subsets: [{ name: "blue", tags: ["blue"], weight: 1 }] },
      expect: { "blue/a": 1 },
    },
  ];
  for (const c of cases) it(c.name, () => expect(shares(candidates(c.healthy, c.rules))).toEqual(c.expect));
});

describe("picks", () => {
  const pool = candidates([instance("a", 1, { version: "v1" }), instance("b", 1, { version: "v1" }), instance("c", 1, { version: "v2" })], canary);

  it("weighted random follows the shares", () => {
    expect(pickRandom(pool, 0)!.instance.id).toBe("a");
    expect(pickRandom(pool, 0.44)!.instance.id).toBe("a");
    expect(pickRandom(pool, 0.46)!.instance.id).toBe("b");
    expect(pickRandom(pool, 0.95)!.instance.id).toBe("c");
    expect(pickRandom([], 0.5)).toBeNull();
  });

  it("hashing a key gives each instance about its share of keys, and the same instance every time", () => {
    const counts: Record<string, number> = { a: 0, b: 0, c: 0 };
    for (let k = 0; k < 20_000; k++) counts[pickByHash(pool, `user-${k}`)!.instance.id]!++;
    expect(counts.a! / 20_000).toBeCloseTo(0.45, 1);
    expect(counts.b! / 20_000).toBeCloseTo(0.45, 1);
    expect(counts.c! / 20_000).toBeCloseTo(0.1, 1);
    expect(pickByHash(pool, "user-7")!.instance.id).toBe(pickByHash([...pool].reverse(), "user-7")!.instance.id);
  });

  it("when an instance goes, only its keys move", () => {
    const four = candidates([instance("a", 1), instance("b", 1), instance("c", 1), instance("d", 1)], null);
    const three = candidates([instance("a", 1), instance("b", 1), instance("c", 1)], null);
    for (let k = 0; k < 2_000; k++) {
      const before = pickByHash(four, `k${k}`)!.instance.id;
      if (before !== "d") expect(pickByHash(three, `k${k}`)!.instance.id).toBe(before);
    }
  });
});
