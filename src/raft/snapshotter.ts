// Local snapshots and log compaction (§7), and persisting snapshots that
// arrive from the leader. A snapshot copies the state machine while holding
// the loop (so it matches the applied index exactly), then writes it without
// the loop (a big file must not stall heartbeats), then compacts the core's
// log and the stored log behind it, keeping `trailingLogs` entries.

import type { RaftCore } from "./core/raft.ts";
import type { Snapshot, SnapshotMeta } from "./core/types.ts";
import type { Applier } from "./apply.ts";
import { FatalNodeError, RaftError, ShutdownError } from "./errors.ts";
import type { FSM } from "./fsm.ts";
import type { Logger } from "./logger.ts";
import type { Mutex } from "./mutex.ts";
import type { RaftStorage, SnapshotStore } from "../storage/types.ts";

export interface SnapshotterOptions {
  core: RaftCore;
  storage: RaftStorage;
  snapshots: SnapshotStore;
  fsm: FSM;
  applier: Applier;
  loop: Mutex;
  logger: Logger;
  threshold: number;
  intervalMs: number;
  trailingLogs: number;
}

export class Snapshotter {
  private running: Promise<SnapshotMeta> | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private stopped = false;

  constructor(private readonly o: SnapshotterOptions) {}

  /** Checks snapshotThreshold every intervalMs, staggered up to 2x so a cluster's nodes do not all snapshot at once. */
  start(): void {
    if (this.stopped || this.o.intervalMs <= 0) return;
    this.timer = setTimeout(() => void this.automatic().finally(() => this.start()), this.o.intervalMs * (1 + Math.random()));
  }

  /**
   * Changes when automatic snapshots are taken, at once (the YAML's
   * snapshot.threshold and snapshot.interval reload live). The next check
   * comes after the new interval.
   */
  setPolicy(policy: { threshold: number; intervalMs: number; trailingLogs: number }): void {
    Object.assign(this.o, policy);
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.start();
  }

  /**
   * Called after each applied batch: starts a snapshot once the threshold is
   * reached instead of at the next interval check. Checked only every 30 s,
   * a node taking thousands of writes a second held 100,000s of entries in
   * its in-memory log and raft.db (its memory grew by hundreds of MiB), then
   * compacted them all in one long stall. The interval check stays, for the
   * threshold changed by a reload.
   */
  applied(): void {
    if (this.o.intervalMs > 0 && !this.stopped && !this.running && this.due()) void this.automatic();
  }

  /** No new snapshot starts; resolves once the one in flight (if any) has finished. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running?.catch(() => undefined);
  }

  /** Takes a snapshot now (after the one in flight); resolves with its meta, or the newest one's if nothing was applied since. */
  async snapshot(): Promise<SnapshotMeta> {
    while (this.running) await this.running.catch(() => undefined);
    if (this.stopped) throw new ShutdownError();
    const run = this.take();
    this.running = run;
    try {
      return await run;
    } finally {
      this.running = undefined;
    }
  }

  /** A snapshot from the leader: stored durably, then restored into the state machine (the log is replaced by the caller). */
  async install(snap: Snapshot): Promise<void> {
    try {
      await this.o.snapshots.create(snap.meta, snap.data);
    } catch (error) {
      throw new FatalNodeError(`storing the snapshot received at index ${snap.meta.index}`, error);
    }
    await this.o.applier.install(snap);
    this.o.logger.info("installed a snapshot from the leader", { index: snap.meta.index, term: snap.meta.term, bytes: snap.data.length });
  }

  /** Whether `threshold` entries were applied since the newest snapshot. */
  private due(): boolean {
    const { core, applier, threshold } = this.o;
    return applier.snapshotPoint.index - (core.snapshot?.meta.index ?? 0) >= threshold;
  }

  private async automatic(): Promise<void> {
    if (this.stopped || this.running || !this.due()) return;
    try {
      await this.snapshot();
    } catch (error) {
      if (!this.stopped) this.o.logger.warn("automatic snapshot failed", { error: String(error) });
    }
  }

  private async take(): Promise<SnapshotMeta> {
    const { core, storage, snapshots, fsm, applier, loop, logger, trailingLogs } = this.o;
    const release = await loop.acquire();
    let meta: SnapshotMeta;
    let data: Uint8Array;
    try {
      if (this.stopped) throw new ShutdownError();
      meta = applier.snapshotPoint;
      if (meta.index === 0 || meta.index <= core.status().snapshotIndex) {
        const existing = (await snapshots.latest())?.stored.meta;
        if (existing) return existing;
        throw new RaftError("NOTHING_TO_SNAPSHOT", "the state machine has applied no command yet, so there is nothing to snapshot");
      }
      data = await fsm.snapshot();
    } finally {
      release();
    }
    await snapshots.create(meta, data);
    if (this.stopped) return meta;
    // A no-op if a newer snapshot from the leader was installed meanwhile.
    core.compact(meta.index, data, trailingLogs);
    // Delete by our own snapshot's index, not the core's first index: the core
    // may already hold a leader's snapshot that the loop has not stored yet.
    const cut = meta.index - trailingLogs;
    const first = storage.log.firstIndex();
    if (first > 0 && cut >= first) storage.transaction(() => storage.log.deleteRange(first, cut));
    logger.info("snapshot taken", { index: meta.index, term: meta.term, bytes: data.length, logStartsAt: Math.max(first, cut + 1) });
    return meta;
  }
}
