// The linearizability checker on histories whose answer is known: it must
// accept every linearizable one and reject every one that is not, including
// the failures a Raft bug would cause (a stale read, a lost acknowledged
// write, a cas that succeeds twice).

import { describe, expect, it } from "bun:test";
import { checkLinearizable, type HistoryOp, type Operation } from "./linearizability.ts";

const w = (value: string | null, call: number, ret: number | null, label?: string): HistoryOp => ({ call, ret, op: { kind: "write", value }, label });
const r = (output: string | null, call: number, ret: number | null, label?: string): HistoryOp => ({ call, ret, op: { kind: "read", output }, label });
const cas = (expected: string | null, value: string, ok: boolean, call: number, ret: number | null): HistoryOp => ({ call, ret, op: { kind: "cas", expected, value, ok } });

const good: [string, HistoryOp[]][] = [
  ["an empty history", []],
  ["sequential writes and reads", [w("a", 0, 1), r("a", 2, 3), w("b", 4, 5), r("b", 6, 7)]],
  ["a read of the initial value (absent)", [r(null, 0, 1), w("a", 2, 3)]],
  ["a read overlapping a write may see either value", [w("a", 0, 1), w("b", 2, 10), r("a", 3, 4), r("b", 5, 6), r("b", 11, 12)]],
  ["concurrent writes, later reads agree on one order", [w("a", 0, 10), w("b", 0, 10), r("b", 11, 12), r("b", 13, 14)]],
  ["cas succeeds once from the value it expected, fails otherwise", [w("a", 0, 1), cas("a", "b", true, 2, 3), cas("a", "c", false, 4, 5), r("b", 6, 7)]],
  ["two concurrent cas from one value: one wins", [w("a", 0, 1), cas("a", "b", true, 2, 10), cas("a", "c", false, 2, 10), r("b", 11, 12)]],
  ["an unknown write that took effect", [w("a", 0, 1), w("b", 2, null), r("b", 5, 6)]],
  ["an unknown write that never took effect", [w("a", 0, 1), w("b", 2, null), r("a", 5, 6), r("a", 7, 8)]],
  ["an unknown write seen late (it may take effect any time after its call)", [w("a", 0, 1), w("b", 2, null), r("a", 5, 6), r("b", 7, 8)]],
];

const bad: [string, HistoryOp[]][] = [
  ["a read of a value never written", [w("a", 0, 1), r("z", 2, 3)]],
  ["a stale read: the old value after a later write returned", [w("a", 0, 1), w("b", 2, 3), r("a", 4, 5)]],
  ["a lost acknowledged write: absent after its write returned", [w("a", 0, 1), r(null, 2, 3)]],
  ["reads going back in time", [w("a", 0, 1), w("b", 2, 10), r("b", 3, 4), r("a", 5, 6)]],
  ["two cas from one value both succeed", [w("a", 0, 1), cas("a", "b", true, 2, 3), cas("a", "c", true, 4, 5)]],
  ["a cas that failed though the value was what it expected", [w("a", 0, 1), cas("a", "b", false, 2, 3)]],
  ["an unknown write seen, then unseen", [w("a", 0, 1), w("b", 2, null), r("b", 5, 6), r("a", 7, 8)]],
];

describe("linearizability checker", () => {
  for (const [name, history] of good) it(`accepts ${name}`, () => expect(checkLinearizable(history).linearizable).toBe(true));
  for (const [name, history] of bad) {
    it(`rejects ${name}`, () => {
      const result = checkLinearizable(history);
      expect(result.linearizable).toBe(false);
      expect(result.explanation).toContain("no order of the");
    });
  }

  it("names the operation that could not take effect", () => {
    const result = checkLinearizable([w("a", 0, 1, "c1"), w("b", 2, 3, "c2"), r("a", 4, 5, "c3")]);
    expect(result.explanation).toContain("c3: read -> \"a\" [4, 5]");
  });

  it("keeps the search small on a long, concurrent, linearizable history (memoization)", () => {
    // 5 clients, 400 operations: each writes its own values and reads back, overlapping the others.
    const history: HistoryOp[] = [];
    let t = 0;
    let last: string | null = null;
    for (let round = 0; round < 80; round++) {
      const start = t;
      const ops: Operation[] = [];
      for (let c = 0; c < 5; c++) ops.push(c % 2 === 0 ? { kind: "write", value: `v${round}-${c}` } : { kind: "read", output: last });
      // All five overlap; the writes take effect in client order, the reads before any of them.
      for (const op of ops) history.push({ call: start, ret: start + 10, op });
      last = `v${round}-4`;
      t += 20;
    }
    const result = checkLinearizable(history);
    expect(result.linearizable).toBe(true);
    expect(result.steps).toBeLessThan(100_000);
  });

  it("gives up, saying so, rather than searching forever", () => {
    const history = Array.from({ length: 14 }, (_, i) => w(`v${i}`, 0, 100)).concat([r("nope", 101, 102)]);
    expect(() => checkLinearizable(history, null, 1_000)).toThrow("gave up after 1000 search steps");
  });
});
