// Routing rules and resolve: a service's rules split its healthy instances
// into subsets by tags and metadata, each with a share of the traffic
// (canary: 90 to version=v1, 10 to version=v2). Each instance's share is its
// subset's share divided by instance weight; a pick is weighted random, or
// weighted rendezvous hashing of a caller's key, so a key keeps its instance
// while the set is stable and only the keys of a removed instance move.

import type { Rules } from "./commands.ts";
import type { Instance } from "./store.ts";

export interface Candidate {
  instance: Instance;
  subset: string;
  /** Fraction of the traffic this instance gets (all shares sum to 1). */
  share: number;
}

/** With no rules, every healthy instance is in one subset. */
const DEFAULT_SUBSET = "default";

function matches(instance: Instance, subset: Rules["subsets"][number]): boolean {
  if (subset.tags && !subset.tags.every((tag) => instance.tags.includes(tag))) return false;
  if (subset.meta && !Object.entries(subset.meta).every(([k, v]) => instance.meta[k] === v)) return false;
  return true;
}

/**
 * The candidates among `healthy`, with their shares. A subset with no
 * instance (or only weight 0) gets nothing, and its share goes to the rest:
 * a canary with no healthy v2 sends everything to v1. An instance in two
 * subsets gets both shares.
 */
export function candidates(healthy: readonly Instance[], rules: Rules | null): Candidate[] {
  const subsets = rules?.subsets ?? [{ name: DEFAULT_SUBSET, weight: 1 }];
  const filled = subsets
    .map((subset) => {
      const members = healthy.filter((i) => i.weight > 0 && matches(i, subset));
      return { subset, members, weight: members.reduce((sum, i) => sum + i.weight, 0) };
    })
    .filter((s) => s.weight > 0 && s.subset.weight > 0);
  const total = filled.reduce((sum, s) => sum + s.subset.weight, 0);
  return filled.flatMap((s) => s.members.map((instance) => ({ instance, subset: s.subset.name, share: (s.subset.weight / total) * (instance.weight / s.weight) })));
}

/** Weighted random; `random` in [0, 1). */
export function pickRandom(from: readonly Candidate[], random: number = Math.random()): Candidate | null {
  let point = random;
  for (const c of from) {
    point -= c.share;
    if (point < 0) return c;
  }
  return from.at(-1) ?? null;
}

/**
 * Weighted rendezvous hashing: each candidate scores -share / ln(u), u a hash
 * of (key, subset, instance) in (0, 1); the highest wins. A candidate wins a
 * key with probability equal to its share, and removing one moves only the
 * keys it had.
 */
export function pickByHash(from: readonly Candidate[], key: string): Candidate | null {
  let best: Candidate | null = null;
  let bestScore = Number.NEGATIVE_INFINITY;
  for (const c of from) {
    const u = (hash53(`${key}\u0000${c.subset}\u0000${c.instance.id}`) + 1) / (2 ** 53 + 2);
    const score = -c.share / Math.log(u);
    if (score > bestScore) {
      bestScore = score;
      best = c;
    }
  }
  return best;
}

/** cyrb53: a fast, well-mixed 53-bit string hash, the same on every node and in any client that copies it. */
export function hash53(text: string): number {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 2654435761);
    h2 = Math.imul(h2 ^ ch, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return 4294967296 * (2097151 & h2) + (h1 >>> 0);
}
