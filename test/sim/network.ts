// The simulated network: every message sent waits in one queue with a
// delivery time in virtual ticks; the simulator delivers a random due one at
// a time, so messages are reordered. Faults: loss at send, duplication at
// delivery, and cut links (partitions, including one-way cuts) that drop a
// message when it would be delivered.

import type { Message, NodeId } from "../../src/raft/core/types.ts";
import type { Rng } from "./rng.ts";

export interface Faults {
  /** Probability that a message is lost when sent. */
  loss: number;
  /** Probability that a delivered message stays queued to be delivered again later. */
  duplicate: number;
  /** A message is due after 0..maxDelay ticks. */
  maxDelay: number;
}

export interface InFlight {
  id: number;
  msg: Message;
  due: number;
}

export const reliable: Faults = { loss: 0, duplicate: 0, maxDelay: 1 };

export class SimNetwork {
  private queue: InFlight[] = [];
  /** Cut links, "from>to": a message on one is dropped at delivery. */
  private readonly cut = new Set<string>();
  private nextId = 1;
  sent = 0;
  lost = 0;

  constructor(
    private readonly rng: Rng,
    public faults: Faults,
  ) {}

  get size(): number {
    return this.queue.length;
  }

  /** Queues a copy: a real transport serializes, so no object is shared between sender and receiver. */
  send(msg: Message, now: number): void {
    this.sent++;
    if (this.faults.loss > 0 && this.rng.chance(this.faults.loss)) {
      this.lost++;
      return;
    }
    this.queue.push({ id: this.nextId++, msg: copyMessage(msg), due: now + this.rng.int(this.faults.maxDelay + 1) });
  }

  countDue(now: number): number {
    let n = 0;
    for (const f of this.queue) if (f.due <= now) n++;
    return n;
  }

  /** Removes and returns a random due message (or a copy of it, when it is duplicated). */
  takeDue(now: number, due: number): { flight: InFlight; duplicated: boolean } | undefined {
    if (due === 0) return undefined;
    let k = this.rng.int(due);
    for (let i = 0; i < this.queue.length; i++) {
      const f = this.queue[i]!;
      if (f.due > now || k-- > 0) continue;
      if (this.faults.duplicate > 0 && this.rng.chance(this.faults.duplicate)) {
        const copy = { id: this.nextId++, msg: copyMessage(f.msg), due: now + 1 + this.rng.int(this.faults.maxDelay + 1) };
        this.queue[i] = copy;
        return { flight: f, duplicated: true };
      }
      this.queue.splice(i, 1);
      return { flight: f, duplicated: false };
    }
    return undefined;
  }

  blocked(from: NodeId, to: NodeId): boolean {
    return this.cut.size > 0 && this.cut.has(`${from}>${to}`);
  }

  cutLink(from: NodeId, to: NodeId): void {
    this.cut.add(`${from}>${to}`);
  }

  /** Splits the nodes into groups that cannot talk to each other. */
  partition(groups: NodeId[][]): void {
    for (const a of groups) {
      for (const b of groups) {
        if (a === b) continue;
        for (const x of a) for (const y of b) this.cut.add(`${x}>${y}`);
      }
    }
  }

  get partitioned(): boolean {
    return this.cut.size > 0;
  }

  heal(): void {
    this.cut.clear();
  }
}

/** A structural copy of a message, as if it went through the wire codec. */
export function copyMessage(m: Message): Message {
  switch (m.type) {
    case "append":
      return { ...m, entries: m.entries.map((e) => ({ ...e, data: e.data.slice() })) };
    case "snapshot":
      return { ...m, meta: structuredClone(m.meta), data: m.data.slice() };
    default:
      return { ...m };
  }
}

/** One line per message for the trace. */
export function describe(m: Message): string {
  const head = `${m.type} ${m.from}->${m.to} t${m.term}`;
  switch (m.type) {
    case "vote":
      return `${head}${m.preVote ? " pre" : ""}${m.transfer ? " transfer" : ""} last=${m.lastLogIndex}/${m.lastLogTerm}`;
    case "voteResp":
      return `${head}${m.preVote ? " pre" : ""} ${m.granted ? "granted" : "rejected"}`;
    case "append": {
      const ents = m.entries.length === 0 ? "" : ` ents=${m.entries[0]!.index}..${m.entries[m.entries.length - 1]!.index}`;
      return `${head} prev=${m.prevIndex}/${m.prevTerm}${ents} commit=${m.commit} seq=${m.seq}`;
    }
    case "appendResp":
      return m.success
        ? `${head} ok match=${m.matchIndex} seq=${m.seq}`
        : `${head} reject prev=${m.matchIndex} hint=${m.conflictIndex}/${m.conflictTerm} last=${m.lastIndex} seq=${m.seq}`;
    case "heartbeat":
      return `${head} commit=${m.commit} seq=${m.seq}`;
    case "heartbeatResp":
      return `${head} seq=${m.seq}`;
    case "snapshot":
      return `${head} snap=${m.meta.index}/${m.meta.term} off=${m.offset}+${m.data.length}/${m.size}${m.done ? " done" : ""}`;
    case "snapshotResp":
      return `${head} snap=${m.index} next=${m.nextOffset}${m.installed ? " installed" : ""}${m.accepted ? "" : " refused"}`;
    case "timeoutNow":
      return head;
  }
}
