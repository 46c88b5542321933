// The checkers can fail: each invariant is fed a hand-built bad history and
// must throw, naming itself. A simulation that never fails proves nothing
// unless its checks are known to bite.

import { afterEach, describe, expect, it } from "bun:test";
import { RaftCore } from "../../src/raft/core/raft.ts";
import type { Message } from "../../src/raft/core/types.ts";
import { InvariantViolation, SafetyChecker, type LogView } from "./checker.ts";
import { simulate } from "./simulator.ts";

const holds = (entries: [number, number][]): LogView => ({
  has: (index, term) => entries.some(([i, t]) => i === index && t === term),
});
const rec = (index: number, term: number, key: string) => ({ index, term, key });

function violation(f: () => void): InvariantViolation {
  try {
    f();
  } catch (error) {
    if (error instanceof InvariantViolation) return error;
    throw error;
  }
  throw new Error("expected an invariant violation, but the history was accepted");
}

describe("SafetyChecker", () => {
  it("Election Safety: refuses two leaders in one term, even at different times", () => {
    const c = new SafetyChecker();
    c.leader("n1", 5, holds([]));
    c.leader("n1", 5, holds([])); // the same leader seen again is fine
    c.leader("n2", 6, holds([]));
    const v = violation(() => c.leader("n3", 5, holds([])));
    expect(v.invariant).toBe("Election Safety");
    expect(v.detail).toContain("n1 and n3 were both leader in term 5");
  });

  it("State Machine Safety: refuses divergent entries applied at one index", () => {
    const c = new SafetyChecker();
    c.applied("n1", rec(1, 1, "cfg"), 1, []);
    c.applied("n1", rec(2, 2, "cmd:a"), 2, []);
    c.applied("n2", rec(2, 2, "cmd:a"), 2, []);
    expect(violation(() => c.applied("n3", rec(2, 3, "cmd:a"), 3, [])).invariant).toBe("State Machine Safety");
    expect(violation(() => c.applied("n3", rec(2, 2, "cmd:b"), 3, [])).invariant).toBe("State Machine Safety");
    // A snapshot restored with a different history is divergence too.
    expect(violation(() => c.restoredFrom("n4", [rec(1, 1, "cfg"), rec(2, 2, "cmd:x")], 3)).invariant).toBe("State Machine Safety");
  });

  it("Leader Completeness: a new leader must hold every entry committed before its term", () => {
    const c = new SafetyChecker();
    c.applied("n1", rec(7, 2, "cmd:a"), 3, []); // committed while the highest term was 3
    c.leader("n2", 2, holds([])); // an older term need not have it
    const v = violation(() => c.leader("n3", 4, holds([[6, 2]])));
    expect(v.invariant).toBe("Leader Completeness");
    expect(v.detail).toContain("committed entry 7");
    c.leader("n4", 5, holds([[7, 2]]));
  });

  it("Leader Completeness: a sitting leader must already hold an entry when it is committed", () => {
    const c = new SafetyChecker();
    const v = violation(() => c.applied("n1", rec(3, 2, "cmd:a"), 2, [{ id: "n2", term: 2, log: holds([]) }]));
    expect(v.invariant).toBe("Leader Completeness");
  });

  it("Log Matching: one (index, term) never holds two contents or follows two different terms", () => {
    const c = new SafetyChecker();
    c.logWritten("n1", 0, [rec(1, 1, "cfg"), rec(2, 1, "cmd:a"), rec(3, 2, "cmd:b")]);
    c.logWritten("n2", 1, [rec(2, 1, "cmd:a")]);
    expect(violation(() => c.logWritten("n2", 1, [rec(2, 1, "cmd:z")])).invariant).toBe("Log Matching");
    expect(violation(() => c.logWritten("n3", 2, [rec(3, 2, "cmd:b")])).detail).toContain("follows an entry of term 2");
    expect(violation(() => c.logWritten("n3", 3, [rec(4, 2, "cmd:c")])).detail).toContain("after an entry of term 3");
  });

  it("Committed Entry Durability: a committed entry is never dropped from a log", () => {
    const c = new SafetyChecker();
    c.applied("n1", rec(4, 2, "cmd:a"), 2, []);
    c.entryDropped("n2", 4, 1, 3); // a different, uncommitted entry at that index may go
    expect(violation(() => c.entryDropped("n2", 4, 2, 3)).invariant).toBe("Committed Entry Durability");
    expect(violation(() => c.entryDropped("n3", 9, 5, 9)).detail).toContain("persisted commit index 9");
  });

  it("Committed Entry Durability: a restarted node loads its whole disk", () => {
    const c = new SafetyChecker();
    c.restarted("n1", { lastIndex: 9, lastTerm: 3, commit: 7 }, { lastIndex: 9, lastTerm: 3, commit: 7 });
    expect(violation(() => c.restarted("n1", { lastIndex: 9, lastTerm: 3, commit: 7 }, { lastIndex: 8, lastTerm: 3, commit: 7 })).invariant).toBe(
      "Committed Entry Durability",
    );
    expect(violation(() => c.restarted("n1", { lastIndex: 9, lastTerm: 3, commit: 7 }, { lastIndex: 9, lastTerm: 3, commit: 5 })).detail).toContain(
      "persisted commit 7",
    );
  });

  it("commit never goes back without a crash, and nothing is applied before it is committed", () => {
    const c = new SafetyChecker();
    c.progress("n1", 0, 5, 5);
    expect(violation(() => c.progress("n1", 0, 4, 4)).invariant).toBe("Commit Monotonic");
    c.progress("n1", 1, 3, 3); // a new incarnation may restart lower
    expect(violation(() => c.progress("n1", 1, 3, 4)).invariant).toBe("Applied <= Commit");
  });

  it("Linearizable Read: a read must see every write committed before it was issued", () => {
    const c = new SafetyChecker();
    c.read("n1", "readIndex", 1, 10, 10);
    expect(violation(() => c.read("n1", "lease", 2, 9, 10)).invariant).toBe("Linearizable Read");
  });

  it("Convergence: members must end with the same applied sequence", () => {
    const c = new SafetyChecker();
    const a = [rec(1, 1, "cfg"), rec(2, 1, "cmd:a")];
    c.converged([
      { id: "n1", records: a },
      { id: "n2", records: [...a] },
    ]);
    expect(violation(() => c.converged([{ id: "n1", records: a }, { id: "n2", records: a.slice(0, 1) }])).detail).toContain("at index 2");
  });
});

describe("the simulation catches a broken core", () => {
  const realStep = RaftCore.prototype.step;
  afterEach(() => {
    RaftCore.prototype.step = realStep;
  });

  it("finds a voter that skips the up-to-date check (§5.4.1) as a Leader Completeness violation", () => {
    // Every vote request is doctored to claim the longest possible log, so
    // voters grant votes to candidates that lack committed entries.
    RaftCore.prototype.step = function (this: RaftCore, m: Message) {
      realStep.call(this, m.type === "vote" ? { ...m, lastLogIndex: 1e9, lastLogTerm: 1e9 } : m);
    };
    const failures = [1, 2, 3, 4, 5, 6, 7, 8].map((seed) => simulate({ seed }).failure?.invariant);
    expect(failures).toContain("Leader Completeness");
  });
});
