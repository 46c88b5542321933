// A synchronous network of pure cores for stepping the protocol by hand
// (etcd-io/raft's `network`): messages are delivered in order until the
// network is quiet, persisted state is kept per node, and links can be cut.

import { RaftCore, type CoreOptions } from "../../src/raft/core/raft.ts";
import { seededRandom } from "../../src/raft/core/random.ts";
import { EntryType, type Entry, type HardState, type Message, type NodeId, type Snapshot } from "../../src/raft/core/types.ts";

export interface Disk {
  hardState?: HardState;
  snapshot?: Snapshot;
  entries: Entry[];
}

export class CoreNetwork {
  readonly cores = new Map<NodeId, RaftCore>();
  readonly disks = new Map<NodeId, Disk>();
  readonly applied = new Map<NodeId, Entry[]>();
  readonly reads = new Map<NodeId, { id: number; index: number }[]>();
  /** Links that drop everything: "a->b". */
  private cut = new Set<string>();
  /** Every message delivered, for counting. */
  readonly delivered: Message[] = [];
  dropFilter: ((m: Message) => boolean) | undefined;

  constructor(
    ids: NodeId[],
    private readonly options: Partial<CoreOptions> = {},
    seed = 1,
  ) {
    let s = seed;
    for (const id of ids) {
      this.disks.set(id, { entries: [] });
      this.applied.set(id, []);
      this.reads.set(id, []);
      this.cores.set(id, new RaftCore({ id, random: seededRandom(s++), ...options }));
    }
  }

  static bootstrapped(n: number, options: Partial<CoreOptions> = {}, seed = 1): CoreNetwork {
    const ids = Array.from({ length: n }, (_, i) => `n${i + 1}`);
    const net = new CoreNetwork(ids, options, seed);
    const configuration = { servers: ids.map((id) => ({ id, address: id, suffrage: "voter" as const })) };
    for (const c of net.cores.values()) c.bootstrap(configuration);
    net.drain();
    return net;
  }

  core(id: NodeId): RaftCore {
    return this.cores.get(id)!;
  }

  /** Adds a brand-new, empty node (not yet in any configuration). */
  addNode(id: NodeId, seed = 99): RaftCore {
    const core = new RaftCore({ id, random: seededRandom(seed), ...this.options });
    this.cores.set(id, core);
    this.disks.set(id, { entries: [] });
    this.applied.set(id, []);
    this.reads.set(id, []);
    return core;
  }

  /** Processes every node's Ready and delivers messages until nothing moves. */
  drain(maxRounds = 10_000): void {
    for (let round = 0; round < maxRounds; round++) {
      const inFlight: Message[] = [];
      for (const [id, core] of this.cores) {
        if (!core.hasReady()) continue;
        const rd = core.ready();
        const disk = this.disks.get(id)!;
        if (rd.snapshot) {
          disk.snapshot = rd.snapshot;
          disk.entries = [];
          this.applied.set(id, [...this.appliedFromSnapshot(rd.snapshot)]);
        }
        if (rd.entries.length > 0) {
          const first = rd.entries[0]!.index;
          disk.entries = disk.entries.filter((e) => e.index < first).concat(rd.entries);
        }
        if (rd.hardState) disk.hardState = rd.hardState;
        inFlight.push(...rd.messages);
        this.applied.get(id)!.push(...rd.committed);
        this.reads.get(id)!.push(...rd.readStates);
      }
      if (inFlight.length === 0) return;
      for (const m of inFlight) {
        if (this.cut.has(`${m.from}->${m.to}`)) continue;
        if (this.dropFilter?.(m)) continue;
        const to = this.cores.get(m.to);
        if (!to) continue;
        this.delivered.push(m);
        to.step(m);
      }
    }
    throw new Error("network did not settle");
  }

  /** Ticks every node once, then drains. */
  tickAll(times = 1): void {
    for (let i = 0; i < times; i++) {
      for (const c of this.cores.values()) c.tick();
      this.drain();
    }
  }

  /** Ticks until some node is leader; returns its id. */
  elect(maxTicks = 500): NodeId {
    for (let i = 0; i < maxTicks; i++) {
      const leader = this.leader();
      if (leader) return leader;
      this.tickAll();
    }
    throw new Error("no leader elected");
  }

  leader(): NodeId | undefined {
    const leaders = [...this.cores.values()].filter((c) => c.status().role === "Leader");
    // Several nodes may believe they lead in different terms; the highest term is the real one.
    leaders.sort((a, b) => b.term - a.term);
    return leaders[0]?.id;
  }

  isolate(id: NodeId): void {
    for (const other of this.cores.keys()) {
      if (other === id) continue;
      this.cut.add(`${id}->${other}`);
      this.cut.add(`${other}->${id}`);
    }
  }

  cutLink(a: NodeId, b: NodeId): void {
    this.cut.add(`${a}->${b}`);
    this.cut.add(`${b}->${a}`);
  }

  heal(): void {
    this.cut.clear();
  }

  /** Crash: drop the core and everything not on its disk; restart it from the disk. */
  restart(id: NodeId, seed = 7): RaftCore {
    const disk = this.disks.get(id)!;
    const core = new RaftCore({ id, random: seededRandom(seed), ...this.options }, {
      hardState: disk.hardState,
      snapshot: disk.snapshot,
      entries: disk.entries,
    });
    this.cores.set(id, core);
    this.applied.set(id, disk.snapshot ? [...this.appliedFromSnapshot(disk.snapshot)] : []);
    return core;
  }

  /** Commands applied by `id`, as strings, in order. */
  commands(id: NodeId): string[] {
    const dec = new TextDecoder();
    return this.applied
      .get(id)!
      .filter((e) => e.type === EntryType.Command)
      .map((e) => dec.decode(e.data));
  }

  /** The test FSM's snapshot: the JSON list of applied entries. */
  snapshotOf(id: NodeId): Uint8Array {
    return new TextEncoder().encode(JSON.stringify(this.applied.get(id)!.map((e) => ({ ...e, data: [...e.data] }))));
  }

  private appliedFromSnapshot(s: Snapshot): Entry[] {
    const raw = JSON.parse(new TextDecoder().decode(s.data)) as { index: number; term: number; type: EntryType; data: number[] }[];
    return raw.map((e) => ({ ...e, data: new Uint8Array(e.data) }));
  }
}

export const bytes = (s: string) => new TextEncoder().encode(s);
