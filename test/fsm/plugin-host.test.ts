import { afterEach, beforeEach, describe, expect, it } from "bun:test";
import { PluginMismatchError } from "../../src/fsm/errors.ts";
import type { AppliedBatch, PluginHost } from "../../src/fsm/plugin-host.ts";
import type { PluginEvent } from "../../src/fsm/sdk.ts";
import type { CommittedCommand } from "../../src/raft/fsm.ts";
import { listEntries } from "../../plugins/kv/store.ts";
import { add, appliedIndexOnDisk, bytes, counter, counters, entry, fsmDir, kvHosted, put, stateBytes } from "./fixtures.ts";

let tmp: ReturnType<typeof fsmDir>;
beforeEach(() => {
  tmp = fsmDir("plugin-host");
});
afterEach(() => tmp.cleanup());

describe("PluginHost.applyBatch", () => {
  it("applies every command of a batch and records the batch's last index as applied", () => {
    const host = tmp.open();
    const outcomes = host.applyBatch([add(1, "a", 1), put(2, "k", "v"), add(3, "a", 2)]);
    expect(outcomes).toEqual([
      { ok: true, value: 1 },
      { ok: true, value: { index: 2 } },
      { ok: true, value: 3 },
    ]);
    expect(counters(host.database)).toEqual({ a: 3 });
    expect(listEntries(host.database, "").map((e) => [e.key, new TextDecoder().decode(e.value), e.createIndex, e.modifyIndex])).toEqual([["k", "v", 2, 2]]);
    expect(host.appliedIndex()).toBe(3);
    expect(appliedIndexOnDisk(host.database)).toBe("3");
  });

  it("applies a batch in one transaction: when its last entry cannot be applied, its first ones are not either", () => {
    const host = tmp.open();
    host.applyBatch([add(1, "a", 1)]);
    expect(() => host.applyBatch([add(2, "a", 10), put(3, "k", "v"), entry(4, "nosuch", "x", {})])).toThrow(PluginMismatchError);
    expect(counters(host.database)).toEqual({ a: 1 });
    expect(listEntries(host.database, "")).toEqual([]);
    expect(host.appliedIndex()).toBe(1);
    expect(appliedIndexOnDisk(host.database)).toBe("1");
  });

  it("resumes at the applied index after a restart, with the state intact and nothing applied twice", () => {
    const first = tmp.open();
    first.applyBatch([add(1, "a", 1), add(2, "a", 2)]);
    first.applyBatch([add(3, "b", 5), put(4, "k", "v1")]);
    const before = stateBytes(first.database);
    first.close();

    const second = tmp.open();
    expect(second.appliedIndex()).toBe(4);
    // Reopening ran no command again: a replayed add would have moved the counters.
    expect(counters(second.database)).toEqual({ a: 3, b: 5 });
    expect(stateBytes(second.database)).toEqual(before);

    // The node hands it the entries after the applied index only, and it carries on from there.
    expect(second.applyBatch([add(5, "a", 10), put(6, "k", "v2", 4)])).toEqual([
      { ok: true, value: 13 },
      { ok: true, value: { index: 6 } },
    ]);
    expect(second.appliedIndex()).toBe(6);
  });

  it("keeps the applied index of the last committed batch across a restart when a later batch failed", () => {
    const first = tmp.open();
    first.applyBatch([add(1, "a", 1)]);
    expect(() => first.applyBatch([add(2, "a", 1), entry(3, "counter", "subtract", { name: "a" })])).toThrow(PluginMismatchError);
    first.close();

    const second = tmp.open();
    expect(second.appliedIndex()).toBe(1);
    expect(counters(second.database)).toEqual({ a: 1 });
  });

  it("tells onApplied listeners the batch's last index and whether members changed, after the batch is committed", () => {
    const host = tmp.open();
    const seen: { batch: AppliedBatch; applied: number; inTransaction: boolean }[] = [];
    host.onApplied((batch) => seen.push({ batch, applied: host.appliedIndex(), inTransaction: host.database.inTransaction }));
    host.applyBatch([add(7, "a", 1), put(8, "k", "v")]);
    host.applyBatch([put(9, "k", "w"), entry(10, "_host", "member", { id: "n2", http: "127.0.0.1:1", plugins: ["counter", "kv"] })]);
    expect(seen).toEqual([
      { batch: { index: 8, membersChanged: false }, applied: 8, inTransaction: false },
      { batch: { index: 10, membersChanged: true }, applied: 10, inTransaction: false },
    ]);
  });
});

describe("PluginHost: a command that fails", () => {
  it("rolls back only a command whose apply throws a PluginError, and returns its code, status and details", () => {
    const host = tmp.open();
    const outcomes = host.applyBatch([add(1, "a", 1), add(2, "a", 10, "refused"), add(3, "a", 100)]);
    expect(outcomes).toEqual([
      { ok: true, value: 1 },
      { ok: false, error: { code: "COUNTER_REFUSED", message: "counter a refuses to reach 11", status: 409, details: { name: "a", wouldBe: 11 } } },
      { ok: true, value: 101 },
    ]);
    // The refused command had already added 10 before it threw; that write is gone, its neighbours' stay.
    expect(counters(host.database)).toEqual({ a: 101 });
    expect(host.appliedIndex()).toBe(3);
  });

  it("answers PLUGIN_FAILED (500) for an unexpected throw, and rolls back only that command", () => {
    const host = tmp.open();
    const outcomes = host.applyBatch([add(1, "a", 1), add(2, "b", 5, "crash"), add(3, "b", 7)]);
    expect(outcomes[0]).toEqual({ ok: true, value: 1 });
    expect(outcomes[1]).toEqual({
      ok: false,
      error: { code: "PLUGIN_FAILED", message: expect.stringContaining("counter b crashed") as unknown as string, status: 500 },
    });
    expect(outcomes[2]).toEqual({ ok: true, value: 7 });
    expect(counters(host.database)).toEqual({ a: 1, b: 7 });
    expect(host.appliedIndex()).toBe(3);
  });

  it("refuses a kv put whose cas does not match (CAS_FAILED, 409) and keeps the other commands of its batch", () => {
    const host = tmp.open();
    host.applyBatch([put(1, "k", "v1")]);
    // kv's cas failure: the put is refused, the counter beside it in the batch is kept.
    const outcomes = host.applyBatch([put(2, "k", "v2", 99), add(3, "a", 1)]);
    expect(outcomes[0]).toMatchObject({ ok: false, error: { code: "CAS_FAILED", status: 409, details: { current: { key: "k", value: "v1", modifyIndex: 1 } } } });
    expect(outcomes[1]).toEqual({ ok: true, value: 1 });
    expect(listEntries(host.database, "").map((e) => [e.key, new TextDecoder().decode(e.value)])).toEqual([["k", "v1"]]);
    expect(host.appliedIndex()).toBe(3);
  });
});

describe("PluginHost: an entry this node cannot apply", () => {
  // Skipping such an entry would make this node's state differ from the others': it must stop.
  const cases = [
    { name: "a command of a plugin this node does not run", bad: entry(3, "registry", "register", { id: "x" }), says: 'plugin "registry", which this node does not run' },
    { name: "a command the plugin does not have", bad: entry(3, "counter", "reset", { name: "a" }), says: 'command "reset" of plugin "counter"' },
    { name: "a host command this version does not know", bad: entry(3, "_host", "evict", { id: "n1" }), says: 'host command "evict"' },
  ];
  for (const c of cases) {
    it(`throws PluginMismatchError for ${c.name}, leaving the batch unapplied`, () => {
      const host = tmp.open();
      host.applyBatch([add(1, "a", 1)]);
      const events: PluginEvent[][] = [];
      const batches: AppliedBatch[] = [];
      host.onEvents("counter", (e) => events.push(e));
      host.onApplied((b) => batches.push(b));

      let thrown: unknown;
      try {
        host.applyBatch([add(2, "a", 1), c.bad, add(4, "a", 1)]);
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(PluginMismatchError);
      expect((thrown as PluginMismatchError).code).toBe("PLUGIN_MISMATCH");
      expect((thrown as Error).message).toContain(c.says);
      expect((thrown as Error).message).toContain("entry 3");
      expect((thrown as Error).message).toContain("this node runs plugins [counter, kv]");

      expect(host.appliedIndex()).toBe(1);
      expect(appliedIndexOnDisk(host.database)).toBe("1");
      expect(counters(host.database)).toEqual({ a: 1 });
      expect(events).toEqual([]);
      expect(batches).toEqual([]);
      // And it stays stopped at the same place: the same batch again fails the same way.
      expect(() => host.applyBatch([add(2, "a", 1), c.bad, add(4, "a", 1)])).toThrow(PluginMismatchError);
    });
  }

  // "constructor" and "toString" are found on every object's prototype; they are not commands.
  it("throws PluginMismatchError for command names inherited from Object.prototype", () => {
    const inherited = [entry(2, "counter", "constructor", {}), entry(2, "counter", "toString", {}), entry(2, "_host", "toString", {})];
    for (const [i, bad] of inherited.entries()) {
      const host = tmp.open(`inherited-${i}.db`);
      expect(() => host.applyBatch([bad])).toThrow(PluginMismatchError);
      expect(host.appliedIndex()).toBe(0);
      host.close();
    }
  });
});

describe("PluginHost: events emitted by apply", () => {
  it("reaches the plugin's listeners once the batch is committed, in log order, with each entry's index", () => {
    const host = tmp.open();
    const heard: { events: PluginEvent[]; applied: number; inTransaction: boolean; counters: Record<string, number> }[] = [];
    host.onEvents("counter", (events) =>
      heard.push({ events, applied: host.appliedIndex(), inTransaction: host.database.inTransaction, counters: counters(host.database) }),
    );
    host.applyBatch([add(1, "a", 1), add(2, "b", 2), add(3, "a", 3)]);
    expect(heard).toEqual([
      {
        events: [
          { index: 1, event: { name: "a", n: 1 } },
          { index: 2, event: { name: "b", n: 2 } },
          { index: 3, event: { name: "a", n: 4 } },
        ],
        // Everything the events announce is already readable, and the transaction is over.
        applied: 3,
        inTransaction: false,
        counters: { a: 4, b: 2 },
      },
    ]);
  });

  it("drops the events of a command that was rolled back, and delivers its neighbours'", () => {
    const host = tmp.open();
    const heard: PluginEvent[] = [];
    host.onEvents("counter", (events) => heard.push(...events));
    host.applyBatch([add(1, "a", 1), add(2, "a", 10, "refused"), add(3, "b", 1, "crash"), add(4, "a", 100)]);
    expect(heard).toEqual([
      { index: 1, event: { name: "a", n: 1 } },
      { index: 4, event: { name: "a", n: 101 } },
    ]);
  });

  it("delivers nothing from a batch that was not applied", () => {
    const host = tmp.open();
    const heard: PluginEvent[] = [];
    host.onEvents("counter", (events) => heard.push(...events));
    expect(() => host.applyBatch([add(1, "a", 1), entry(2, "nosuch", "x", {})])).toThrow(PluginMismatchError);
    expect(heard).toEqual([]);
  });

  it("delivers each plugin's events to that plugin's listeners only, and not after unsubscribing", () => {
    const host = tmp.open();
    const kvHeard: PluginEvent[] = [];
    const counterHeard: PluginEvent[] = [];
    host.onEvents("kv", (events) => kvHeard.push(...events));
    const stop = host.onEvents("counter", (events) => counterHeard.push(...events));
    host.applyBatch([put(1, "k", "v"), add(2, "a", 1)]);
    expect(kvHeard).toEqual([{ index: 1, event: { op: "put", key: "k", value: bytes("v"), createIndex: 1 } }]);
    expect(counterHeard).toEqual([{ index: 2, event: { name: "a", n: 1 } }]);
    stop();
    host.applyBatch([add(3, "a", 1)]);
    expect(counterHeard).toHaveLength(1);
  });

  it("keeps applying when a listener throws", () => {
    const host = tmp.open();
    const heard: PluginEvent[] = [];
    host.onEvents("counter", () => {
      throw new Error("listener bug");
    });
    host.onEvents("counter", (events) => heard.push(...events));
    host.onApplied(() => {
      throw new Error("listener bug");
    });
    expect(host.applyBatch([add(1, "a", 1)])).toEqual([{ ok: true, value: 1 }]);
    expect(host.appliedIndex()).toBe(1);
    expect(heard).toEqual([{ index: 1, event: { name: "a", n: 1 } }]);
  });
});

describe("PluginHost: apply is deterministic", () => {
  /** A fixed pseudo-random walk over kv commands: puts, cas puts (some failing), deletes, rollbacks, txns. */
  function kvWorkload(count: number) {
    let seed = 12345;
    const next = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    const keys = ["app/a", "app/b", "app/c/d", "svc/x", "é/ü"];
    const entries: CommittedCommand[] = [];
    for (let index = 1; index <= count; index++) {
      const key = keys[next(keys.length)]!;
      const choice = next(10);
      if (choice < 4) {
        entries.push(entry(index, "kv", "put", { key, value: Uint8Array.from({ length: next(40) }, () => next(256)) }, 1 + Math.floor(index / 50), 1_700_000_000_000 + index));
      } else if (choice < 6) {
        entries.push(entry(index, "kv", "put", { key, value: bytes(`cas-${index}`), cas: next(index) }));
      } else if (choice < 7) {
        entries.push(entry(index, "kv", "delete", { key }));
      } else if (choice < 8) {
        entries.push(entry(index, "kv", "rollback", { key, toIndex: 1 + next(index) }));
      } else {
        entries.push(
          entry(index, "kv", "txn", {
            compare: [{ key, exists: next(2) === 0 }],
            success: [{ op: "put", key, value: `txn-${index}` }, { op: "get", key: keys[next(keys.length)]! }],
            failure: [{ op: "delete", key: keys[next(keys.length)]! }],
          }),
        );
      }
    }
    return entries;
  }

  function kvQueries(host: PluginHost): Uint8Array {
    return stateBytes(host.database);
  }

  it("gives byte-identical kv state and outcomes on two hosts applying the same entries", () => {
    const entries = kvWorkload(300);
    const a = tmp.open("a.db", [kvHosted]);
    const b = tmp.open("b.db", [kvHosted]);
    const outcomesA = [];
    const outcomesB = [];
    for (let i = 0; i < entries.length; i += 25) outcomesA.push(...a.applyBatch(entries.slice(i, i + 25)));
    for (let i = 0; i < entries.length; i += 25) outcomesB.push(...b.applyBatch(entries.slice(i, i + 25)));
    // The workload really exercised both success and refusal.
    expect(outcomesA.some((o) => !o.ok)).toBe(true);
    expect(outcomesA.filter((o) => o.ok).length).toBeGreaterThan(100);
    expect(Bun.deepEquals(outcomesA, outcomesB, true)).toBe(true);
    expect(listEntries(a.database, "").length).toBeGreaterThan(0);
    expect(kvQueries(a)).toEqual(kvQueries(b));
    expect(a.appliedIndex()).toBe(300);
    expect(b.appliedIndex()).toBe(300);
  });

  it("reaches the same state whatever the batch sizes (nodes batch differently)", () => {
    const entries = kvWorkload(200);
    const one = tmp.open("one.db", [kvHosted]);
    const many = tmp.open("many.db", [kvHosted]);
    one.applyBatch(entries);
    for (let i = 0, size = 1; i < entries.length; i += size, size = (size % 7) + 1) many.applyBatch(entries.slice(i, i + size));
    expect(kvQueries(one)).toEqual(kvQueries(many));
    expect(one.appliedIndex()).toBe(many.appliedIndex());
  });

  it("gives the same state after a restart midway as without one", () => {
    const entries = kvWorkload(120);
    const straight = tmp.open("straight.db", [kvHosted, counter]);
    straight.applyBatch(entries);
    const interrupted = tmp.open("interrupted.db", [kvHosted, counter]);
    interrupted.applyBatch(entries.slice(0, 60));
    interrupted.close();
    const resumed = tmp.open("interrupted.db", [kvHosted, counter]);
    resumed.applyBatch(entries.slice(resumed.appliedIndex()));
    expect(kvQueries(resumed)).toEqual(kvQueries(straight));
  });
});
