// A linearizability checker for one key's history (Wing & Gong's search with
// Lowe's memoization, as Knossos and Porcupine do): is there an order of the
// operations, each taking effect at one instant between its call and its
// return, in which every read sees the latest write and every cas holds?
//
// An operation whose outcome is unknown (a client timed out, or its node was
// killed) may have taken effect at any instant after its call, or never: it
// has no return, and it is the only kind the search may leave out.

/** The register a key is: its value, or null while absent. */
export type Value = string | null;

export type Operation =
  | { kind: "read"; output: Value }
  | { kind: "write"; value: Value }
  /** Compare-and-set on the value: `ok` says whether it replaced `expected` by `value`. */
  | { kind: "cas"; expected: Value; value: Value; ok: boolean };

export interface HistoryOp {
  /** When the client invoked it, and when the answer came (null: unknown outcome). Any monotonic clock. */
  call: number;
  ret: number | null;
  op: Operation;
  /** For reports: which client, what it was. */
  label?: string;
}

export interface CheckResult {
  linearizable: boolean;
  /** When it is not: the longest prefix of operations that could be ordered, and the first that then could not. */
  explanation?: string;
  /** Search states visited, for the tests that check memoization keeps it small. */
  steps: number;
}

/** Applies `op` to `state`: the next state, or null when `op` cannot happen in `state`. */
function step(state: Value, op: Operation, outcomeKnown: boolean): Value | undefined {
  switch (op.kind) {
    case "read":
      // An unknown read constrains nothing.
      return !outcomeKnown || op.output === state ? state : undefined;
    case "write":
      return op.value;
    case "cas":
      if (!outcomeKnown) return state === op.expected ? op.value : state;
      if (op.ok) return state === op.expected ? op.value : undefined;
      return state !== op.expected ? state : undefined;
  }
}

interface Entry {
  id: number;
  time: number;
  isCall: boolean;
  prev: Entry | null;
  next: Entry | null;
  /** The call's matching return entry (null for an unknown outcome). */
  match: Entry | null;
}

export function checkLinearizable(history: readonly HistoryOp[], initial: Value = null, maxSteps = 5_000_000): CheckResult {
  const n = history.length;
  // Calls and returns in time order; at equal times, a return goes before a call (the conservative order:
  // an operation that returned at t does not overlap one called at t).
  const events: { id: number; time: number; isCall: boolean }[] = [];
  for (const [id, h] of history.entries()) {
    events.push({ id, time: h.call, isCall: true });
    if (h.ret !== null) {
      if (h.ret < h.call) throw new Error(`operation ${id} returns before it is called`);
      events.push({ id, time: h.ret, isCall: false });
    }
  }
  events.sort((a, b) => a.time - b.time || Number(a.isCall) - Number(b.isCall));
  const head: Entry = { id: -1, time: -Infinity, isCall: false, prev: null, next: null, match: null };
  let tail = head;
  const callEntry = new Map<number, Entry>();
  for (const e of events) {
    const entry: Entry = { ...e, prev: tail, next: null, match: null };
    tail.next = entry;
    tail = entry;
    if (e.isCall) callEntry.set(e.id, entry);
    else callEntry.get(e.id)!.match = entry;
  }

  const lift = (call: Entry): void => {
    call.prev!.next = call.next;
    if (call.next) call.next.prev = call.prev;
    const ret = call.match;
    if (ret) {
      ret.prev!.next = ret.next;
      if (ret.next) ret.next.prev = ret.prev;
    }
  };
  const unlift = (call: Entry): void => {
    const ret = call.match;
    if (ret) {
      ret.prev!.next = ret;
      if (ret.next) ret.next.prev = ret;
    }
    call.prev!.next = call;
    if (call.next) call.next.prev = call;
  };

  // The memo key is the set of linearized operations and the state. The set is
  // kept as a 64-bit Zobrist hash (two random 32-bit words per operation,
  // XORed in and out), so a step costs O(1) instead of O(n); two different sets
  // colliding is a 2^-64 event per pair.
  const zobrist = new Uint32Array(2 * n);
  let seed = 0x9e3779b9;
  for (let i = 0; i < zobrist.length; i++) {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    zobrist[i] = seed >>> 0;
  }
  let h1 = 0;
  let h2 = 0;
  const toggle = (id: number) => {
    h1 = (h1 ^ zobrist[2 * id]!) >>> 0;
    h2 = (h2 ^ zobrist[2 * id + 1]!) >>> 0;
  };
  const seen = new Set<string>();
  const key = (state: Value) => `${h1}:${h2}|${state === null ? "\u0000" : state}`;
  const stack: { call: Entry; state: Value }[] = [];
  let state = initial;
  let steps = 0;
  let longest = 0;
  let stuckAt: Entry | null = null;
  let entry = head.next;
  /** Undoes the last linearized operation and goes on after it; false when there is none left to undo. */
  const backtrack = (): boolean => {
    const top = stack.pop();
    if (!top) return false;
    unlift(top.call);
    toggle(top.call.id);
    state = top.state;
    entry = top.call.next;
    return true;
  };

  for (;;) {
    if (++steps > maxSteps) throw new Error(`gave up after ${maxSteps} search steps (${n} operations): the history is too concurrent to check`);
    // Only unknown-outcome calls left (or nothing): they may never have happened.
    let rest = head.next;
    while (rest && rest.isCall && rest.match === null) rest = rest.next;
    if (rest === null) return { linearizable: true, steps };

    if (entry === null) {
      // Nothing more to try at this level: the remaining unknowns cannot all be placed; backtrack.
      if (!backtrack()) break;
      continue;
    }
    if (entry.isCall) {
      const h = history[entry.id]!;
      const next = step(state, h.op, h.ret !== null);
      if (next !== undefined) {
        toggle(entry.id);
        const k = key(next);
        if (!seen.has(k)) {
          seen.add(k);
          stack.push({ call: entry, state });
          if (stack.length > longest) {
            longest = stack.length;
            stuckAt = null;
          }
          state = next;
          lift(entry);
          entry = head.next;
          continue;
        }
        toggle(entry.id);
      }
      entry = entry.next;
    } else {
      // A return whose call is not linearized yet: it must have taken effect by now, and could not.
      if (stack.length === longest && stuckAt === null) stuckAt = callEntry.get(entry.id)!;
      if (!backtrack()) break;
    }
  }
  const culprit = stuckAt ? history[stuckAt.id]! : undefined;
  return {
    linearizable: false,
    steps,
    explanation: `no order of the ${n} operations works; at best ${longest} could be ordered${culprit ? `, and then ${describe(culprit)} could not take effect` : ""}`,
  };
}

function describe(h: HistoryOp): string {
  const what =
    h.op.kind === "read" ? `read -> ${JSON.stringify(h.op.output)}` : h.op.kind === "write" ? `write ${JSON.stringify(h.op.value)}` : `cas ${JSON.stringify(h.op.expected)} -> ${JSON.stringify(h.op.value)} (${h.op.ok ? "ok" : "failed"})`;
  return `${h.label ? `${h.label}: ` : ""}${what} [${h.call}, ${h.ret ?? "unknown"}]`;
}
