// The futures behind the node's promise-returning calls. Each waiter owns its
// timer (cleared the moment it settles, so nothing leaks) and its removal
// from whatever collection holds it; `Futures` keeps them by what they wait
// for (an entry, an applied index, a read confirmation, a condition) and
// knows every one still outstanding, so that shutdown can reject them all.

import type { Entry } from "./core/types.ts";
import { LeadershipLostError, TimeoutError } from "./errors.ts";

export class Waiter<T> {
  readonly promise: Promise<T>;
  private resolveFn!: (value: T) => void;
  private rejectFn!: (error: unknown) => void;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private settled = false;
  /** Removes the waiter from the collection currently holding it; replaced when it moves. */
  cleanup: () => void = () => {};

  constructor(
    readonly operation: string,
    timeoutMs: number,
    private readonly registry: WaiterRegistry,
  ) {
    this.promise = new Promise<T>((resolve, reject) => {
      this.resolveFn = resolve;
      this.rejectFn = reject;
    });
    if (timeoutMs > 0 && Number.isFinite(timeoutMs)) {
      this.timer = setTimeout(() => this.reject(new TimeoutError(operation, timeoutMs)), timeoutMs);
    }
  }

  get done(): boolean {
    return this.settled;
  }

  resolve(value: T): void {
    if (this.finish()) this.resolveFn(value);
  }

  reject(error: unknown): void {
    if (this.finish()) this.rejectFn(error);
  }

  private finish(): boolean {
    if (this.settled) return false;
    this.settled = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.registry.forget(this);
    this.cleanup();
    return true;
  }
}

interface Rejectable {
  reject(error: unknown): void;
}

export class WaiterRegistry {
  private readonly outstanding = new Set<Rejectable>();

  create<T>(operation: string, timeoutMs: number): Waiter<T> {
    const w = new Waiter<T>(operation, timeoutMs, this);
    this.outstanding.add(w);
    return w;
  }

  forget(w: Rejectable): void {
    this.outstanding.delete(w);
  }

  get size(): number {
    return this.outstanding.size;
  }

  rejectAll(error: unknown): void {
    for (const w of [...this.outstanding]) w.reject(error);
  }
}

export interface ApplyResult {
  index: number;
  /** What the state machine's apply returned. */
  response: unknown;
}

export type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

export class Futures {
  private readonly registry = new WaiterRegistry();
  /** apply() and membership calls, by the index and term their entry got. */
  private readonly entries = new Map<number, { term: number; waiter: Waiter<ApplyResult> }>();
  /** Waiting for the state machine to reach an index; leaderOnly ones fail when leadership is lost (barrier). */
  private readonly applied = new Set<{ index: number; waiter: Waiter<number>; leaderOnly: boolean }>();
  /** ReadIndex requests the core has not confirmed yet, by request id. */
  private readonly reads = new Map<number, { waiter: Waiter<number>; thenApply: boolean }>();
  private readonly conditions = new Set<{ poll: () => unknown; waiter: Waiter<unknown> }>();

  constructor(private readonly translate: (error: unknown) => unknown) {}

  get outstanding(): number {
    return this.registry.size;
  }

  forEntry(operation: string, at: { index: number; term: number }, timeoutMs: number): Promise<ApplyResult> {
    const waiter = this.registry.create<ApplyResult>(operation, timeoutMs);
    this.entries.set(at.index, { term: at.term, waiter });
    waiter.cleanup = () => {
      if (this.entries.get(at.index)?.waiter === waiter) this.entries.delete(at.index);
    };
    return waiter.promise;
  }

  forApplied(operation: string, index: number, appliedNow: number, leaderOnly: boolean, timeoutMs: number): Promise<number> {
    if (appliedNow >= index) return Promise.resolve(index);
    const waiter = this.registry.create<number>(operation, timeoutMs);
    this.waitApplied(waiter, index, leaderOnly);
    return waiter.promise;
  }

  forRead(operation: string, id: number, thenApply: boolean, timeoutMs: number): Promise<number> {
    const waiter = this.registry.create<number>(operation, timeoutMs);
    this.reads.set(id, { waiter, thenApply });
    waiter.cleanup = () => this.reads.delete(id);
    return waiter.promise;
  }

  /** Resolves with poll()'s first defined value, polled now and at every pollAll(); rejects if it throws. */
  until<T>(operation: string, timeoutMs: number, poll: () => T | undefined): Promise<T> {
    const waiter = this.registry.create<T>(operation, timeoutMs);
    const c = { poll, waiter: waiter as Waiter<unknown> };
    this.conditions.add(c);
    waiter.cleanup = () => this.conditions.delete(c);
    this.poll(c);
    return waiter.promise;
  }

  /** An entry was applied: settle the call that proposed it, but only if it is that entry (same term). */
  entryApplied(e: Entry, outcome: Outcome): void {
    const pending = this.entries.get(e.index);
    if (!pending) return;
    if (pending.term !== e.term) pending.waiter.reject(new LeadershipLostError("replicating the entry", e.index));
    else if (outcome.ok) pending.waiter.resolve({ index: e.index, response: outcome.value });
    else pending.waiter.reject(outcome.error);
  }

  appliedUpTo(index: number): void {
    for (const w of this.applied) if (w.index <= index) w.waiter.resolve(w.index);
  }

  /** The core confirmed leadership for read `id` at `index`. */
  readConfirmed(id: number, index: number, appliedNow: number): void {
    const read = this.reads.get(id);
    if (!read) return;
    this.reads.delete(id);
    if (!read.thenApply || appliedNow >= index) read.waiter.resolve(index);
    // A confirmed read stays valid if leadership is lost later: it only waits for the state machine.
    else this.waitApplied(read.waiter, index, false);
  }

  readFailed(id: number): void {
    this.reads.get(id)?.waiter.reject(new LeadershipLostError("confirming leadership for a read"));
  }

  /** Writes in flight may or may not commit under the next leader: their outcome is unknown. */
  leadershipLost(): void {
    for (const { waiter } of this.entries.values()) waiter.reject(new LeadershipLostError(waiter.operation));
    for (const w of this.applied) if (w.leaderOnly) w.waiter.reject(new LeadershipLostError(w.waiter.operation));
  }

  pollAll(): void {
    for (const c of this.conditions) this.poll(c);
  }

  rejectAll(error: unknown): void {
    this.registry.rejectAll(error);
  }

  private waitApplied(waiter: Waiter<number>, index: number, leaderOnly: boolean): void {
    const entry = { index, waiter, leaderOnly };
    this.applied.add(entry);
    waiter.cleanup = () => this.applied.delete(entry);
  }

  private poll(c: { poll: () => unknown; waiter: Waiter<unknown> }): void {
    try {
      const value = c.poll();
      if (value !== undefined) c.waiter.resolve(value);
    } catch (error) {
      c.waiter.reject(this.translate(error));
    }
  }
}
