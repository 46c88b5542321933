// The leader's task: decide from its clock, its heartbeats and its checks'
// results which instances changed health, and replicate only those changes,
// in batches of up to 1,000 per Raft entry.

import type { NamingRuntime } from "./commands.ts";
import { dueTtlChanges, instanceKey, leaderMemory, type TtlChange } from "./heartbeats.ts";
import { catalogIndex, ttlRows, type TtlRow } from "./store.ts";
import { dueCheckChanges } from "./checks.ts";

/** A gap this long between sweeps (not leading, or a stalled loop in which heartbeats went unheard) counts every instance as renewed. */
const SWEEP_GAP_MS = 2_000;
const BATCH = 1_000;

export async function sweep(plugin: NamingRuntime): Promise<void> {
  const memory = leaderMemory(plugin);
  const now = Date.now();
  memory.beginSweep(now, performance.now(), SWEEP_GAP_MS);
  const changes: (TtlChange & { check?: { status: "passing" | "critical"; output: string } })[] = [];
  if (now - memory.lastTtlPass >= plugin.config.sweepMs || memory.recovering) {
    memory.lastTtlPass = now;
    memory.recovering = false;
    changes.push(...dueTtlChanges(cachedTtlRows(plugin, memory), memory, now));
  }
  // One change per instance: a second one at the same ifIndex would be dropped by apply.
  const byKey = new Map(changes.map((c) => [instanceKey(c.service, c.id), c]));
  for (const c of dueCheckChanges(plugin, memory, now)) {
    const same = byKey.get(instanceKey(c.service, c.id));
    if (same) {
      if (!same.remove) same.check = c.check;
    } else {
      changes.push(c);
      byKey.set(instanceKey(c.service, c.id), c);
    }
  }
  for (let i = 0; i < changes.length; i += BATCH) {
    await plugin.write("transitions", { changes: changes.slice(i, i + BATCH) });
  }
}

/**
 * The TTL rows, read again only when some service changed: every change to an
 * instance moves the catalog index, so with 10,000 steady instances a sweep
 * costs a loop over memory instead of a 10,000-row query.
 */
function cachedTtlRows(plugin: NamingRuntime, memory: { ttlRows?: { at: number; rows: TtlRow[] } }): TtlRow[] {
  return plugin.peek((db) => {
    const at = catalogIndex(db);
    if (memory.ttlRows?.at !== at) memory.ttlRows = { at, rows: ttlRows(db) };
    return memory.ttlRows.rows;
  });
}
