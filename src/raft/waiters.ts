// The futures behind the node's promise-returning calls. Each waiter owns its
// timer (cleared the moment it settles, so nothing leaks) and its removal
// from whatever collection holds it, and the registry knows every waiter
// still outstanding so that shutdown can reject them all.

import { TimeoutError } from "./errors.ts";

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

/** A lock for async sections: the ready loop and snapshotting must not interleave with each other. */
export class Mutex {
  private locked = false;
  private queue: (() => void)[] = [];

  /** Takes the lock now if it is free (no await, so the uncontended ready loop stays synchronous). */
  tryAcquire(): (() => void) | undefined {
    if (this.locked) return undefined;
    this.locked = true;
    return () => this.release();
  }

  acquire(): Promise<() => void> {
    const now = this.tryAcquire();
    if (now) return Promise.resolve(now);
    return new Promise((resolve) => this.queue.push(() => resolve(() => this.release())));
  }

  private release(): void {
    const next = this.queue.shift();
    if (next) next();
    else this.locked = false;
  }
}
