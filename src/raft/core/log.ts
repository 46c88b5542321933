// The core's view of the log: every entry after the compaction point, held in
// memory (as etcd's MemoryStorage does). The driver mirrors it on disk from
// Ready.entries; on restart it hands the stored entries back.

import type { Entry } from "./types.ts";

export class RaftLog {
  /** Index just before entries[0]: the compaction point. */
  private offset = 0;
  /** Term of the entry at `offset` (0 when offset is 0). */
  private offsetTerm = 0;
  private entries: Entry[] = [];

  firstIndex(): number {
    return this.offset + 1;
  }

  lastIndex(): number {
    return this.offset + this.entries.length;
  }

  lastTerm(): number {
    return this.term(this.lastIndex()) ?? 0;
  }

  /** Term of the entry at `index`, or undefined when compacted away or beyond the end. */
  term(index: number): number | undefined {
    if (index === this.offset) return this.offsetTerm;
    if (index < this.offset || index > this.lastIndex()) return undefined;
    return this.entries[index - this.offset - 1]!.term;
  }

  entry(index: number): Entry | undefined {
    if (index <= this.offset || index > this.lastIndex()) return undefined;
    return this.entries[index - this.offset - 1];
  }

  /** Entries lo..hi inclusive, capped by count and (after the first entry) by bytes. */
  slice(lo: number, hi: number, maxCount = Infinity, maxBytes = Infinity): Entry[] {
    const out: Entry[] = [];
    let bytes = 0;
    for (let i = Math.max(lo, this.offset + 1); i <= Math.min(hi, this.lastIndex()) && out.length < maxCount; i++) {
      const e = this.entries[i - this.offset - 1]!;
      bytes += e.data.length;
      if (out.length > 0 && bytes > maxBytes) break;
      out.push(e);
    }
    return out;
  }

  /** Appends entries that continue the log exactly (entries[0].index === lastIndex + 1). */
  append(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    if (entries[0]!.index !== this.lastIndex() + 1) {
      throw new Error(`log append out of order: got ${entries[0]!.index}, expected ${this.lastIndex() + 1}`);
    }
    for (const e of entries) this.entries.push(e);
  }

  /** Drops every entry at or after `index`. */
  truncateFrom(index: number): void {
    if (index <= this.offset) throw new Error(`cannot truncate at ${index}: compacted up to ${this.offset}`);
    if (index <= this.lastIndex()) this.entries.length = index - this.offset - 1;
  }

  /** Discards entries up to and including `index` (which must be in the log). */
  compactTo(index: number): void {
    if (index <= this.offset) return;
    const term = this.term(index);
    if (term === undefined) throw new Error(`cannot compact to ${index}: beyond last index ${this.lastIndex()}`);
    this.entries = this.entries.slice(index - this.offset);
    this.offset = index;
    this.offsetTerm = term;
  }

  /** Replaces the whole log with an empty one that starts after (index, term). */
  reset(index: number, term: number): void {
    this.entries = [];
    this.offset = index;
    this.offsetTerm = term;
  }

  /** First index of the run of entries with the same term as `index`, scanning back (for conflict hints). */
  firstIndexOfTerm(index: number): number {
    const term = this.term(index);
    let i = index;
    while (i - 1 > this.offset && this.term(i - 1) === term) i--;
    return i;
  }

  /** Last index <= `from` whose term is `term`, or 0 when there is none in memory. */
  lastIndexOfTerm(term: number, from: number): number {
    for (let i = Math.min(from, this.lastIndex()); i > this.offset; i--) {
      const t = this.term(i)!;
      if (t === term) return i;
      if (t < term) return 0;
    }
    return 0;
  }
}
