// The ready loop and snapshotting both touch the state machine across
// awaits; this lock keeps them from interleaving.

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
