// The corruption check: finds a node whose fsm.db holds a value that changed
// on its disk, which SQLite cannot see (quick_check checks pages, not values)
// and which would otherwise be served silently. Modelled on etcd's periodic
// corruption check, which compares a hash of the key-value store at one
// revision across members.
//
// Every step goes through the Raft log, so every node decides the same way:
//   1. the leader proposes `_host checkHash {voters}` (every CHECK_INTERVAL_MS,
//      or POST /v1/cluster/check-hash);
//   2. each node, applying it at index N, copies fsm.db as of N and hashes
//      the replicated tables on a worker (src/fsm/state-hash.ts), then
//      proposes `_host hashReport {id, index: N, hash}`;
//   3. once the reports applied hold a majority of `voters` for one hash, a
//      node whose own hash for N differs marks its data directory corrupt
//      (src/storage/corrupt-marker.ts) and stops: it no longer votes or
//      serves, and refuses to start again until the operator rebuilds it.
// A corrupt leader finds itself the odd one out the same way.

import type { HostCheck, PluginHost } from "../fsm/plugin-host.ts";
import type { Proposer } from "../fsm/proposer.ts";
import { HOST_PLUGIN } from "../fsm/host-commands.ts";
import { imageHashInWorker } from "../fsm/state-hash.ts";
import type { Logger } from "../raft/logger.ts";
import type { RaftNode } from "../raft/node.ts";
import { DataCorruptError, markCorrupt } from "../storage/corrupt-marker.ts";

/**
 * How often the leader starts a check. Each check copies fsm.db in memory on
 * every node and hashes it on a worker (100k keys: about 1.5 s of one core on
 * a loaded 2-core machine), so it runs rarely; POST /v1/cluster/check-hash
 * runs one at once. A YAML setting would belong in src/config/schema.ts.
 */
export const CHECK_INTERVAL_MS = 5 * 60_000;

/** Rounds remembered: reports for older checks are ignored. */
const KEPT_ROUNDS = 8;

interface Round {
  voters: number;
  mine?: string;
  reports: Map<string, string>;
  /** The hash a majority of voters reported, once there is one. */
  agreed?: string;
  judged?: boolean;
}

export interface CorruptionCheckOptions {
  id: string;
  dataDir: string;
  fsmFile: string;
  raft: Pick<RaftNode, "state" | "getConfiguration">;
  host: Pick<PluginHost, "onCheck">;
  proposer: Pick<Proposer, "propose">;
  logger: Logger;
  intervalMs?: number;
  /** This node's state differs from the cluster's: it must stop. Called at most once. */
  onCorrupt: (error: DataCorruptError) => void;
}

/** Starts a check now (proposed here, or forwarded to the leader); resolves with the check's index. */
export async function proposeCheck(
  raft: Pick<RaftNode, "getConfiguration">,
  proposer: Pick<Proposer, "propose">,
  timeoutMs?: number,
): Promise<number> {
  const voters = raft.getConfiguration().configuration.servers.filter((s) => s.suffrage === "voter").length;
  const { index } = await proposer.propose(HOST_PLUGIN, "checkHash", { voters }, { timeoutMs });
  return index;
}

export class CorruptionCheck {
  private readonly rounds = new Map<number, Round>();
  private timer: ReturnType<typeof setInterval> | undefined;
  private unsubscribe: (() => void) | undefined;
  private stopped = false;
  private corrupt = false;

  constructor(private readonly o: CorruptionCheckOptions) {}

  start(): void {
    this.unsubscribe = this.o.host.onCheck((check) => this.heard(check));
    // 0: no periodic checks; one still runs when asked (POST /v1/cluster/check-hash) and is still heard.
    if (this.o.intervalMs === 0) return;
    this.timer = setInterval(() => {
      if (this.o.raft.state() !== "Leader") return;
      this.propose().catch((error: unknown) => this.o.logger.warn("could not start a corruption check; the next one runs later", { error: String(error) }));
    }, this.o.intervalMs ?? CHECK_INTERVAL_MS);
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
    this.unsubscribe?.();
  }

  private propose(): Promise<number> {
    return proposeCheck(this.o.raft, this.o.proposer);
  }

  private heard(check: HostCheck): void {
    if (this.stopped) return;
    if (check.kind === "checkHash") {
      const round: Round = { voters: check.voters, reports: new Map() };
      this.rounds.set(check.index, round);
      for (const old of [...this.rounds.keys()].sort((a, b) => a - b).slice(0, -KEPT_ROUNDS)) this.rounds.delete(old);
      imageHashInWorker(check.image)
        .then((hash) => {
          if (this.stopped) return;
          round.mine = hash;
          this.o.proposer
            .propose(HOST_PLUGIN, "hashReport", { id: this.o.id, index: check.index, hash })
            .catch((error: unknown) => this.o.logger.warn("could not report this node's state hash", { index: check.index, error: String(error) }));
          this.judge(check.index, round);
        })
        .catch((error: unknown) => this.o.logger.warn("could not hash this node's state for a corruption check", { index: check.index, error: String(error) }));
      return;
    }
    const { id, index, hash } = check.report;
    const round = this.rounds.get(index);
    // A check from before this node started (or long ago): it has no hash of its own to compare.
    if (!round) return;
    round.reports.set(id, hash);
    if (round.agreed === undefined) {
      const count = [...round.reports.values()].filter((h) => h === hash).length;
      if (count > round.voters / 2) round.agreed = hash;
    }
    if (round.agreed === undefined && round.reports.size >= round.voters && this.o.raft.state() === "Leader") {
      this.o.logger.warn("corruption check: the members' state hashes disagree and no majority holds one; nobody stops", { index, reports: Object.fromEntries(round.reports) });
    }
    if (round.agreed !== undefined && hash !== round.agreed && this.o.raft.state() === "Leader") {
      this.o.logger.warn("corruption check: a member reports a state that differs from the majority's; it stops itself", { index, member: id, hash, agreed: round.agreed });
    }
    this.judge(index, round);
  }

  /** Compares this node's hash with the majority's once both are known. */
  private judge(index: number, round: Round): void {
    if (round.mine === undefined || round.agreed === undefined || this.corrupt || this.stopped) return;
    if (round.mine !== round.agreed) {
      this.corrupt = true;
      const detail =
        `${this.o.fsmFile} differs from the cluster: its state hash at index ${index} is ${round.mine}, ` +
        `but a majority of the ${round.voters} voters have ${round.agreed} (a value changed on this node's disk)`;
      markCorrupt(this.o.dataDir, detail);
      this.o.onCorrupt(new DataCorruptError(this.o.dataDir, detail));
      return;
    }
    if (!round.judged) {
      round.judged = true;
      this.o.logger.info("corruption check: this node's state matches the majority's", { index, hash: round.mine });
    }
  }
}
