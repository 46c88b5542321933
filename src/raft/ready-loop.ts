// The node's loop. Every input (a message, a proposal, a tick) goes into the
// core at once, and one "process ready" pass is scheduled for the end of the
// turn, so everything that arrived in a turn is handled together. A pass
// persists the snapshot, entries and hard state (one storage transaction: one
// fsync for the whole turn, i.e. group commit), THEN sends messages (a
// leader's appends go before the fsync, so followers store them meanwhile),
// THEN applies committed entries and settles the futures waiting on them.
// Passes never overlap.

import type { RaftCore } from "./core/raft.ts";
import type { Message, Ready } from "./core/types.ts";
import type { AddressBook } from "./addresses.ts";
import type { Applier } from "./apply.ts";
import { FatalNodeError } from "./errors.ts";
import type { Futures } from "./futures.ts";
import type { Logger } from "./logger.ts";
import type { Mutex } from "./mutex.ts";
import type { Snapshotter } from "./snapshotter.ts";
import type { RaftStorage } from "../storage/types.ts";
import type { Transport } from "../transport/types.ts";

export interface ReadyLoopOptions {
  core: RaftCore;
  storage: RaftStorage;
  transport: Transport;
  snapshotter: Snapshotter;
  applier: Applier;
  futures: Futures;
  addresses: AddressBook;
  loop: Mutex;
  logger: Logger;
  /** True once the node is shut down: no more passes. */
  closed: () => boolean;
  /** Called after every batch: role and leader changes. */
  observe: () => void;
  /** A pass failed: the node stops. */
  fail: (error: FatalNodeError) => void;
}

export class ReadyLoop {
  /** Term of the last entry handed out as committed: the leader may change membership once it equals its term. */
  committedTerm = 0;
  private passScheduled = false;
  private passRunning = false;

  constructor(private readonly o: ReadyLoopOptions) {}

  schedule(): void {
    if (this.passScheduled || this.o.closed()) return;
    this.passScheduled = true;
    setImmediate(() => {
      this.passScheduled = false;
      void this.runPasses();
    });
  }

  private async runPasses(): Promise<void> {
    // A running pass re-checks hasReady() before it ends, so it picks up whatever arrived meanwhile.
    if (this.passRunning || this.o.closed()) return;
    this.passRunning = true;
    const release = this.o.loop.tryAcquire() ?? (await this.o.loop.acquire());
    try {
      while (!this.o.closed() && this.o.core.hasReady()) {
        await this.handleReady(this.o.core.ready());
        this.o.observe();
      }
    } catch (error) {
      this.o.fail(error instanceof FatalNodeError ? error : new FatalNodeError("processing a ready batch", error));
    } finally {
      release();
      this.passRunning = false;
    }
  }

  private async handleReady(rd: Ready): Promise<void> {
    const { applier, futures } = this.o;
    // A leader's appends go on the wire first, so the followers fsync while we
    // do. No message is stepped before persist() below returns: nothing is
    // awaited in between, and persist() is synchronous.
    const early = rd.sendBeforePersist;
    if (early > 0) this.sendNow(rd.messages.slice(0, early));
    if (rd.snapshot) await this.o.snapshotter.install(rd.snapshot);
    if (rd.snapshot || rd.entries.length > 0 || rd.hardState) this.persist(rd);
    if (rd.messages.length > early) this.sendNow(early > 0 ? rd.messages.slice(early) : rd.messages);
    if (rd.committed.length > 0) {
      this.committedTerm = rd.committed[rd.committed.length - 1]!.term;
      await applier.apply(rd.committed);
      this.o.snapshotter.applied();
    }
    for (const id of rd.failedReads) futures.readFailed(id);
    for (const { id, index } of rd.readStates) futures.readConfirmed(id, index, applier.applied);
    futures.appliedUpTo(applier.applied);
  }

  /** Snapshot log reset, entries and hard state in one transaction: one fsync for the whole turn. */
  private persist(rd: Ready): void {
    try {
      const { log, stable } = this.o.storage;
      this.o.storage.transaction(() => {
        if (rd.snapshot) {
          // The core kept only what follows the snapshot and re-emits it in rd.entries.
          const first = log.firstIndex();
          if (first > 0) log.deleteRange(first, log.lastIndex());
        }
        if (rd.entries.length > 0) log.storeEntries(rd.entries);
        if (rd.hardState) stable.setHardState(rd.hardState);
      });
    } catch (error) {
      throw new FatalNodeError("persisting entries and hard state", error);
    }
  }

  private sendNow(messages: Message[]): void {
    this.send(messages);
    this.o.transport.flush?.();
  }

  private send(messages: Message[]): void {
    const { core, addresses, logger } = this.o;
    // status() copies the progress table: only call it when the configuration moved.
    if (core.configs.latest().index !== addresses.at) addresses.refresh(core.status());
    for (const m of messages) {
      const address = addresses.get(m.to);
      if (address === undefined) {
        logger.debug("dropping a message to a server with no known address", { to: m.to, type: m.type });
        continue;
      }
      try {
        this.o.transport.send({ id: m.to, address }, m);
      } catch (error) {
        logger.warn("transport refused a message", { to: m.to, type: m.type, error: String(error) });
      }
    }
  }
}
