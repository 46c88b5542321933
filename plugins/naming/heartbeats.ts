// TTL heartbeats, kept by the leader in memory. A heartbeat is not
// replicated: 10,000 instances renewing every 10 s would otherwise be 1,000
// Raft entries a second, each fsynced on every node. The leader notes when it
// last heard each instance and replicates only health changes, decided by its
// clock: passing -> critical when the TTL runs out, critical -> passing on a
// heartbeat, removal after the instance stayed critical for its grace period.
//
// The memory is lost with the leader. A new leader therefore counts every
// instance as renewed when it takes over, so a failover never expires a
// healthy instance; the price is that a dead one is noticed up to one TTL late.

import type { CheckResult } from "./checks.ts";
import type { CheckRow, TtlRow } from "./store.ts";

export const instanceKey = (service: string, id: string): string => `${service}\u0000${id}`;

/** What one node remembers while it leads. Kept per node, keyed by its plugin runtime. */
export class LeaderMemory {
  /** When this node last became leader (this node's clock, ms), noted by the node service that watches its role. */
  leaderSince = 0;
  /** Last heartbeat heard here, by instance key (this node's clock, ms). */
  readonly seen = new Map<string, number>();
  /** When this node's current stretch of leading began, as far as the sweep knows (ms); no TTL runs out before since + TTL. */
  since = 0;
  /** When the TTL pass last ran (ms); it runs every naming.sweepMs, or sooner once a critical instance was heard. */
  lastTtlPass = Number.NEGATIVE_INFINITY;
  recovering = false;
  /** The TTL rows as of a catalog index (see sweep.ts). */
  ttlRows: { at: number; rows: TtlRow[] } | undefined;
  checkRows: { at: number; rows: CheckRow[] } | undefined;
  /** performance.now() of the last sweep, to notice a gap: a new term, or a stall in which heartbeats went unheard. */
  private lastSweep = Number.NEGATIVE_INFINITY;

  /** Active checks this leader runs: their schedule and last result, by instance key. */
  readonly checks = new Map<string, { spec: string; nextAt: number; running: boolean; result: CheckResult | undefined }>();
  probesInFlight = 0;

  heard(service: string, id: string, now: number): void {
    this.seen.set(instanceKey(service, id), now);
  }

  /**
   * Called at the start of each sweep. A sweep after a gap of more than
   * `gapMs` (this node was not leading, or its loop stalled) starts a new
   * stretch: every instance counts as renewed now.
   */
  beginSweep(now: number, monotonic: number, gapMs: number): void {
    const since = Math.max(monotonic - this.lastSweep > gapMs ? now : this.since, this.leaderSince);
    // Results from an earlier stretch may be older than what another leader replicated since.
    if (since !== this.since) this.checks.clear();
    this.since = since;
    this.lastSweep = monotonic;
  }
}

const memories = new WeakMap<object, LeaderMemory>();

/** This node's memory: one node gives its routes, leader task and node service the same runtime. */
export function leaderMemory(runtime: object): LeaderMemory {
  let memory = memories.get(runtime);
  if (!memory) memories.set(runtime, (memory = new LeaderMemory()));
  return memory;
}

export interface TtlChange {
  service: string;
  id: string;
  ifIndex: number;
  ttl?: "passing" | "critical";
  remove?: true;
}

/**
 * The TTL changes due at `now` (leader clock), from the replicated rows and
 * this leader's memory. Pure, so it is tested case by case. Also forgets the
 * heartbeats of instances that no longer exist.
 */
export function dueTtlChanges(rows: readonly TtlRow[], memory: LeaderMemory, now: number): TtlChange[] {
  const changes: TtlChange[] = [];
  const live = new Set<string>();
  for (const r of rows) {
    const key = instanceKey(r.service, r.id);
    live.add(key);
    const seen = memory.seen.get(key) ?? Number.NEGATIVE_INFINITY;
    if (r.ttl_status === "passing") {
      const lastSign = Math.max(seen, memory.since, r.renewed_at);
      if (now - lastSign > r.ttl_ms) changes.push({ service: r.service, id: r.id, ifIndex: r.modify_index, ttl: "critical" });
      continue;
    }
    const criticalSince = r.ttl_critical_since ?? r.renewed_at;
    // A heartbeat heard in the same millisecond as the decision came after it: the sweep and the proposal run in one turn.
    if (seen >= criticalSince) {
      changes.push({ service: r.service, id: r.id, ifIndex: r.modify_index, ttl: "passing" });
    } else if (now >= Math.max(criticalSince + r.deregister_after_ms, memory.since + r.ttl_ms)) {
      // A heartbeat sent to the previous leader just before it failed is not
      // lost for good: a new leader waits at least one TTL before removing.
      changes.push({ service: r.service, id: r.id, ifIndex: r.modify_index, remove: true });
    }
  }
  if (memory.seen.size > live.size) {
    for (const key of memory.seen.keys()) if (!live.has(key)) memory.seen.delete(key);
  }
  return changes;
}

/** Where one TTL instance stands by the leader's clock and memory: what a console's countdown starts from. */
export interface TtlClock {
  /** Ms since the last sign of life the leader counts: a heartbeat it heard, the registration, or the start of its leadership. */
  lastSignAgoMs: number;
  /** Ms until the leader's sweep may decide `due` (negative: overdue, the next sweep decides). */
  dueInMs: number;
  /** passing: it goes critical; critical: it is removed. */
  due: "critical" | "remove";
}

/** The same arithmetic as dueTtlChanges, told as time left rather than as a decision. */
export function ttlClock(row: TtlRow, memory: LeaderMemory, now: number): TtlClock {
  const seen = memory.seen.get(instanceKey(row.service, row.id)) ?? Number.NEGATIVE_INFINITY;
  // The sweep's own stretch may not have begun yet (its grace after an election): leaderSince is when it will.
  const since = Math.max(memory.since, memory.leaderSince);
  if (row.ttl_status === "passing") {
    const lastSign = Math.max(seen, since, row.renewed_at);
    return { lastSignAgoMs: now - lastSign, dueInMs: lastSign + row.ttl_ms - now, due: "critical" };
  }
  const criticalSince = row.ttl_critical_since ?? row.renewed_at;
  return { lastSignAgoMs: now - Math.max(seen, row.renewed_at), dueInMs: Math.max(criticalSince + row.deregister_after_ms, since + row.ttl_ms) - now, due: "remove" };
}
