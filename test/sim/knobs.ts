// Everything a seed decides before the run starts: cluster size, the core's
// tuning (small messages and chunks so flow control and chunked snapshots are
// exercised), how hostile the network is, and how often each event happens.

import type { CoreOptions } from "../../src/raft/core/raft.ts";
import type { Faults } from "./network.ts";
import type { Rng } from "./rng.ts";

export type EventName =
  | "tick"
  | "skewTick"
  | "propose"
  | "readIndex"
  | "leaseRead"
  | "crash"
  | "restart"
  | "partition"
  | "cutLink"
  | "heal"
  | "membership"
  | "transfer"
  | "compact"
  | "campaign";

export interface Knobs {
  initialVoters: number;
  /** Membership churn grows the cluster towards this many voters, and never shrinks it below minVoters. */
  targetVoters: number;
  minVoters: number;
  maxServers: number;
  core: Omit<CoreOptions, "id" | "random">;
  faults: Faults;
  weights: Record<EventName, number>;
  /** Probability that a node crashes right after persisting a delivered message's effects, before answering. */
  tornCrash: number;
  /**
   * Whether a crashed node may restart at once. Lease reads are checked either
   * way: a restarted node refuses votes for an election timeout, so a lease it
   * helped grant before crashing still holds.
   */
  fastRestart: boolean;
  trailing: number[];
}

export function chooseKnobs(rng: Rng, nodes: 3 | 5 | undefined, heavy: boolean): Knobs {
  const initialVoters = nodes ?? (rng.chance(0.6) ? 3 : 5);
  const grow = initialVoters === 3 && rng.chance(0.5);
  const checkQuorum = rng.chance(0.85);
  const fastRestart = rng.chance(0.3);
  const core = {
    electionTicks: 10,
    heartbeatTicks: rng.pick([1, 1, 2, 3]),
    preVote: rng.chance(0.85),
    checkQuorum,
    maxEntriesPerMessage: rng.pick([1, 3, 16, 512]),
    maxBytesPerMessage: rng.pick([64, 1024, 1 << 20]),
    maxInflight: rng.pick([1, 2, 8, 64]),
    snapshotChunkBytes: rng.pick([97, 512, 4096, 1 << 20]),
  };
  const faults: Faults = heavy
    ? { loss: rng.pick([0.05, 0.15, 0.3]), duplicate: rng.pick([0.05, 0.15]), maxDelay: rng.pick([2, 5, 9]) }
    : { loss: rng.pick([0, 0, 0.02, 0.1]), duplicate: rng.pick([0, 0.02, 0.08]), maxDelay: rng.pick([0, 1, 2, 4]) };
  const f = heavy ? 3 : 1;
  return {
    initialVoters,
    targetVoters: grow ? 5 : initialVoters,
    minVoters: rng.pick([1, 2, 3, 3, 3]),
    maxServers: 7,
    core,
    faults,
    weights: {
      tick: 30,
      skewTick: 1,
      propose: 12,
      readIndex: 3,
      leaseRead: 2,
      crash: 1.2 * f,
      restart: 6,
      partition: 1 * f,
      cutLink: 0.4 * f,
      heal: 3,
      membership: rng.pick([0, 1.5, 3]) + (grow ? 2 : 0),
      transfer: 0.6,
      compact: rng.pick([0.5, 2, 5]),
      campaign: 0.2,
    },
    tornCrash: heavy ? 0.004 : 0.001,
    fastRestart,
    trailing: [0, 0, 2, 10],
  };
}

export function describeKnobs(k: Knobs): string {
  const c = k.core;
  return [
    `voters=${k.initialVoters}->${k.targetVoters} min=${k.minVoters}`,
    `hb=${c.heartbeatTicks} preVote=${c.preVote} checkQuorum=${c.checkQuorum}`,
    `maxEntries=${c.maxEntriesPerMessage} maxBytes=${c.maxBytesPerMessage} inflight=${c.maxInflight} chunk=${c.snapshotChunkBytes}`,
    `loss=${k.faults.loss} dup=${k.faults.duplicate} delay<=${k.faults.maxDelay}`,
    `fastRestart=${k.fastRestart} membership=${k.weights.membership} compact=${k.weights.compact}`,
  ].join(" ");
}
